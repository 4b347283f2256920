"""Every query on users, web_sessions and api_tokens."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from careline.actor import Role
from careline.auth.models import ApiToken, User, WebSession


def add(session: Session, row: User | WebSession | ApiToken) -> None:
    session.add(row)
    session.flush()


def get_user(session: Session, user_id: UUID) -> User | None:
    return session.get(User, user_id)


def find_user(session: Session, username: str, *, for_update: bool = False) -> User | None:
    """``for_update`` locks the row until commit (PostgreSQL; SQLite transactions are serial already)."""
    query = select(User).where(User.username == username)
    return session.scalars(query.with_for_update() if for_update else query).first()


def list_users(session: Session, *, role: Role | None = None) -> list[User]:
    query = select(User).order_by(User.display_name, User.username)
    if role is not None:
        query = query.where(User.role == role)
    return list(session.scalars(query))


def find_live_session(session: Session, token_hash: str) -> WebSession | None:
    return session.scalars(
        select(WebSession).where(WebSession.token_hash == token_hash, WebSession.ended_at.is_(None))
    ).first()


def find_live_api_token(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalars(
        select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    ).first()


def revoke_api_tokens(session: Session, *, user_id: UUID, prefix: str | None, at: datetime) -> int:
    query = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if prefix:
        query = query.where(ApiToken.prefix.startswith(prefix, autoescape=True))
    return session.execute(query.values(revoked_at=at)).rowcount  # type: ignore[attr-defined,no-any-return]


def end_sessions_of(session: Session, *, user_id: UUID, at: datetime) -> None:
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        .values(ended_at=at)
    )
