"""The unit of work: one session, rolled back unless the boundary (request, job, CLI) commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from sqlalchemy.orm import Session, sessionmaker


class UnitOfWork:
    """Services receive a unit of work and only ``flush()``; the caller that opened it commits."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._session: Session | None = None
        self._notices: list[tuple[str, dict[str, Any]]] = []

    def __enter__(self) -> Self:
        self._session = self._factory()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        session = self.session
        session.rollback()  # a no-op after commit(); undoes everything otherwise
        session.close()
        self._session = None
        self._notices = []

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside its `with` block")
        return self._session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        self.session.commit()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction whose live notices go with it: rolled back, it announces nothing."""
        mark = len(self._notices)
        try:
            with self.session.begin_nested():
                yield
        except BaseException:
            del self._notices[mark:]
            raise

    def notify(self, channel: str, payload: dict[str, Any]) -> None:
        """Queue a live notice (for desktops, wallboards, the routing engine); sent only if the work commits."""
        self._notices.append((channel, payload))

    def take_notices(self) -> list[tuple[str, dict[str, Any]]]:
        """The notices of the committed work, handed once to whoever publishes them (see ``careline.live``)."""
        notices, self._notices = self._notices, []
        return notices
