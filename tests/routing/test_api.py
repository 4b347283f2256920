"""The routing REST API over HTTP with bearer tokens: contacts from creation to wrap-up, offers, transfers,
agents and their states, queues, dispositions and the wallboard. The routing loop is off here: each test
runs engine passes itself, on the same connection as the app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.actor import Role
from careline.audit.models import AuditEntry
from careline.auth.models import User
from careline.db import UnitOfWork, utcnow
from careline.routing.models import Interaction, InteractionEvent
from careline.routing.service import engine
from tests.factories.auth import make_api_token, make_user
from tests.factories.patients import make_patient
from tests.factories.routing import Staff, make_agent, make_queue

PHONE = "+16175550142"


@dataclass(frozen=True)
class Center:
    """Two queues, two available agents (Alex idle longest), a supervisor, an integration, a patient."""

    alex: Staff
    blair: Staff
    patient_id: UUID
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def center(uow: UnitOfWork) -> Center:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    now = utcnow()
    alex = make_agent(uow, "alex", available_at=now - timedelta(minutes=2))
    blair = make_agent(uow, "blair", available_at=now - timedelta(minutes=1))
    patient = make_patient(uow, given="Rosa", family="Diaz", phones=((PHONE, "mobile"),))
    tokens = {name: make_api_token(uow, uow.session.get_one(User, staff.actor.user_id))
              for name, staff in (("alex", alex), ("blair", blair))}
    tokens |= {role.value: make_api_token(uow, make_user(uow, role=role))
               for role in (Role.supervisor, Role.admin, Role.agent)}
    uow.commit()
    return Center(alex, blair, patient.id, tokens)


class Api:
    """The calls a desktop, a supervisor or an integration makes, and an engine pass in between."""

    def __init__(self, client: TestClient, center: Center, sessions: sessionmaker[Session]) -> None:
        self.client, self.center, self.sessions = client, center, sessions

    def call(self, method: str, path: str, who: str, body: Any = None, **params: Any) -> Response:
        return self.client.request(method, f"/api{path}", headers=self.center.headers(who), json=body,
                                   params=params or None)

    def ok(self, method: str, path: str, who: str, body: Any = None, *, status: int = 200) -> Any:
        response = self.call(method, path, who, body)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def contact(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"channel": "voice", "queue": "scheduling"} | fields
        created: dict[str, Any] = self.ok("POST", "/interactions", "admin", body, status=201)
        return created

    def route(self) -> engine.PassReport:
        with UnitOfWork(self.sessions) as uow:
            report = engine.run_pass(uow)
            uow.commit()
            return report

    def offer_of(self, who: str) -> str:
        offers = self.ok("GET", "/agents/me", who)["offers"]
        assert len(offers) == 1, offers
        return str(offers[0]["assignment_id"])

    def answered(self, **fields: Any) -> dict[str, Any]:
        """A contact offered to Alex (idle longest) and accepted."""
        contact = self.contact(**fields)
        assert self.route().offered == 1
        answered: dict[str, Any] = self.ok("POST", f"/offers/{self.offer_of('alex')}/accept", "alex")
        assert answered["id"] == contact["id"]
        return answered

    def interaction(self, interaction_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.ok("GET", f"/interactions/{interaction_id}", "supervisor")
        return found

    def agent(self, staff: Staff) -> dict[str, Any]:
        return next(row for row in self.ok("GET", "/agents", "supervisor") if row["id"] == str(staff.id))


@pytest.fixture
def api(client: TestClient, center: Center, sessions: sessionmaker[Session]) -> Api:
    return Api(client, center, sessions)


def count(uow: UnitOfWork, model: type[Any], *where: Any) -> int:
    uow.session.expire_all()
    return uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def assert_problem(response: Response, status: int, *, field: str | None = None, loc: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["detail"]
    if field is not None:
        assert body["field"] == field, body
    if loc is not None:
        assert any(loc in error["loc"] for error in body["errors"]), body


class TestCreate:
    def test_a_call_is_queued_with_its_caller_matched(self, api: Api, center: Center) -> None:
        created = api.contact(address="(617) 555-0142", reason="appointment", external_ref="CA-1")
        assert (created["status"], created["queue"], created["channel"]) == ("queued", "scheduling", "voice")
        assert (created["patient_id"], created["candidates"], created["address"]) == \
            (str(center.patient_id), 1, PHONE)
        assert api.interaction(created["id"]) == created
        kinds = [row["kind"] for row in api.ok("GET", f"/interactions/{created['id']}/events", "supervisor")]
        assert kinds == ["created", "queued"]

    def test_the_same_external_ref_again_is_the_same_contact(self, api: Api, uow: UnitOfWork) -> None:
        first = api.contact(external_ref="CA-retry")
        events = count(uow, InteractionEvent)
        again = api.call("POST", "/interactions", "admin",
                         {"channel": "voice", "queue": "scheduling", "external_ref": "CA-retry"})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first["id"]
        assert (count(uow, Interaction), count(uow, InteractionEvent)) == (1, events)

    def test_a_shared_number_counts_its_candidates_and_names_no_patient(self, api: Api, uow: UnitOfWork) -> None:
        make_patient(uow, given="Luis", family="Diaz", phones=((PHONE, "home"),))
        uow.commit()
        created = api.contact(address=PHONE)
        assert (created["patient_id"], created["candidates"]) == (None, 2)

    @pytest.mark.parametrize(("change", "field", "loc"), [
        ({"queue": "no-such-queue"}, "queue", None),
        ({"channel": "fax"}, None, "channel"),
        ({"not_before": "2026-11-27T09:00:00"}, None, "not_before"),
        ({"address": "call me maybe"}, "address", None),
        ({"address": "555-01"}, "address", None),
        ({"priority": 99}, None, "priority"),
        ({"surprise": 1}, None, "surprise"),
    ], ids=["unknown queue", "bad channel", "naive time", "not a number", "too short", "priority", "extra"])
    def test_bad_input_is_a_clear_422_and_writes_nothing(self, api: Api, uow: UnitOfWork, change: dict[str, Any],
                                                         field: str | None, loc: str | None) -> None:
        audits = count(uow, AuditEntry)
        response = api.call("POST", "/interactions", "admin", {"channel": "voice", "queue": "scheduling"} | change)
        assert_problem(response, 422, field=field, loc=loc)
        assert "call me maybe" not in response.text  # the submitted value may be PHI
        assert (count(uow, Interaction), count(uow, AuditEntry)) == (0, audits)

    def test_a_naive_time_says_how_to_fix_it(self, api: Api) -> None:
        response = api.call("POST", "/interactions", "admin",
                            {"channel": "voice", "queue": "scheduling", "not_before": "2026-11-27T09:00:00"})
        assert "time zone" in response.json()["errors"][0]["msg"]

    def test_reading_contacts_is_audited_against_the_patient(self, api: Api, center: Center,
                                                            uow: UnitOfWork) -> None:
        created = api.contact(address=PHONE)
        api.interaction(created["id"])
        api.ok("GET", f"/interactions/{created['id']}/events", "supervisor")
        api.ok("GET", f"/interactions?patient_id={center.patient_id}&limit=5", "supervisor")
        uow.session.expire_all()
        entries = uow.session.scalars(select(AuditEntry).where(AuditEntry.action.like("interaction.%"))
                                      .order_by(AuditEntry.seq)).all()
        assert [(entry.action, entry.patient_id) for entry in entries] == \
            [("interaction.viewed", str(center.patient_id))] * 2 + [("interaction.searched", str(center.patient_id))]
        assert entries[-1].details == {"fields": ["patient_id"], "found": 1}

    def test_a_supervisor_lists_the_line_and_a_naive_since_is_refused(self, api: Api) -> None:
        api.answered()
        api.ok("PUT", "/agents/me/state", "blair", {"state": "lunch"})
        waiting = api.contact()
        listed = api.ok("GET", "/interactions?status=queued", "supervisor")
        assert [row["id"] for row in listed] == [waiting["id"]]
        assert_problem(api.call("GET", "/interactions", "supervisor", since="2026-11-27T09:00:00"), 422,
                       loc="since")
        assert_problem(api.call("GET", "/interactions", "supervisor", queue="nowhere"), 422, field="queue")


class TestOffers:
    def test_a_call_is_answered_held_noted_ended_and_wrapped_up(self, api: Api, center: Center) -> None:
        api.contact(address=PHONE)
        api.route()
        offer = api.offer_of("alex")
        pop = api.ok("GET", f"/offers/{offer}/pop", "alex")
        assert pop["patient"]["display_name"] == "Rosa Diaz"
        assert "birth_date" not in pop["patient"]  # masked until Alex verifies the caller
        contact = api.ok("POST", f"/offers/{offer}/accept", "alex")
        path = f"/interactions/{contact['id']}"
        assert (contact["status"], contact["agent_id"]) == ("connected", str(center.alex.id))
        assert api.agent(center.alex)["state"] == "busy"

        assert api.ok("POST", f"{path}/hold", "alex")["held_at"] is not None
        assert api.ok("POST", f"{path}/resume", "alex")["held_at"] is None
        assert api.ok("PUT", f"{path}/notes", "alex", {"notes": " Wants a morning slot "})["notes"] == \
            "Wants a morning slot"
        ended = api.ok("POST", f"{path}/end", "alex")
        assert ended["status"] == "wrap_up"
        assert api.agent(center.alex)["state"] == "wrap_up"
        done = api.ok("POST", f"{path}/wrap-up", "alex", {"disposition": "booked"})
        assert (done["status"], done["disposition"], done["resolved"], done["notes"]) == \
            ("completed", "booked", True, "Wants a morning slot")
        agent = api.agent(center.alex)
        assert (agent["state"], agent["load_voice"]) == ("available", 0)
        kinds = [row["kind"] for row in api.ok("GET", f"{path}/events", "supervisor")]
        assert kinds == ["created", "queued", "offered", "answered", "held", "resumed", "ended", "wrapped_up"]

    def test_wrap_up_of_a_live_call_ends_it_first(self, api: Api) -> None:
        contact = api.answered()
        done = api.ok("POST", f"/interactions/{contact['id']}/wrap-up", "alex",
                      {"disposition": "information", "resolved": False})
        assert (done["status"], done["resolved"]) == ("completed", False)
        assert done["ended_at"] is not None

    def test_a_rejected_offer_goes_to_the_next_agent(self, api: Api, center: Center) -> None:
        contact = api.contact()
        api.route()
        response = api.call("POST", f"/offers/{api.offer_of('alex')}/reject", "alex")
        assert response.status_code == 204
        assert api.interaction(contact["id"])["status"] == "queued"
        api.route()
        assert api.interaction(contact["id"])["agent_id"] == str(center.blair.id)
        assert api.ok("GET", "/agents/me", "alex")["offers"] == []

    def test_an_offer_answered_twice_or_after_a_reject_is_409(self, api: Api) -> None:
        api.contact()
        api.route()
        offer = api.offer_of("alex")
        api.ok("POST", f"/offers/{offer}/accept", "alex")
        assert_problem(api.call("POST", f"/offers/{offer}/accept", "alex"), 409)
        assert_problem(api.call("POST", f"/offers/{offer}/reject", "alex"), 409)

    def test_someone_elses_offer_is_403_and_stays_open(self, api: Api, center: Center) -> None:
        contact = api.contact()
        api.route()
        offer = api.offer_of("alex")
        for method, action in (("POST", "accept"), ("POST", "reject"), ("GET", "pop")):
            assert_problem(api.call(method, f"/offers/{offer}/{action}", "blair"), 403)
        assert (api.interaction(contact["id"])["status"], api.offer_of("alex")) == ("offered", offer)

    def test_a_user_without_an_agent_profile_gets_404(self, api: Api) -> None:
        assert_problem(api.call("GET", "/agents/me", "agent"), 404)

    def test_an_agent_cannot_work_a_colleagues_contact(self, api: Api) -> None:
        contact = api.answered()
        for action in ("hold", "end"):
            assert_problem(api.call("POST", f"/interactions/{contact['id']}/{action}", "blair"), 403)
        assert_problem(api.call("PUT", f"/interactions/{contact['id']}/notes", "blair", {"notes": "x"}), 403)
        assert api.interaction(contact["id"])["status"] == "connected"

    def test_actions_out_of_turn_are_409(self, api: Api) -> None:
        contact = api.answered()
        api.ok("PUT", "/agents/me/state", "blair", {"state": "lunch"})
        waiting = api.contact()
        assert_problem(api.call("POST", f"/interactions/{waiting['id']}/hold", "supervisor"), 409)
        assert_problem(api.call("POST", f"/interactions/{contact['id']}/callback", "admin"), 409)
        assert_problem(api.call("POST", f"/interactions/{contact['id']}/complete-transfer", "alex"), 409)
        api.ok("POST", f"/interactions/{contact['id']}/wrap-up", "alex", {"disposition": "booked"})
        for action in ("hold", "transfer"):
            body = {"queue": "billing"} if action == "transfer" else None
            assert_problem(api.call("POST", f"/interactions/{contact['id']}/{action}", "alex", body), 409)

    def test_ending_a_contact_that_is_already_over_changes_nothing(self, api: Api) -> None:
        """The phone system reports every call's end, also of calls the agent already hung up: idempotent."""
        contact = api.answered()
        ended = api.ok("POST", f"/interactions/{contact['id']}/end", "alex")
        again = api.ok("POST", f"/interactions/{contact['id']}/end", "admin")
        assert again == ended
        api.ok("POST", f"/interactions/{contact['id']}/wrap-up", "alex", {"disposition": "booked"})
        closed = api.ok("POST", f"/interactions/{contact['id']}/end", "admin")
        assert (closed["status"], closed["disposition"]) == ("completed", "booked")

    def test_an_unknown_disposition_is_422_and_the_call_stays_live(self, api: Api) -> None:
        contact = api.answered()
        assert_problem(api.call("POST", f"/interactions/{contact['id']}/wrap-up", "alex",
                                {"disposition": "made_up"}), 422, field="disposition")
        assert api.interaction(contact["id"])["status"] == "connected"

    def test_the_caller_hanging_up_in_line_is_an_abandon(self, api: Api, center: Center) -> None:
        contact = api.contact()
        api.route()
        gone = api.ok("POST", f"/interactions/{contact['id']}/end", "admin")
        assert (gone["status"], gone["agent_id"]) == ("abandoned", None)
        assert api.ok("GET", "/agents/me", "alex")["offers"] == []
        assert api.agent(center.alex)["load_voice"] == 0


class TestTransfers:
    def test_a_cold_transfer_to_a_queue_frees_the_agent(self, api: Api, center: Center) -> None:
        contact = api.answered()
        moved = api.ok("POST", f"/interactions/{contact['id']}/transfer", "alex", {"queue": "billing"})
        assert (moved["status"], moved["queue"], moved["agent_id"]) == ("queued", "billing", None)
        assert moved["queued_at"] == contact["queued_at"]  # it keeps its place in line
        assert api.agent(center.alex)["state"] == "available"

    def test_a_warm_transfer_brings_a_colleague_in_then_hands_over(self, api: Api, center: Center) -> None:
        contact = api.answered()
        path = f"/interactions/{contact['id']}"
        api.ok("POST", f"{path}/transfer", "alex", {"agent_id": str(center.blair.id), "mode": "warm"})
        consult = api.ok("GET", "/agents/me", "blair")["offers"][0]
        assert (consult["role"], consult["interaction"]["id"]) == ("consult", contact["id"])
        api.ok("POST", f"/offers/{consult['assignment_id']}/accept", "blair")
        handed = api.ok("POST", f"{path}/complete-transfer", "alex")
        assert (handed["status"], handed["agent_id"]) == ("connected", str(center.blair.id))
        assert api.agent(center.alex)["load_voice"] == 0
        assert [row["id"] for row in api.ok("GET", "/agents/me", "blair")["contacts"]] == [contact["id"]]

    def test_a_transfer_names_one_target(self, api: Api, center: Center) -> None:
        contact = api.answered()
        both = {"queue": "billing", "agent_id": str(center.blair.id)}
        assert_problem(api.call("POST", f"/interactions/{contact['id']}/transfer", "alex", both), 422)
        assert_problem(api.call("POST", f"/interactions/{contact['id']}/transfer", "alex", {"queue": "nowhere"}),
                       422, field="queue")
        assert api.interaction(contact["id"])["status"] == "connected"


class TestLineActions:
    def test_a_supervisor_requeues_a_live_contact_elsewhere_and_higher(self, api: Api, center: Center) -> None:
        contact = api.answered()
        moved = api.ok("POST", f"/interactions/{contact['id']}/requeue", "supervisor",
                       {"queue": "billing", "priority": 5})
        assert (moved["status"], moved["queue"], moved["priority"], moved["agent_id"]) == \
            ("queued", "billing", 5, None)
        assert api.agent(center.alex)["load_voice"] == 0

    def test_a_caller_in_line_becomes_a_callback(self, api: Api) -> None:
        waiting = api.contact()
        called = api.ok("POST", f"/interactions/{waiting['id']}/callback", "admin")
        assert (called["channel"], called["status"]) == ("callback", "queued")
        assert_problem(api.call("POST", f"/interactions/{waiting['id']}/callback", "admin"), 409)


class TestAgents:
    def test_an_agent_sees_the_team_to_transfer_to(self, api: Api, center: Center) -> None:
        team = {row["name"]: row["state"] for row in api.ok("GET", "/agents", "blair")}
        assert team == {"Alex": "available", "Blair": "available"}

    def test_an_admin_creates_an_agent_once_and_only_for_a_working_role(self, api: Api, uow: UnitOfWork) -> None:
        newcomer = make_user(uow, role=Role.agent, display_name="Casey Lin")
        auditor = make_user(uow, role=Role.auditor)
        uow.commit()
        body = {"user_id": str(newcomer.id), "skills": {"Scheduling": 3}, "languages": ["en", "ES"]}
        created = api.ok("POST", "/agents", "admin", body, status=201)
        assert (created["name"], created["state"], created["skills"], created["languages"]) == \
            ("Casey Lin", "offline", {"scheduling": 3}, ["en", "es"])
        assert_problem(api.call("POST", "/agents", "admin", body), 422, field="user_id")
        assert_problem(api.call("POST", "/agents", "admin", {"user_id": str(auditor.id)}), 422, field="user_id")
        assert_problem(api.call("POST", "/agents", "admin", body | {"text_slots": 11}), 422, loc="text_slots")

    def test_a_supervisor_reskills_an_agent(self, api: Api, center: Center) -> None:
        changed = api.ok("PATCH", f"/agents/{center.blair.id}", "supervisor",
                         {"skills": {"billing": 2}, "text_slots": 5})
        assert (changed["skills"], changed["text_slots"]) == ({"billing": 2}, 5)
        assert_problem(api.call("PATCH", f"/agents/{UUID(int=1)}", "supervisor", {"blend": True}), 404)

    @pytest.mark.parametrize(("change", "loc"), [
        ({"extension": "front desk"}, "extension"),
        ({"languages": []}, "languages"),
        ({"skills": {"scheduling": 9}}, "scheduling"),
        ({"state": "available"}, "state"),
    ], ids=["extension", "no language", "level", "state is not a setting"])
    def test_a_bad_change_to_an_agent_is_422(self, api: Api, center: Center, change: dict[str, Any],
                                             loc: str) -> None:
        assert_problem(api.call("PATCH", f"/agents/{center.blair.id}", "supervisor", change), 422, loc=loc)
        assert (api.agent(center.blair)["extension"], api.agent(center.blair)["languages"]) == (None, ["en"])

    def test_an_extension_already_taken_is_422(self, api: Api, center: Center) -> None:
        api.ok("PATCH", f"/agents/{center.alex.id}", "supervisor", {"extension": "4101"})
        assert_problem(api.call("PATCH", f"/agents/{center.blair.id}", "supervisor", {"extension": "4101"}), 422,
                       field="extension")

    def test_capacity_below_what_the_agent_holds_is_422(self, api: Api, center: Center) -> None:
        api.answered()
        response = api.call("PATCH", f"/agents/{center.alex.id}", "supervisor", {"voice_slots": 0})
        assert_problem(response, 422, field="capacity")
        assert (api.agent(center.alex)["voice_slots"], api.agent(center.alex)["load_voice"]) == (1, 1)

    def test_an_agent_chooses_their_own_state(self, api: Api, center: Center) -> None:
        assert api.ok("PUT", "/agents/me/state", "alex", {"state": "break", "reason": "coffee"})["state"] == "break"
        assert_problem(api.call("PUT", "/agents/me/state", "alex", {"state": "busy"}), 422, field="state")
        assert_problem(api.call("PUT", "/agents/me/state", "alex", {"state": "asleep"}), 422, loc="state")
        assert api.agent(center.alex)["state"] == "break"

    def test_going_on_break_withdraws_an_open_offer(self, api: Api, center: Center) -> None:
        contact = api.contact()
        api.route()
        api.ok("PUT", "/agents/me/state", "alex", {"state": "break"})
        assert api.interaction(contact["id"])["status"] == "queued"
        api.route()
        assert api.interaction(contact["id"])["agent_id"] == str(center.blair.id)

    def test_a_supervisor_sets_an_agents_state_audited(self, api: Api, center: Center, uow: UnitOfWork) -> None:
        moved = api.ok("PUT", f"/agents/{center.alex.id}/state", "supervisor", {"state": "offline"})
        assert moved["state"] == "offline"
        assert count(uow, AuditEntry, AuditEntry.action == "agent.state_set",
                     AuditEntry.subject_id == str(center.alex.id)) == 1


HOURS = {"mon": [["08:00", "18:00"]], "sat": [["09:00", "12:00"]]}


class TestQueuesAndDispositions:

    def test_a_queue_is_created_then_replaced_by_name(self, api: Api) -> None:
        body = {"name": "nurse", "skills": [{"skill": "triage", "min_level": 2}], "business_hours": HOURS,
                "time_zone": "America/Chicago", "steps": [{"after_seconds": 60, "overflow_queue": "scheduling"}]}
        created = api.ok("POST", "/queues", "admin", body)
        updated = api.ok("POST", "/queues", "admin", body | {"offer_seconds": 30})
        assert (updated["id"], updated["offer_seconds"]) == (created["id"], 30)
        assert updated["business_hours"] == HOURS
        assert "nurse" in [row["name"] for row in api.ok("GET", "/queues", "alex")]

    @pytest.mark.parametrize(("change", "field", "loc"), [
        ({"business_hours": {"mon": [["18:00", "08:00"]]}}, None, "business_hours"),
        ({"business_hours": {"monday": [["08:00", "18:00"]]}}, None, "business_hours"),
        ({"business_hours": {"mon": [["8am", "6pm"]]}}, None, "business_hours"),
        ({"time_zone": "Mars/Olympus"}, None, "time_zone"),
        ({"holidays": ["2026-13-01"]}, None, "holidays"),
        ({"steps": [{"after_seconds": 60, "overflow_queue": "nurse"}]}, "steps", None),
        ({"steps": [{"after_seconds": 60, "overflow_queue": "nowhere"}]}, "steps", None),
        ({"steps": [{"after_seconds": 60}]}, None, "steps"),
        ({"name": "Nurse Line"}, None, "name"),
    ], ids=["end before start", "bad day", "bad clock", "zone", "holiday", "overflow into itself",
            "overflow to nowhere", "step does nothing", "name"])
    def test_a_bad_queue_is_a_clear_422(self, api: Api, change: dict[str, Any], field: str | None,
                                        loc: str | None) -> None:
        response = api.call("POST", "/queues", "admin", {"name": "nurse"} | change)
        assert_problem(response, 422, field=field, loc=loc)
        assert "nurse" not in [row["name"] for row in api.ok("GET", "/queues", "admin")]

    def test_disposition_codes_are_added_and_relabelled(self, api: Api) -> None:
        codes = {row["code"]: row for row in api.ok("GET", "/dispositions", "alex")}
        assert codes["booked"]["resolves"] is True
        saved = api.ok("PUT", "/dispositions", "admin", [
            {"code": "left_message", "label": "Left a message", "resolves": False},
            {"code": "booked", "label": "Visit booked"}])
        after = {row["code"]: row for row in saved}
        assert after["left_message"]["resolves"] is False
        assert after["booked"]["label"] == "Visit booked"
        assert_problem(api.call("PUT", "/dispositions", "admin", [{"code": "Bad Code", "label": "x"}]), 422,
                       loc="code")


class TestWallboard:
    def test_figures_after_an_answer_an_abandon_and_a_wait(self, api: Api, center: Center) -> None:
        api.ok("PUT", "/agents/me/state", "blair", {"state": "lunch"})
        answered = api.answered()  # Alex takes it; nobody is left for the next two
        abandoned = api.contact()
        api.route()
        api.ok("POST", f"/interactions/{abandoned['id']}/end", "admin")
        api.contact()
        board = api.ok("GET", "/wallboard", "supervisor")
        queue = next(row for row in board["queues"] if row["name"] == "scheduling")
        assert {key: queue[key] for key in ("waiting", "offered", "answered", "abandoned")} == \
            {"waiting": 1, "offered": 3, "answered": 1, "abandoned": 1}
        assert queue["service_level"] == 1.0  # answered at once; the early hang-up does not count
        wait = datetime.fromisoformat(answered["answered_at"]) - datetime.fromisoformat(answered["queued_at"])
        assert queue["average_answer_seconds"] == pytest.approx(wait.total_seconds(), abs=0.01)
        assert 0 <= queue["longest_wait_seconds"] < 60
        billing = next(row for row in board["queues"] if row["name"] == "billing")
        assert (billing["offered"], billing["service_level"], billing["average_answer_seconds"]) == (0, None, None)
        agents = {row["name"]: row for row in board["agents"]}
        assert (agents["Alex"]["state"], agents["Alex"]["load_voice"]) == ("busy", 1)
        assert agents["Blair"]["state"] == "lunch"
