"""JSON API for users: the signed-in caller, and user administration for admins."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from careline.auth import service
from careline.auth.schemas import UserCreate, UserRead
from careline.web.deps import AdminOnly, AnyRole, Uow

router = APIRouter(prefix="/api", tags=["users"])


@router.get("/me")
def me(actor: AnyRole, uow: Uow) -> UserRead:
    return service.get_own_account(uow, actor)


@router.get("/users")
def list_users(_actor: AdminOnly, uow: Uow) -> list[UserRead]:
    return service.list_users(uow)


@router.post("/users", status_code=201)
def create_user(actor: AdminOnly, uow: Uow, body: UserCreate) -> UserRead:
    return service.create_user(uow, actor, body)


@router.get("/users/{user_id}")
def get_user(actor: AdminOnly, uow: Uow, user_id: UUID) -> UserRead:
    """An audited read of one user record."""
    return service.get_user(uow, actor, user_id)
