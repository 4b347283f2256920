"""The IVR as pure rules: what a caller hears at each stage, and where each key press leads. No I/O.

A turn is a short list of verbs (say, ask for digits, wait in line, record, connect, hang up) that any
provider can play: Twilio's TwiML is one rendering (``twiml.py``), the simulator is another. Nothing here
speaks a patient's details: until an agent has verified the caller, the caller only hears the center.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from careline.routing.rules import Reason
from careline.telephony.schemas import IvrConfig, MenuOption

MAX_TRIES = 3  # unusable answers before the IVR picks for the caller (the operator, the first language)
BIRTH_DATE_DIGITS = 8  # MMDDYYYY
VOICEMAIL_SECONDS = 120


class Stage(enum.StrEnum):
    start = "start"
    language = "language"
    menu = "menu"
    identify = "identify"
    waiting = "waiting"  # in line for an agent
    connected = "connected"
    held = "held"  # the agent put the caller on hold: music until they resume
    dialing = "dialing"  # an outbound call, ringing the patient
    after_hours = "after_hours"  # offered a callback after hours
    voicemail = "voicemail"
    callback = "callback"  # left the line, to be called back
    ended = "ended"


REASON_OF_OPTION = {
    "appointments": Reason.appointment,
    "tests": Reason.test_request,
    "prescriptions": Reason.prescription,
    "billing": Reason.billing,
    "nurse": Reason.nurse_advice,
    "operator": Reason.other,
}

PROMPTS: dict[str, dict[str, str]] = {
    "en": {
        "urgent": "If you are having a medical emergency, such as chest pain or trouble breathing, "
        "hang up and dial 9 1 1 now.",
        "choose_language": "For English, press {digit}.",
        "appointments": "For appointments, press {digit}.",
        "tests": "For tests and results, press {digit}.",
        "prescriptions": "For prescriptions, press {digit}.",
        "billing": "For billing, press {digit}.",
        "nurse": "To speak with a nurse, press {digit}.",
        "operator": "For anything else, press {digit}.",
        "not_an_option": "Sorry, that is not one of the choices.",
        "identify": "To help us find your record faster, enter your date of birth as month, day and year, "
        "eight digits. Or press the pound key to skip.",
        "thanks": "Thank you.",
        "position": "You are number {position} in line.",
        "expected_wait": "The expected wait is about {minutes} minutes.",
        "offer_callback": "To be called back instead, without losing your place, press 1.",
        "callback_confirmed": "Thank you. We will call you back at this number and you keep your place in line. "
        "Goodbye.",
        "no_callback_number": "Sorry, your number is hidden, so we cannot call you back. Please stay on the line.",
        "after_hours": "Our center is closed now.",
        "leave_message": "Please leave a message with your name and the best number to reach you after the tone. "
        "Press the pound key when you are done.",
        "message_taken": "Thank you. We will call you back when we open. Goodbye.",
        "offer_after_hours_callback": "To be called back when we open, press 1. Otherwise, please call again "
        "during our opening hours.",
        "goodbye": "Goodbye.",
        "recorded": "This call may be recorded for quality and training.",
        "connecting": "Connecting you now.",
        "please_hold": "Please hold.",
        "no_agent": "Sorry, we could not connect you. You are back in line.",
    },
    "es": {
        "urgent": "Si tiene una emergencia médica, como dolor de pecho o dificultad para respirar, "
        "cuelgue y marque el 9 1 1 ahora.",
        "choose_language": "Para español, oprima {digit}.",
        "appointments": "Para citas, oprima {digit}.",
        "tests": "Para pruebas y resultados, oprima {digit}.",
        "prescriptions": "Para recetas, oprima {digit}.",
        "billing": "Para facturación, oprima {digit}.",
        "nurse": "Para hablar con una enfermera, oprima {digit}.",
        "operator": "Para cualquier otra cosa, oprima {digit}.",
        "not_an_option": "Lo sentimos, esa no es una de las opciones.",
        "identify": "Para encontrar su expediente más rápido, marque su fecha de nacimiento: mes, día y año, "
        "ocho dígitos. O oprima la tecla numeral para omitir.",
        "thanks": "Gracias.",
        "position": "Usted es el número {position} en la fila.",
        "expected_wait": "El tiempo de espera es de unos {minutes} minutos.",
        "offer_callback": "Para que le devolvamos la llamada sin perder su lugar, oprima 1.",
        "callback_confirmed": "Gracias. Le devolveremos la llamada a este número y conserva su lugar en la fila. "
        "Adiós.",
        "no_callback_number": "Lo sentimos, su número está oculto y no podemos devolverle la llamada. "
        "Por favor, permanezca en la línea.",
        "after_hours": "Nuestro centro está cerrado ahora.",
        "leave_message": "Deje un mensaje con su nombre y el mejor número para comunicarnos con usted después "
        "del tono. Oprima la tecla numeral al terminar.",
        "message_taken": "Gracias. Le devolveremos la llamada cuando abramos. Adiós.",
        "offer_after_hours_callback": "Para que le llamemos cuando abramos, oprima 1. Si no, llame de nuevo "
        "en nuestro horario.",
        "goodbye": "Adiós.",
        "recorded": "Esta llamada puede ser grabada para fines de calidad y capacitación.",
        "connecting": "Le estamos comunicando.",
        "please_hold": "Por favor, espere.",
        "no_agent": "Lo sentimos, no pudimos comunicarle. Vuelve a estar en la fila.",
    },
}


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    language: str


@dataclass(frozen=True, slots=True)
class Ask:
    """Say the prompts and collect up to ``digits`` key presses, answered at ``stage``."""

    stage: Stage
    digits: int
    prompts: tuple[Say, ...]
    timeout_seconds: int = 6


@dataclass(frozen=True, slots=True)
class WaitInLine:
    queue: str


@dataclass(frozen=True, slots=True)
class Record:
    max_seconds: int = VOICEMAIL_SECONDS


@dataclass(frozen=True, slots=True)
class Connect:
    """Bridge the caller to an agent: a softphone ``client`` identity, or a phone ``number``."""

    client: str | None = None
    number: str | None = None
    record: bool = False


@dataclass(frozen=True, slots=True)
class HangUp:
    pass


@dataclass(frozen=True, slots=True)
class HoldMusic:
    pass


@dataclass(frozen=True, slots=True)
class OnHold:
    """Music (or silence) until the agent resumes; the provider asks again for ``call_id``'s next turn."""

    call_id: str


Verb = Say | Ask | WaitInLine | Record | Connect | HangUp | HoldMusic | OnHold
Turn = tuple[Verb, ...]


def say(language: str, key: str, **values: object) -> Say:
    return Say(PROMPTS[language][key].format(**values), language)


def opening(config: IvrConfig, *, is_open: bool) -> Turn:
    """The first words: the emergency notice before anything else, then the language choice or the menu.

    The notice is said in every language the number speaks, since the caller has not chosen one yet. It is not
    optional: a caller with chest pain must hear it before any menu.
    """
    notice = tuple(say(language, "urgent") for language in config.languages)
    first = config.languages[0]
    if not is_open:
        return notice + after_hours(config, first)
    if len(config.languages) > 1:
        return (*notice, language_choice(config))
    return (*notice, Say(config.greeting.get(first, ""), first), *menu(config, first))


def language_choice(config: IvrConfig) -> Ask:
    greeting = tuple(Say(config.greeting[lang], lang) for lang in config.languages if config.greeting.get(lang))
    choices = tuple(say(lang, "choose_language", digit=index + 1) for index, lang in enumerate(config.languages))
    return Ask(Stage.language, 1, greeting + choices)


def chosen_language(config: IvrConfig, digits: str) -> str | None:
    if digits.isdigit() and 1 <= int(digits) <= len(config.languages):
        return config.languages[int(digits) - 1]
    return None


def menu(config: IvrConfig, language: str, *, after_mistake: bool = False) -> Turn:
    sorry = (say(language, "not_an_option"),) if after_mistake else ()
    # 0 is said last, as callers expect the operator at the end.
    ordered = sorted(config.menu, key=lambda item: (item.digit == "0", item.digit))
    return (Ask(Stage.menu, 1, sorry + tuple(say(language, item.option, digit=item.digit) for item in ordered)),)


def chosen_option(config: IvrConfig, digits: str) -> MenuOption | None:
    return next((item for item in config.menu if item.digit == digits), None)


def option_named(config: IvrConfig, name: str | None) -> MenuOption | None:
    return next((item for item in config.menu if item.option == name), None)


def fallback_option(config: IvrConfig) -> MenuOption:
    """Where a caller goes who cannot or will not choose: the operator, or else the first option."""
    return next((item for item in config.menu if item.option == "operator"), config.menu[0])


def identify(language: str) -> Turn:
    return (Ask(Stage.identify, BIRTH_DATE_DIGITS, (say(language, "identify"),), timeout_seconds=10),)


def birth_date_of(digits: str) -> date | None:
    """MMDDYYYY as keyed; None for anything else (a skip, a short entry, a 13th month)."""
    if len(digits) != BIRTH_DATE_DIGITS or not digits.isdigit():
        return None
    try:
        return date(int(digits[4:]), int(digits[:2]), int(digits[2:4]))
    except ValueError:
        return None


def in_line(language: str, *, position: int | None, expected_seconds: float | None, can_call_back: bool) -> Turn:
    """What a waiting caller hears each time round: place in line, the expected wait, the callback offer."""
    spoken: list[Say] = []
    if position:
        spoken.append(say(language, "position", position=position))
    if expected_seconds and expected_seconds >= 60:
        spoken.append(say(language, "expected_wait", minutes=round(expected_seconds / 60)))
    if can_call_back:
        return (Ask(Stage.waiting, 1, (*spoken, say(language, "offer_callback")), timeout_seconds=3), HoldMusic())
    return (*spoken, HoldMusic())


def after_hours(config: IvrConfig, language: str) -> Turn:
    """Closed: said in every language of the number (the caller's own first), since none was chosen yet."""
    languages = [language, *(other for other in config.languages if other != language)]
    if config.after_hours == "voicemail":
        spoken = tuple(line for lang in languages for line in (say(lang, "after_hours"), say(lang, "leave_message")))
        return (*spoken, Record())
    spoken = tuple(line for lang in languages
                   for line in (say(lang, "after_hours"), say(lang, "offer_after_hours_callback")))
    return (Ask(Stage.after_hours, 1, spoken), *(say(lang, "goodbye") for lang in languages), HangUp())


def goodbye(language: str, key: str = "goodbye") -> Turn:
    return (say(language, key), HangUp())


def connect(language: str, *, client: str | None, number: str | None, record: bool) -> Turn:
    """The announcement comes before the bridge, so a recording (from the answer on) never precedes it."""
    first = say(language, "recorded") if record else say(language, "connecting")
    return (first, Connect(client=client, number=number, record=record))
