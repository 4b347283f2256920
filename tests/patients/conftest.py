from __future__ import annotations

import pytest

from careline.actor import Actor, Role
from careline.db import UnitOfWork
from careline.patients.policy import PatientPolicy
from tests.factories.auth import make_user


@pytest.fixture
def policy() -> PatientPolicy:
    return PatientPolicy()


@pytest.fixture
def agent(uow: UnitOfWork) -> Actor:
    user = make_user(uow, role=Role.agent, username="alex")
    return Actor(username=user.username, role=Role.agent, user_id=user.id, ip="10.1.1.1", route="test")


@pytest.fixture
def supervisor(uow: UnitOfWork) -> Actor:
    user = make_user(uow, role=Role.supervisor, username="sam")
    return Actor(username=user.username, role=Role.supervisor, user_id=user.id, ip="10.1.1.2", route="test")
