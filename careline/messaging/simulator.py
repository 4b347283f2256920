"""The simulated phone: a patient's texts to the center's number through the very function Twilio's SMS webhook
calls (``threads.receive``), and the texts that phone got back, which are the local sink's messages to its number.

It works only while texts go to the local sink: with a real provider configured, a simulated text would start a
real conversation that no phone is at the end of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from uuid import UUID, uuid4

from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.integrations import sink
from careline.messaging import repository
from careline.messaging.errors import InvalidMessage, NotConfigured
from careline.messaging.models import Message
from careline.messaging.rules import Channel
from careline.messaging.schemas import ReplyIn
from careline.messaging.service import chat, threads
from careline.patients.errors import InvalidPhone
from careline.patients.policy import PatientPolicy
from careline.patients.service import lookup
from careline.routing import demo as routing_demo
from careline.routing.schemas import RequeueIn
from careline.routing.service import interactions
from careline.routing.service import setup as routing_setup
from careline.settings import Settings
from careline.telephony.demo import DEMO_NUMBER

PHONE_ACTOR = Actor(username="simulated-phone", role=None, route="simulated phone")
PROVIDER_PREFIX = "SIM"  # a simulated text's MessageSid: SIM and 31 hex digits, as long as Twilio's SM…
SCREEN_LINES = 50
DEMO_PATIENTS = 8  # numbers offered to pick from


@dataclass(frozen=True, slots=True)
class PhoneLine:
    """One text as the phone shows it: ``sent`` by the phone's owner, or received from the center."""

    sent: bool
    body: str
    at: datetime


def check_enabled(settings: Settings) -> None:
    if settings.sms_provider != "sink":
        raise NotConfigured("The simulated phone works only while texts go to the local sink "
                            "(CARELINE_SMS_PROVIDER=sink).")


def number_of(policy: PatientPolicy, typed: str) -> str:
    """The number as the provider would give it (E.164), or InvalidMessage saying what to type."""
    try:
        return lookup.e164(policy, typed)
    except InvalidPhone as error:
        raise InvalidMessage("number", "Type a phone number, like +16175550123.") from error


def text(uow: UnitOfWork, policy: PatientPolicy, settings: Settings, *, number: str, body: str,
         now: datetime | None = None) -> Message:
    """The phone at ``number`` texts the center's number: kept in its thread and routed to an agent, or read
    as STOP, START or HELP, exactly as a text arriving by Twilio's webhook."""
    check_enabled(settings)
    if not body.strip():
        raise InvalidMessage("body", "Write the text to send.")
    now = now or utcnow()
    inbound = threads.Inbound(channel=Channel.sms, address=number_of(policy, number), body=body.strip(),
                              provider_id=f"{PROVIDER_PREFIX}{uuid4().hex[:31]}", center_address=DEMO_NUMBER)
    message = threads.receive(uow, policy, settings, inbound, now=now)
    _to_the_demos_people(uow, threads.contact_of(uow, message.conversation_id), now)
    return message


def _to_the_demos_people(uow: UnitOfWork, contact_id: UUID | None, now: datetime) -> None:
    """A person trying the demo texts to see their own desktop get it: in the demo, the text waits for them in
    a queue the simulated agents cannot take, rather than going to whichever simulated agent is idle."""
    if contact_id is None or not routing_setup.queue_exists(uow, routing_demo.PHONE_QUEUE):
        return
    contact = interactions.get(uow, contact_id)
    if contact.status == "queued" and contact.queue != routing_demo.PHONE_QUEUE:
        interactions.requeue(uow, PHONE_ACTOR, contact_id, RequeueIn(queue=routing_demo.PHONE_QUEUE), now=now)


def screen(uow: UnitOfWork, policy: PatientPolicy, number: str, *, limit: int = SCREEN_LINES) -> list[PhoneLine]:
    """What the phone at ``number`` shows, oldest first: its own texts and the ones the sink took for it."""
    address = number_of(policy, number)
    mine: list[PhoneLine] = []
    conversation = repository.latest_on(uow.session, Channel.sms, address)
    if conversation is not None:
        mine = [PhoneLine(True, row.body, row.created_at)
                for row in repository.thread(uow.session, conversation.id, limit=limit) if row.direction == "inbound"]
    got = [PhoneLine(False, row.body, row.at) for row in sink.recent(uow.session, channel=Channel.sms, to=address,
                                                                      limit=limit)]
    return sorted(mine + got, key=lambda line: line.at)[-limit:]


def demo_numbers(uow: UnitOfWork, actor: Actor, policy: PatientPolicy) -> list[str]:
    """A few patients' numbers to text from, each one patient's own, so the agent's screen pops that record."""
    sample = dict.fromkeys(lookup.sample_phone_numbers(uow, actor, limit=DEMO_PATIENTS * 5))
    return [number for number in sample if len(lookup.ids_on_number(uow, policy, number)) == 1][:DEMO_PATIENTS]


# What simulated patients write first, and what simulated agents answer, by the contact's reason.
OPENINGS = {
    "appointment": ("Hi, can I book an appointment next week?", "Hola, ¿puedo pedir una cita la próxima semana?"),
    "test_request": ("I need to schedule my lab test.", "Necesito programar mi análisis."),
    "prescription": ("Could you refill my prescription?", "¿Pueden renovar mi receta?"),
    "billing": ("I have a question about my bill.", "Tengo una pregunta sobre mi factura."),
    "nurse_advice": ("Can a nurse call me back today?", "¿Puede llamarme una enfermera hoy?"),
    "other": ("Hello, I have a question.", "Hola, tengo una pregunta."),
}
ANSWERS = ("Thanks for writing. Let me look into that for you.", "Gracias por escribir. Lo reviso ahora mismo.")
SUBJECTS = ("A question for the clinic", "Una pregunta para la clínica")
TEXT_CHANNELS: frozenset[str] = frozenset({Channel.sms.value, Channel.email.value, Channel.chat.value})
MAIL_DOMAIN = "simulated.careline.invalid"  # a simulated e-mail's Message-ID: <SIM…@simulated.careline.invalid>


def write(uow: UnitOfWork, policy: PatientPolicy, settings: Settings, *, channel: str, address: str | None,
          reason: str, language: str, now: datetime) -> UUID | None:
    """A simulated patient writes to the center (``careline simulate``, the demo's traffic): a text from their
    number, an e-mail from their address or a chat, through the same functions the provider's webhook, the SMTP
    listener and the widget use. Returns the contact it queued or joined. Texts and e-mails only while they are
    answered to the local sink."""
    spanish = language == "es"
    body = OPENINGS.get(reason, OPENINGS["other"])[spanish]
    if channel == Channel.chat:
        token, conversation_id = chat.start(uow, language if language in ("en", "es") else "en", now=now)
        chat.say(uow, policy, settings, token, body, now=now)
        return threads.contact_of(uow, conversation_id)
    if address is None or not _answered_to_the_sink(settings, channel):
        return None  # a real provider is set up: a simulated patient must never be answered for real
    simulated_id = f"{PROVIDER_PREFIX}{uuid4().hex[:31]}"
    if channel == Channel.sms:
        inbound = threads.Inbound(channel=Channel.sms, address=address, body=body, center_address=DEMO_NUMBER,
                                  provider_id=simulated_id)
    else:
        inbound = threads.Inbound(channel=Channel.email, address=address, body=body, subject=SUBJECTS[spanish],
                                  center_address=parseaddr(settings.email_from)[1],
                                  provider_id=f"<{simulated_id}@{MAIL_DOMAIN}>")
    return threads.contact_of(uow, threads.receive(uow, policy, settings, inbound, now=now).conversation_id)


def _answered_to_the_sink(settings: Settings, channel: str) -> bool:
    if channel == Channel.sms:
        return settings.sms_provider == "sink"
    return channel == Channel.email and settings.email_provider == "sink"


def answer(uow: UnitOfWork, actor: Actor, settings: Settings, contact_id: UUID, *, language: str,
           now: datetime) -> None:
    """A simulated agent's first reply on a written contact (to the sink: see ``write``)."""
    threads.reply(uow, actor, settings, contact_id, ReplyIn(body=ANSWERS[language == "es"]), now=now)
