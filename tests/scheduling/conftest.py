from __future__ import annotations

import pytest

from careline.actor import Actor, Role
from careline.db import UnitOfWork
from careline.patients.models import Patient
from tests.factories.auth import make_user
from tests.factories.patients import make_patient
from tests.factories.scheduling import Clinic, make_clinic


@pytest.fixture
def clinic(uow: UnitOfWork) -> Clinic:
    return make_clinic(uow)


@pytest.fixture
def patient(uow: UnitOfWork) -> Patient:
    return make_patient(uow, given="Lena", family="Okafor")


@pytest.fixture
def supervisor(uow: UnitOfWork) -> Actor:
    """Supervisors book without a caller on the line (no identity check), which keeps these tests on booking."""
    user = make_user(uow, role=Role.supervisor, username="sam")
    return Actor(username=user.username, role=Role.supervisor, user_id=user.id, ip="10.1.1.2", route="test")


@pytest.fixture
def agent(uow: UnitOfWork) -> Actor:
    user = make_user(uow, role=Role.agent, username="alex")
    return Actor(username=user.username, role=Role.agent, user_id=user.id, ip="10.1.1.1", route="test")
