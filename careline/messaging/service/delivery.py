"""The sending path: every outbound SMS and e-mail passes here, in the worker, just before it is handed over.

Nothing reaches a provider without these checks, in this order:
1. still to be sent (a retried row whose message went out already is done);
2. the address has not opted out (only the opt-out's own confirmation and HELP's answer go to one);
3. the patient consented to this channel for this purpose (care, outreach); a reply to them needs none;
4. outreach only from 08:00 to 21:00 in the patient's time zone, else held until the window opens;
5. an earlier message in the same thread goes first;
6. the per-sender and global rate limits.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from careline.db import UnitOfWork, utcnow
from careline.integrations.messages import MessageProvider, Outgoing, ProviderError, Receipt, Refused, Unsure
from careline.messaging import repository, rules
from careline.messaging.models import Conversation, Message
from careline.messaging.rules import Channel, Purpose, Status
from careline.messaging.service import consent, status
from careline.patients.service import reach
from careline.settings import Settings
from careline.worker.runner import GiveUp, Job, Later, extend_lease

log = structlog.get_logger(__name__)
ALWAYS_ANSWERED = frozenset({"opt_out_confirmation", "help"})  # the law requires these even after a STOP
WAIT_FOR_EARLIER = timedelta(seconds=2)
UNSURE = ("A worker stopped while handing this message over, so it may have been sent. It is not sent again "
          "by itself: re-drive it to send it anyway.")
RATE_WINDOWS_KEPT = 60  # seconds
SMS_BUCKET = "sms:"


@dataclass(slots=True)
class Planned:
    job: Job
    message_id: UUID
    provider: str
    outgoing: Outgoing


Providers = Mapping[str, MessageProvider]


def deliver(sessions: Callable[[], UnitOfWork], settings: Settings, providers: Providers,
            jobs: Sequence[Job], *, now: datetime | None = None) -> dict[UUID, Exception]:
    """Send the messages of ``jobs``; returns what happened to the ones that did not simply succeed."""
    failures: dict[UUID, Exception] = {}
    now = now or utcnow()
    with sessions() as uow:
        planned = _plan(uow, settings, providers, jobs, failures, now)
        uow.commit()
    receipts = _hand_over(sessions, providers, planned, lease_seconds=settings.outbox_lease_seconds)
    with sessions() as uow:
        _settle(uow, planned, receipts, failures, utcnow())
        uow.commit()
    return failures


def _plan(uow: UnitOfWork, settings: Settings, providers: Providers, jobs: Sequence[Job],
          failures: dict[UUID, Exception], now: datetime) -> list[Planned]:
    by_job = {job.id: UUID(job.payload["message_id"]) for job in jobs}
    messages = repository.messages(uow.session, by_job.values())
    threads = repository.conversations(uow.session, [m.conversation_id for m in messages.values()])
    people = reach.reach_of(uow, [t.patient_id for t in threads.values() if t.patient_id])
    opted: dict[str, Mapping[str, object]] = {
        channel.value: consent.opted_out(uow, channel, [t.address for t in threads.values() if t.channel == channel])
        for channel in (Channel.sms, Channel.email)}
    waiting = repository.unsent_before(uow.session, _first_places(jobs, by_job, messages))
    ready: list[tuple[Job, Message, Conversation]] = []
    for job in sorted(jobs, key=lambda j: _order(messages.get(by_job[j.id]))):
        message = messages.get(by_job[job.id])
        if message is None or message.status not in (Status.queued, Status.held, Status.sending, Status.failed):
            continue  # gone, or sent by an earlier try: nothing to do
        thread = threads[message.conversation_id]
        verdict = _verdict(settings, job, message, thread, people.get(thread.patient_id) if thread.patient_id
                           else None, opted, waiting, now)
        if verdict is None:
            ready.append((job, message, thread))
        elif isinstance(verdict, NotAllowed):  # settled for good: the job is done, the thread says why
            message.status, message.error, message.status_at = Status.blocked, str(verdict), now
        else:
            failures[job.id] = verdict
            if message.status != Status.held:  # later ones in the thread wait behind it, unless it waits for 08:00
                waiting.add(thread.id)
    ready = _within_rate(uow, settings, ready, failures, now)
    planned = [_planned(uow, settings, providers, job, message, thread, failures)
               for job, message, thread in ready if job.id not in failures]
    return [item for item in planned if item is not None]


def _order(message: Message | None) -> tuple[str, int]:
    return (str(message.conversation_id), message.seq) if message else ("", 0)


def _first_places(jobs: Sequence[Job], by_job: Mapping[UUID, UUID],
                  messages: Mapping[UUID, Message]) -> list[tuple[UUID, int]]:
    """Each thread's earliest message in this batch: anything unsent before it makes the thread wait."""
    first: dict[UUID, int] = {}
    for job in jobs:
        message = messages.get(by_job[job.id])
        if message is not None:
            first[message.conversation_id] = min(message.seq, first.get(message.conversation_id, message.seq))
    return list(first.items())


class NotAllowed(Exception):
    """The message must never go: it is marked blocked, with this reason, and the job is done."""


def _verdict(settings: Settings, job: Job, message: Message, thread: Conversation, person: reach.Reach | None,
             opted: Mapping[str, Mapping[str, object]], waiting: set[UUID], now: datetime) -> Exception | None:
    if message.status == Status.sending and job.attempts > 1:
        return GiveUp(UNSURE, in_doubt=True)
    if thread.address in opted.get(thread.channel, {}) and message.kind not in ALWAYS_ANSWERED:
        return NotAllowed("Not sent: the patient opted out of this channel.")
    refused = _without_consent(thread, message, person)
    if refused is not None:
        return refused
    if message.purpose == Purpose.outreach and thread.channel == Channel.sms:
        opens = rules.next_allowed(now, (person.time_zone if person else None) or settings.center_time_zone)
        if opens is not None:
            message.status, message.send_after, message.error = Status.held, opens, "Quiet hours in the patient's zone"
            return Later(opens, "quiet hours")
    if thread.id in waiting:
        return Later(now + WAIT_FOR_EARLIER, "an earlier message in the thread goes first")
    return None


def _without_consent(thread: Conversation, message: Message, person: reach.Reach | None) -> NotAllowed | None:
    """Care and outreach need the patient's recorded consent for the channel; a reply to them needs none."""
    if message.purpose == Purpose.reply:
        return None
    if person is None or not person.reachable:
        return NotAllowed("Not sent: no active patient record to check consent against.")
    if not person.consents.get(f"{thread.channel}_{message.purpose}"):
        return NotAllowed(f"Not sent: the patient has not consented to {message.purpose} messages by {thread.channel}.")
    return None


def _within_rate(uow: UnitOfWork, settings: Settings, ready: list[tuple[Job, Message, Conversation]],
                 failures: dict[UUID, Exception], now: datetime) -> list[tuple[Job, Message, Conversation]]:
    """Take this second's share of the SMS rate limits; the rest waits for the next second."""
    per_sender, overall = settings.sms_rate_per_sender, settings.sms_rate_global
    texts = [item for item in ready if item[1].channel == Channel.sms]
    if not texts or not (per_sender or overall):
        return ready
    second = int(now.timestamp())
    senders: dict[str, list[tuple[Job, Message, Conversation]]] = {}
    for item in texts:
        senders.setdefault(_sms_sender(settings, item[2]) or "-", []).append(item)
    for sender, group in senders.items():
        buckets = [f"{SMS_BUCKET}{sender}", f"{SMS_BUCKET}*"]
        totals = repository.take_rate(uow.session, buckets, second, len(group))
        allowed = len(group)
        for bucket, limit in zip(buckets, (per_sender, overall), strict=True):
            if limit:
                allowed = min(allowed, max(0, limit - (totals[bucket] - len(group))))
        for bucket in buckets:
            if allowed < len(group):
                repository.give_back_rate(uow.session, bucket, second, len(group) - allowed)
        next_second = datetime.fromtimestamp(second + 1, tz=now.tzinfo)
        for job, _, _ in group[allowed:]:
            jitter = timedelta(milliseconds=random.randint(0, 900))  # noqa: S311 - spreading, not a secret
            failures[job.id] = Later(next_second + jitter, "rate limit")
    repository.forget_rates_before(uow.session, second - RATE_WINDOWS_KEPT, prefix=SMS_BUCKET)
    return ready


def _sms_sender(settings: Settings, thread: Conversation) -> str | None:
    return thread.center_address or settings.sms_sender


def _planned(uow: UnitOfWork, settings: Settings, providers: Providers, job: Job, message: Message,
             thread: Conversation, failures: dict[UUID, Exception]) -> Planned | None:
    name = settings.sms_provider if thread.channel == Channel.sms else settings.email_provider
    if name not in providers:  # chosen but not set up (no Twilio credentials): say so on the dead-letter page
        failures[job.id] = GiveUp(f"The {name} provider is chosen for {thread.channel} but not configured; see "
                                  "docs/configuration.md.")
        return None
    references = (tuple(repository.references_of(uow.session, thread.id, before=message.seq))
                  if thread.channel == Channel.email else ())
    callback = (f"{settings.public_url}/telephony/twilio/sms/status?message={message.id}"
                if thread.channel == Channel.sms and name == "twilio" and settings.public_url else None)
    sender = _sms_sender(settings, thread) if thread.channel == Channel.sms else settings.email_from
    outgoing = Outgoing(key=job.key, channel=thread.channel, to=thread.address, sender=sender, body=message.body,
                        subject=message.subject, html=message.html, message_id=message.provider_id
                        if thread.channel == Channel.email else None, in_reply_to=message.in_reply_to,
                        references=references,
                        status_callback=callback)
    return Planned(job, message.id, name, outgoing)


def _hand_over(sessions: Callable[[], UnitOfWork], providers: Providers, planned: Sequence[Planned], *,
               lease_seconds: float) -> dict[UUID, Receipt | ProviderError]:
    """An idempotent provider takes the batch at once; any other one message at a time, each marked
    ``sending`` just before it is asked, so a worker that dies leaves only that one message in doubt."""
    results: dict[UUID, Receipt | ProviderError] = {}
    by_provider: dict[str, list[Planned]] = {}
    for item in planned:
        by_provider.setdefault(item.provider, []).append(item)
    for name, items in by_provider.items():
        provider = providers[name]
        if provider.idempotent:
            results.update(_ask(provider, items))
            continue
        for place, item in enumerate(items):
            _mark_sending(sessions, item, [waiting.job for waiting in items[place:]], lease_seconds)
            results.update(_ask(provider, [item]))
    return results


def _mark_sending(sessions: Callable[[], UnitOfWork], item: Planned, still_to_send: Sequence[Job],
                  lease_seconds: float) -> None:
    """Marked before asking; and the rows still to send kept from another worker while this one is slow."""
    with sessions() as uow:
        message = repository.message(uow.session, item.message_id, for_update=True)
        if message is not None:
            message.status = Status.sending
        extend_lease(uow, still_to_send, lease_seconds)
        uow.commit()


def _ask(provider: MessageProvider, items: Sequence[Planned]) -> dict[UUID, Receipt | ProviderError]:
    try:
        outcomes = provider.send([item.outgoing for item in items])
    except Exception as error:  # a provider bug: what it may have sent is in doubt unless it dedupes by key
        log.error("messaging.provider_failed", provider=provider.name, error_type=type(error).__name__)
        kind = ProviderError if provider.idempotent else Unsure
        outcomes = [kind(f"{provider.name}: {type(error).__name__}") for _ in items]
    return {item.job.id: outcome for item, outcome in zip(items, outcomes, strict=True)}


def _settle(uow: UnitOfWork, planned: Sequence[Planned], receipts: Mapping[UUID, Receipt | ProviderError],
            failures: dict[UUID, Exception], now: datetime) -> None:
    # Locked: a status callback for one of them waits for this, then applies on top (it only moves forward).
    messages = repository.messages(uow.session, [item.message_id for item in planned], for_update=True)
    for item in planned:
        message, outcome = messages[item.message_id], receipts[item.job.id]
        if isinstance(outcome, Receipt):
            _sent(message, outcome, now)
        elif isinstance(outcome, Unsure):
            message.status, message.error = Status.sending, UNSURE
            failures[item.job.id] = GiveUp(UNSURE, in_doubt=True)
        elif isinstance(outcome, Refused) and outcome.code == rules.CARRIER_OPTED_OUT:
            status.carrier_opted_out(uow, message, item.outgoing.to, now)
        elif isinstance(outcome, Refused):
            message.status, message.error, message.status_at = Status.failed, str(outcome), now
            failures[item.job.id] = GiveUp(str(outcome))
        else:
            message.status, message.error = Status.queued, str(outcome)
            failures[item.job.id] = outcome


def _sent(message: Message, receipt: Receipt, now: datetime) -> None:
    rank = rules.RANKS.get(receipt.status, 0)
    message.provider_id = receipt.provider_id or message.provider_id
    message.sent_at, message.error, message.send_after = now, None, None
    if rank >= message.status_rank:  # a status callback may have come first
        message.status, message.status_rank = rules.OUTBOUND_STATUS[receipt.status], rank
        message.status_at = now


def gave_up(sessions: Callable[[], UnitOfWork], job: Job, reason: str) -> None:
    """The worker stopped trying: the thread shows why. One that may have gone stays "sending", not "failed"."""
    with sessions() as uow:
        message = repository.message(uow.session, UUID(job.payload["message_id"]), for_update=True)
        if message is not None and message.sent_at is None and message.status in (Status.queued, Status.held,
                                                                                  Status.sending):
            if message.status != Status.sending:
                message.status = Status.failed
            message.error, message.status_at = reason[:300], utcnow()
        uow.commit()
