"""Access tokens for the agent's browser softphone (Twilio Voice JS SDK)."""

from __future__ import annotations

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

TOKEN_SECONDS = 3600


def softphone_token(
    *, account_sid: str, api_key_sid: str, api_key_secret: str, identity: str, twiml_app_sid: str | None
) -> str:
    """A token that lets the browser receive calls as ``identity`` (and place them through the TwiML app)."""
    token = AccessToken(account_sid, api_key_sid, api_key_secret, identity=identity, ttl=TOKEN_SECONDS)
    token.add_grant(VoiceGrant(incoming_allow=True, outgoing_application_sid=twiml_app_sid))
    return str(token.to_jwt())
