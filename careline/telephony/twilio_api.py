"""Twilio Programmable Voice webhooks: the incoming call, the IVR's answers, the wait in line, status callbacks.

Every request must carry a valid ``X-Twilio-Signature`` for the public URL it was sent to (``careline.web.twilio``);
anything else gets 403 and records nothing. Twilio retries: every handler is idempotent on the CallSid and the
call's stage.
"""

from __future__ import annotations

from uuid import UUID

import structlog
from fastapi import APIRouter, Request, Response

from careline.settings import Settings
from careline.telephony import ivr, twiml
from careline.telephony.errors import UnknownCall
from careline.telephony.service import calls
from careline.web.deps import PatientRules, Public, Uow
from careline.web.twilio import Signed, TwilioRequest

router = APIRouter(prefix="/telephony/twilio", tags=["telephony"], include_in_schema=False)
PROVIDER = "twilio"
log = structlog.get_logger(__name__)


def _twiml(request: Request, signed_request: TwilioRequest, turn: ivr.Turn) -> Response:
    settings: Settings = request.app.state.settings
    return Response(
        twiml.render(turn, base=signed_request.base, hold_music=settings.hold_music_url), media_type="text/xml"
    )


def _gone(request: Request, signed_request: TwilioRequest) -> Response:
    """A request for a call we never saw: end it politely and record nothing."""
    log.warning("telephony.unknown_call", path=request.url.path)
    return _twiml(request, signed_request, (ivr.HangUp(),))


@router.post("/voice")
def incoming_call(request: Request, twilio: Signed, uow: Uow, policy: PatientRules, _: Public) -> Response:
    arrival = calls.Arrival(PROVIDER, twilio.sid, twilio.params.get("From"), twilio.params.get("To"))
    return _twiml(request, twilio, calls.incoming(uow, policy, arrival))


@router.post("/gather/{stage}")
def keys_pressed(stage: str, request: Request, twilio: Signed, uow: Uow, policy: PatientRules, _: Public) -> Response:
    try:
        turn = calls.answer(uow, policy, PROVIDER, twilio.sid, stage, twilio.params.get("Digits", ""))
    except UnknownCall:
        return _gone(request, twilio)
    return _twiml(request, twilio, turn)


@router.post("/wait")
def waiting_in_line(request: Request, twilio: Signed, uow: Uow, _: Public) -> Response:
    try:
        return _twiml(request, twilio, calls.in_line(uow, PROVIDER, twilio.sid))
    except UnknownCall:
        return _gone(request, twilio)


@router.post("/left-line")
def left_line(request: Request, twilio: Signed, _: Public) -> Response:
    """The caller left Twilio's queue: hung up (the status callback says so), or left for a callback."""
    return _twiml(request, twilio, (ivr.HangUp(),))


@router.post("/voicemail")
def voicemail(request: Request, twilio: Signed, uow: Uow, policy: PatientRules, _: Public) -> Response:
    seconds = int(twilio.params.get("RecordingDuration", "0") or 0)
    try:
        turn = calls.take_voicemail(
            uow, policy, PROVIDER, twilio.sid, recording_url=twilio.params.get("RecordingUrl"), seconds=seconds
        )
    except UnknownCall:
        return _gone(request, twilio)
    return _twiml(request, twilio, turn)


@router.post("/recording", status_code=204)
def recording_ready(twilio: Signed, uow: Uow, _: Public) -> None:
    if twilio.params.get("RecordingStatus", "completed") == "completed" and twilio.params.get("RecordingUrl"):
        calls.keep_recording(uow, PROVIDER, twilio.sid, recording_url=twilio.params["RecordingUrl"])


@router.post("/voice/status", status_code=204)
def call_status(twilio: Signed, uow: Uow, _: Public, call: UUID | None = None) -> None:
    calls.status_changed(uow, PROVIDER, twilio.sid, twilio.params.get("CallStatus", ""), at=twilio.at(), call_id=call)


@router.post("/connect/{call_id}")
def connect_to_agent(call_id: UUID, request: Request, twilio: Signed, uow: Uow, _: Public) -> Response:
    settings: Settings = request.app.state.settings
    return _twiml(request, twilio, calls.connect_turn(uow, call_id, record=settings.record_calls, sid=twilio.sid))


@router.post("/hold/{call_id}")
def on_hold(call_id: UUID, request: Request, twilio: Signed, uow: Uow, _: Public) -> Response:
    settings: Settings = request.app.state.settings
    return _twiml(request, twilio, calls.hold_turn(uow, call_id, record=settings.record_calls))


@router.post("/line/{call_id}")
def back_in_line(call_id: UUID, request: Request, twilio: Signed, uow: Uow, _: Public) -> Response:
    return _twiml(request, twilio, calls.back_in_line(uow, call_id))


@router.post("/dial-ended")
def dial_ended(request: Request, twilio: Signed, uow: Uow, _: Public) -> Response:
    try:
        turn = calls.dial_ended(uow, PROVIDER, twilio.sid, twilio.params.get("DialCallStatus", ""))
    except UnknownCall:
        return _gone(request, twilio)
    return _twiml(request, twilio, turn)
