"""Messaging storage: threads by address, messages by provider id, opt-out state, templates, rate windows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from careline.db.upsert import insert_into
from careline.messaging.models import Attachment, Conversation, Message, MessageTemplate, OptOutEvent, RateWindow


def conversation(session: Session, conversation_id: UUID, *, for_update: bool = False) -> Conversation | None:
    return session.get(Conversation, conversation_id, with_for_update=for_update)


def latest_on(session: Session, channel: str, address: str) -> Conversation | None:
    """The address's most recent thread on a channel, locked: two texts at once add to one thread."""
    return session.scalars(select(Conversation).where(Conversation.channel == channel, Conversation.address == address)
                           .order_by(Conversation.last_message_at.desc()).limit(1).with_for_update()).first()


def by_token(session: Session, token_hash: str, *, for_update: bool = False) -> Conversation | None:
    """A chat by its token's hash; locked when a line is added, so two at once take two places."""
    query = select(Conversation).where(Conversation.token_hash == token_hash)
    return session.scalars(query.with_for_update() if for_update else query).first()


def count_from(session: Session, channel: str, center_address: str) -> int:
    """Threads on a channel started from one place (e-mailed transcripts of one chat)."""
    return int(session.scalar(select(func.count()).select_from(Conversation)
                              .where(Conversation.channel == channel,
                                     Conversation.center_address == center_address)) or 0)


def by_interaction(session: Session, interaction_id: UUID, *, for_update: bool = False) -> Conversation | None:
    """Locked for a new message: two at once (a reply and the patient's line) take different places."""
    query = select(Conversation).where(Conversation.interaction_id == interaction_id)
    return session.scalars(query.with_for_update() if for_update else query).first()


def of_patient(session: Session, patient_id: UUID, *, limit: int) -> Sequence[Conversation]:
    return session.scalars(select(Conversation).where(Conversation.patient_id == patient_id)
                           .order_by(Conversation.last_message_at.desc()).limit(limit)).all()


def add(session: Session, row: Conversation | Message | Attachment | OptOutEvent | MessageTemplate) -> None:
    session.add(row)
    session.flush()


def message(session: Session, message_id: UUID, *, for_update: bool = False) -> Message | None:
    return session.get(Message, message_id, with_for_update=for_update)


def messages(session: Session, message_ids: Iterable[UUID], *, for_update: bool = False) -> dict[UUID, Message]:
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    query = select(Message).where(Message.id.in_(ids)).order_by(Message.id)  # locks taken in one order: no deadlock
    return {row.id: row for row in session.scalars(query.with_for_update() if for_update else query)}


def conversations(session: Session, conversation_ids: Iterable[UUID]) -> dict[UUID, Conversation]:
    ids = list(set(conversation_ids))
    return ({row.id: row for row in session.scalars(select(Conversation).where(Conversation.id.in_(ids)))}
            if ids else {})


def by_provider_id(session: Session, channel: str, provider_id: str, *, for_update: bool = False) -> Message | None:
    query = select(Message).where(Message.channel == channel, Message.provider_id == provider_id).limit(1)
    return session.scalars(query.with_for_update() if for_update else query).first()


def thread_of_references(session: Session, references: Sequence[str]) -> UUID | None:
    """The conversation an e-mail answers: the newest of our messages its In-Reply-To or References name."""
    if not references:
        return None
    return session.scalars(select(Message.conversation_id)
                           .where(Message.channel == "email", Message.provider_id.in_(references))
                           .order_by(Message.created_at.desc()).limit(1)).first()


def thread(session: Session, conversation_id: UUID, *, after: int = 0, limit: int = 200) -> Sequence[Message]:
    """A thread's messages after ``after`` (its place), oldest first; the newest ``limit`` when not paging."""
    query = select(Message).where(Message.conversation_id == conversation_id, Message.seq > after)
    newest = query.order_by(Message.seq.desc()).limit(limit).subquery()
    return session.scalars(select(Message).join(newest, Message.id == newest.c.id).order_by(Message.seq)).all()


def next_seq(session: Session, conversation_id: UUID) -> int:
    return int(session.scalar(select(func.coalesce(func.max(Message.seq), 0))
                              .where(Message.conversation_id == conversation_id)) or 0) + 1


def references_of(session: Session, conversation_id: UUID, *, before: int | None = None,
                  limit: int = 20) -> list[str]:
    """The thread's e-mail Message-IDs (those before place ``before``), oldest first: a reply's References."""
    query = select(Message.provider_id).where(Message.conversation_id == conversation_id, Message.channel == "email",
                                              Message.provider_id.is_not(None))
    if before is not None:
        query = query.where(Message.seq < before)
    ids = session.scalars(query.order_by(Message.seq.desc()).limit(limit)).all()
    return [found for found in reversed(ids) if found]


def attachments(session: Session, message_ids: Iterable[UUID]) -> Sequence[Attachment]:
    ids = list(message_ids)
    if not ids:
        return []
    return session.scalars(select(Attachment).where(Attachment.message_id.in_(ids))
                           .order_by(Attachment.filename)).all()


def attachment(session: Session, attachment_id: UUID) -> Attachment | None:
    return session.get(Attachment, attachment_id)


def unsent_before(session: Session, pairs: Iterable[tuple[UUID, int]]) -> set[UUID]:
    """Of (conversation, place) pairs, the conversations with an earlier outbound message not yet handed over.

    A message held for quiet hours does not count: it was put off on purpose, and an answer to the patient (or a
    STOP's confirmation) must not wait behind it until morning."""
    wanted = list(pairs)
    if not wanted:
        return set()
    places = dict(wanted)
    rows = session.execute(select(Message.conversation_id, func.min(Message.seq))
                           .where(Message.conversation_id.in_(places), Message.direction == "outbound",
                                  Message.sent_at.is_(None), Message.status.in_(("queued", "sending")))
                           .group_by(Message.conversation_id))
    return {conversation_id for conversation_id, first in rows if first < places[conversation_id]}


def opted_out(session: Session, channel: str, addresses: Iterable[str]) -> dict[str, OptOutEvent]:
    """The addresses whose latest opt-out event says "out", with that event."""
    wanted = list(set(addresses))
    if not wanted:
        return {}
    latest = (select(OptOutEvent.address, func.max(OptOutEvent.at).label("at"))
              .where(OptOutEvent.channel == channel, OptOutEvent.address.in_(wanted))
              .group_by(OptOutEvent.address).subquery())
    rows = session.scalars(select(OptOutEvent).join(latest, (OptOutEvent.address == latest.c.address)
                                                    & (OptOutEvent.at == latest.c.at))
                           .where(OptOutEvent.channel == channel))
    return {row.address: row for row in rows if row.opted_out}


def opt_out_history(session: Session, channel: str, address: str) -> Sequence[OptOutEvent]:
    return session.scalars(select(OptOutEvent).where(OptOutEvent.channel == channel, OptOutEvent.address == address)
                           .order_by(OptOutEvent.at)).all()


def template(session: Session, kind: str, channel: str, language: str) -> MessageTemplate | None:
    return session.scalars(select(MessageTemplate).where(MessageTemplate.kind == kind,
                                                         MessageTemplate.channel == channel,
                                                         MessageTemplate.language == language)).first()


def templates(session: Session) -> Sequence[MessageTemplate]:
    return session.scalars(select(MessageTemplate).order_by(MessageTemplate.kind, MessageTemplate.channel,
                                                            MessageTemplate.language)).all()


def take_rate(session: Session, buckets: Sequence[str], second: int, wanted: int) -> dict[str, int]:
    """Count ``wanted`` more sends in this second for each bucket; returns each bucket's total so far."""
    totals = {}
    for bucket in buckets:
        statement = insert_into(session, RateWindow).values(bucket=bucket, second=second, count=wanted)
        statement = statement.on_conflict_do_update(index_elements=["bucket", "second"],
                                                    set_={"count": RateWindow.count + wanted})
        totals[bucket] = int(session.execute(statement.returning(RateWindow.count)).scalar_one())
    return totals


def give_back_rate(session: Session, bucket: str, second: int, unused: int) -> None:
    session.execute(update(RateWindow).where(RateWindow.bucket == bucket, RateWindow.second == second)
                    .values(count=RateWindow.count - unused))


def forget_rates_before(session: Session, second: int, *, prefix: str) -> None:
    """Drop one kind of count's old windows (``sms:`` or ``chat-start:``): each kind keeps its own span."""
    session.execute(delete(RateWindow).where(RateWindow.bucket.startswith(prefix, autoescape=True),
                                             RateWindow.second < second))
