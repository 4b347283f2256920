"""The IVR's turns as Twilio TwiML, built with the ``twilio`` library's VoiceResponse."""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, Enqueue, Gather, VoiceResponse

from careline.telephony import ivr

PREFIX = "/telephony/twilio"
VOICE_LANGUAGE = {"en": "en-US", "es": "es-MX"}
SILENCE_SECONDS = 10  # hold without music: the wait URL is fetched again after it
DIAL_TIMEOUT_SECONDS = 20


def render(turn: ivr.Turn, *, base: str, hold_music: str | None = None) -> str:
    """TwiML for ``turn``; ``base`` is the public origin, so every URL Twilio follows is absolute."""
    response = VoiceResponse()
    for index, verb in enumerate(turn):
        last = index == len(turn) - 1
        if isinstance(verb, ivr.Say):
            response.say(verb.text, language=VOICE_LANGUAGE.get(verb.language, "en-US"))
        elif isinstance(verb, ivr.Ask):
            response.append(_gather(verb, base))
            if last:  # no key pressed: ask again through the same answer URL, which counts the silence
                response.redirect(f"{base}{PREFIX}/gather/{verb.stage}", method="POST")
        elif isinstance(verb, ivr.WaitInLine):
            response.append(
                Enqueue(
                    verb.queue,
                    wait_url=f"{base}{PREFIX}/wait",
                    wait_url_method="POST",
                    action=f"{base}{PREFIX}/left-line",
                    method="POST",
                )
            )
        elif isinstance(verb, ivr.Record):
            response.record(
                action=f"{base}{PREFIX}/voicemail",
                method="POST",
                max_length=verb.max_seconds,
                finish_on_key="#",
                play_beep=True,
            )
        elif isinstance(verb, ivr.Connect):
            response.append(_dial(verb, base))
        elif isinstance(verb, ivr.HoldMusic | ivr.OnHold):
            _music(response, verb, base, hold_music)
        else:
            response.hangup()
    return str(response)


def _music(response: VoiceResponse, verb: ivr.HoldMusic | ivr.OnHold, base: str, hold_music: str | None) -> None:
    if hold_music:
        response.play(hold_music)
    else:
        response.pause(length=SILENCE_SECONDS)
    if isinstance(verb, ivr.OnHold):  # on hold, the caller hears the music again until the agent resumes
        response.redirect(f"{base}{PREFIX}/hold/{verb.call_id}", method="POST")


def _gather(ask: ivr.Ask, base: str) -> Gather:
    gather = Gather(
        num_digits=ask.digits,
        action=f"{base}{PREFIX}/gather/{ask.stage}",
        method="POST",
        timeout=ask.timeout_seconds,
        finish_on_key="#",
        action_on_empty_result=False,
    )
    for prompt in ask.prompts:
        gather.say(prompt.text, language=VOICE_LANGUAGE.get(prompt.language, "en-US"))
    return gather


def _dial(connect: ivr.Connect, base: str) -> Dial:
    options: dict[str, object] = {
        "action": f"{base}{PREFIX}/dial-ended",
        "method": "POST",
        "timeout": DIAL_TIMEOUT_SECONDS,
    }
    if connect.record:
        options |= {
            "record": "record-from-answer-dual",
            "recording_status_callback": f"{base}{PREFIX}/recording",
            "recording_status_callback_method": "POST",
        }
    dial = Dial(**options)
    if connect.number:
        dial.number(connect.number)
    else:
        dial.client(connect.client or "")
    return dial
