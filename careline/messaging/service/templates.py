"""Message templates: per kind, channel and language, edited by admins, rendered in Jinja2's sandbox.

Careline ships a default for every kind it sends itself; an admin's saved template replaces it. A template
in the patient's language is used when there is one, English otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork
from careline.messaging import repository, rules
from careline.messaging.errors import InvalidMessage
from careline.messaging.models import MessageTemplate
from careline.messaging.schemas import Preview, TemplateIn, TemplateRead
from careline.settings import Settings

FALLBACK_LANGUAGE = "en"
DEFAULTS: Mapping[tuple[str, str, str], tuple[str | None, str]] = {
    ("opt_out_confirmation", "sms", "en"): (None, "{{ center_name }}: You are unsubscribed and will get no more "
                                                  "texts from us. Reply START to subscribe again."),
    ("opt_out_confirmation", "sms", "es"): (None, "{{ center_name }}: Se ha dado de baja y no recibirá más "
                                                  "mensajes. Responda START para volver a suscribirse."),
    ("opt_in_confirmation", "sms", "en"): (None, "{{ center_name }}: You will get texts from us again. Reply HELP "
                                                 "for help, STOP to stop. Msg & data rates may apply."),
    ("opt_in_confirmation", "sms", "es"): (None, "{{ center_name }}: Volverá a recibir mensajes. Responda HELP "
                                                 "para ayuda, STOP para dejar de recibirlos."),
    ("help", "sms", "en"): (None, "{{ center_name }}: For help call {{ help_line }}. Reply STOP to stop texts. "
                                  "In an emergency, call 911."),
    ("help", "sms", "es"): (None, "{{ center_name }}: Para ayuda llame al {{ help_line }}. Responda STOP para no "
                                  "recibir mensajes. En una emergencia, llame al 911."),
    ("chat_transcript", "email", "en"): ("Your chat with {{ center_name }}",
                                         "Hello,\n\nHere is the chat you asked us to send.\n\n{{ transcript }}\n\n"
                                         "{{ center_name }}"),
    ("chat_transcript", "email", "es"): ("Su chat con {{ center_name }}",
                                         "Hola:\n\nAquí está el chat que nos pidió.\n\n{{ transcript }}\n\n"
                                         "{{ center_name }}"),
}
KINDS = tuple(sorted({kind for kind, _, _ in DEFAULTS}))


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str | None
    body: str


def common_values(settings: Settings) -> dict[str, Any]:
    """What every template may use besides its own fields."""
    return {"center_name": settings.center_name,
            "help_line": settings.center_phone or settings.sms_sender or "our main number"}


def source_of(uow: UnitOfWork, kind: str, channel: str, language: str) -> tuple[str | None, str]:
    for wanted in dict.fromkeys((language, FALLBACK_LANGUAGE)):
        saved = repository.template(uow.session, kind, channel, wanted)
        if saved is not None:
            return saved.subject, saved.body
        if (kind, channel, wanted) in DEFAULTS:
            return DEFAULTS[(kind, channel, wanted)]
    raise InvalidMessage("kind", f"There is no {channel} template for {kind!r}.")


def render(uow: UnitOfWork, settings: Settings, kind: str, channel: str, language: str,
           values: Mapping[str, Any]) -> Rendered:
    subject, body = source_of(uow, kind, channel, language)
    everything = {**common_values(settings), **values}
    try:
        return Rendered(subject=rules.render(subject, everything) if subject else None,
                        body=rules.render(body, everything))
    except rules.TemplateProblem as error:
        raise InvalidMessage("body", f"The {kind} template cannot be used: {error}") from error


def all_templates(uow: UnitOfWork) -> list[TemplateRead]:
    """Every kind in every language: the saved ones, and the defaults not yet replaced."""
    saved = {(row.kind, row.channel, row.language): row for row in repository.templates(uow.session)}
    keys = sorted(set(saved) | set(DEFAULTS))
    return [_read(key, saved.get(key)) for key in keys]


def _read(key: tuple[str, str, str], row: MessageTemplate | None) -> TemplateRead:
    kind, channel, language = key
    subject, body = (row.subject, row.body) if row else DEFAULTS[key]
    flags = _flags(channel, subject, body)
    return TemplateRead(kind=kind, channel=channel, language=language, subject=subject, body=body,
                        customised=row is not None, phi_fields=flags,
                        updated_by=row.updated_by if row else None, updated_at=row.updated_at if row else None)


def _flags(channel: str, subject: str | None, body: str) -> list[str]:
    try:
        return rules.phi_in(channel, [source for source in (subject, body) if source])
    except rules.TemplateProblem:
        return []


def preview(uow: UnitOfWork, settings: Settings, data: TemplateIn) -> Preview:
    """Render with sample values; problems and PHI fields are reported, not raised, so the editor shows them."""
    values = {**rules.SAMPLE_VALUES, **common_values(settings)}
    sources = [source for source in (data.subject, data.body) if source]
    try:
        phi = rules.phi_in(data.channel, sources)
        sample = {name: values.get(name, f"[{name}]") for source in sources for name in rules.variables_of(source)}
        subject = rules.render(data.subject, {**values, **sample}) if data.subject else None
        body = rules.render(data.body, {**values, **sample})
    except rules.TemplateProblem as error:
        return Preview(subject=None, body="", problem=str(error), phi_fields=[], segments=0)
    return Preview(subject=subject, body=body, problem=None, phi_fields=phi,
                   segments=-(-len(body) // rules.SMS_SEGMENT) if data.channel == rules.Channel.sms else 0)


def save(uow: UnitOfWork, actor: Actor, settings: Settings, data: TemplateIn) -> TemplateRead:
    """Save a template. One that does not parse is refused; PHI in an SMS template needs ``allow_phi``."""
    shown = preview(uow, settings, data)
    if shown.problem:
        raise InvalidMessage("body", shown.problem)
    if shown.phi_fields and not data.allow_phi:
        raise InvalidMessage("body", "Texts carry the minimum: this template uses "
                                     f"{', '.join(shown.phi_fields)}. Remove them, or confirm the patients opted in.")
    row = repository.template(uow.session, data.kind, data.channel, data.language)
    if row is None:
        row = MessageTemplate(kind=data.kind, channel=data.channel, language=data.language, body=data.body)
        repository.add(uow.session, row)
    row.subject, row.body, row.updated_by = data.subject, data.body, actor.username
    uow.session.flush()
    audit.record(uow, actor, "message_template.saved", subject_type="message_template", subject_id=row.id,
                 details={"kind": data.kind, "channel": data.channel, "language": data.language})
    return _read((row.kind, row.channel, row.language), row)
