"""The small dependency vocabulary routes use: ``Uow``, ``Policy`` and the access rules.

Every route declares exactly one access rule (``allow(...)`` or ``PUBLIC``); ``assert_every_route_guarded``
refuses to start an app with a route that has none, so access is denied by default.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from careline import audit
from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.auth.policy import SecurityPolicy
from careline.auth.schemas import SignedIn
from careline.db import UnitOfWork
from careline.live import Notice
from careline.patients.policy import PatientPolicy
from careline.web.csrf import SESSION_COOKIE
from careline.web.exceptions import Forbidden, NotSignedIn


async def get_uow(request: Request) -> AsyncIterator[UnitOfWork]:
    """The request's unit of work, taken only once the request is through the database gate.

    A request's dependencies, route and commit each run on a worker thread, and it keeps its connection,
    with its transaction open, in between. Were every request let in, a burst would fill all the threads
    with requests waiting for a connection that only a request waiting for a thread could give back. The
    gate (``app.state.db_gate``) is waited on in the event loop, holding neither a thread nor a connection,
    and lets in fewer requests than there are threads and pooled connections.
    """
    async with request.app.state.db_gate:
        uow = UnitOfWork(request.app.state.sessionmaker).__enter__()  # no I/O: the session connects on use
        try:
            yield uow
        except audit.AuditedRefusal:
            await run_in_threadpool(_commit_and_close, uow)  # keep the audit entry of the refusal, then report it
            raise
        except BaseException:
            await run_in_threadpool(uow.close)
            raise
        notices = await run_in_threadpool(_commit_and_close, uow)  # the only commit of a request
    await request.app.state.bus.publish(notices)  # outside the gate: a slow Redis holds no one else up


def _commit_and_close(uow: UnitOfWork) -> list[Notice]:
    """Commit, then hand back the live notices of the committed work; one worker-thread hop for both."""
    try:
        uow.commit()
        return uow.take_notices()
    finally:
        uow.close()


# scope="function": commit before the response is sent, so a failed commit never leaks a response.
Uow = Annotated[UnitOfWork, Depends(get_uow, scope="function")]


def get_policy(request: Request) -> SecurityPolicy:
    policy: SecurityPolicy = request.app.state.policy
    return policy


Policy = Annotated[SecurityPolicy, Depends(get_policy)]


def get_patient_policy(request: Request) -> PatientPolicy:
    policy: PatientPolicy = request.app.state.patient_policy
    return policy


PatientRules = Annotated[PatientPolicy, Depends(get_patient_policy)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def route_label(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _resolve(request: Request, uow: UnitOfWork) -> SignedIn | None:
    token = _bearer(request)
    if token is not None:
        return auth_service.resolve_api_token(uow, token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    signed_in = auth_service.resolve_session(uow, request.app.state.policy, cookie)
    return signed_in if signed_in and not signed_in.mfa_pending else None


class Access:
    """A route's access rule: which roles may call it (``None``: anyone, signed in or not)."""

    def __init__(self, roles: frozenset[Role] | None) -> None:
        self.roles = roles

    def __call__(self, request: Request, uow: Uow) -> Actor:
        signed_in = _resolve(request, uow)
        actor = _actor(request, signed_in)
        request.state.actor = actor if signed_in else None
        if self.roles is None:
            return actor
        if signed_in is None:
            raise NotSignedIn()
        if actor.role not in self.roles:
            audit.record(uow, actor, "access.denied", outcome="denied")
            raise Forbidden()
        return actor


def _actor(request: Request, signed_in: SignedIn | None) -> Actor:
    ip, route = client_ip(request), route_label(request)
    if signed_in is None:
        return Actor(username="anonymous", role=None, ip=ip, route=route)
    user = signed_in.user
    return Actor(username=user.username, role=user.role, user_id=user.id, ip=ip, route=route)


def allow(*roles: Role) -> Access:
    return Access(frozenset(roles))


PUBLIC = Access(None)

Public = Annotated[Actor, Depends(PUBLIC)]
AnyRole = Annotated[Actor, Depends(allow(*Role))]
AdminOnly = Annotated[Actor, Depends(allow(Role.admin))]
AuditReaders = Annotated[Actor, Depends(allow(Role.admin, Role.auditor))]
TeamReaders = Annotated[Actor, Depends(allow(Role.admin, Role.supervisor))]
Supervisors = Annotated[Actor, Depends(allow(Role.supervisor))]
# People who work with patients on the phone, and integrations (service accounts hold the admin role).
PatientWorkers = Annotated[Actor, Depends(allow(Role.agent, Role.supervisor))]
PatientClients = Annotated[Actor, Depends(allow(Role.agent, Role.supervisor, Role.admin))]
RecordReaders = Annotated[Actor, Depends(allow(Role.supervisor, Role.admin))]


def access_of(route: APIRoute) -> Access:
    """The single access rule a route declares; raises if it has none or several."""
    found = [dep.call for dep in _walk(route.dependant) if isinstance(dep.call, Access)]
    rules = {id(rule): rule for rule in found}
    if len(rules) != 1:
        raise RuntimeError(f"{sorted(route.methods or ())} {route.path} must declare exactly one access rule")
    return next(iter(rules.values()))


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _walk(dependency)


def api_routes(routers: Iterable[APIRouter]) -> Iterator[APIRoute]:
    for router in routers:
        yield from (route for route in router.routes if isinstance(route, APIRoute))


def assert_every_route_guarded(routers: Iterable[APIRouter]) -> None:
    for route in api_routes(routers):
        access_of(route)
