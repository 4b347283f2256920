"""Admins' view of the outbox: a bulk re-drive leaves alone what may already have been sent."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from careline.actor import Actor, Role
from careline.db import UnitOfWork
from careline.worker import outbox, repository, service
from tests.factories.messaging import give_up_row

ADMIN = Actor(username="ada", role=Role.admin, route="test")


def test_send_all_again_skips_rows_in_doubt_until_named(sessions: sessionmaker[Session]) -> None:
    with UnitOfWork(sessions) as uow:
        outbox.send_later(uow, "message.send", {"message_id": "a"}, key="certain")
        outbox.send_later(uow, "message.send", {"message_id": "b"}, key="doubtful")
        rows = {row.key: row for row in repository.of_kind(uow.session, "message.send")}
        give_up_row(uow.session, rows["certain"].id, "SMTP 550")
        give_up_row(uow.session, rows["doubtful"].id, "may have been sent", in_doubt=True)
        state = service.outbox_state(uow)
        assert sorted((row.error, row.in_doubt) for row in state.dead) == [("SMTP 550", False),
                                                                          ("may have been sent", True)]
        assert service.redrive(uow, ADMIN, service.RedriveIn(kind="message.send")).redriven == 1
        assert [row.key for row in repository.dead(uow.session, limit=10)] == ["doubtful"]
        named = service.RedriveIn(ids=[rows["doubtful"].id])
        assert service.redrive(uow, ADMIN, named).redriven == 1
        assert repository.dead(uow.session, limit=10) == []
