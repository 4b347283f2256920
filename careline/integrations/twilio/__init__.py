"""Twilio: request signatures, REST call control and softphone access tokens, through the ``twilio`` library."""
