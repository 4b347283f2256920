"""The IVR over Twilio webhooks, every path in English and Spanish. The TwiML is parsed as XML and checked
verb by verb: what is said, in which voice, and where each <Gather>, <Enqueue> and <Record> leads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.db import UnitOfWork, utcnow
from careline.routing.models import Interaction, InteractionEvent
from careline.routing.service import engine, offers
from careline.telephony.ivr import PROMPTS
from careline.telephony.models import Call
from careline.telephony.schemas import MenuOption
from tests.factories.patients import make_patient
from tests.factories.routing import make_agent, make_contact, make_queue, open_offers
from tests.factories.telephony import CENTER, call_params, make_number, post_signed, spoken, twiml, verbs

SID = "CA5d1c7e0b8a9f4e3d2c1b0a9f8e7d6c5b"
CALLER = "+16175550142"
BASE = "http://testserver/telephony/twilio"
VOICES = {"en": "en-US", "es": "es-MX"}
DIGIT = {"en": "1", "es": "2"}
IVR_MENU = [MenuOption(digit="1", option="appointments", queue="scheduling"),
            MenuOption(digit="4", option="billing", queue="billing"),
            MenuOption(digit="5", option="nurse", queue="nurse"),
            MenuOption(digit="0", option="operator", queue="general")]
BOTH = pytest.mark.parametrize("lang", ["en", "es"])


@pytest.fixture(autouse=True)
def queues(uow: UnitOfWork) -> None:
    for name in ("scheduling", "billing", "nurse", "general"):
        make_queue(uow, name)
    uow.commit()


@pytest.fixture
def number(uow: UnitOfWork) -> None:
    make_number(uow, menu=IVR_MENU, after_hours_queue="general")
    uow.commit()


def say(lang: str, key: str, **values: object) -> str:
    return PROMPTS[lang][key].format(**values)


def post(client: TestClient, path: str, sid: str = SID, caller: str = CALLER, **extra: str) -> ET.Element:
    return twiml(post_signed(client, f"/telephony/twilio/{path}", call_params(sid, caller, **extra)))


def to_menu(client: TestClient, lang: str, sid: str = SID, caller: str = CALLER) -> ET.Element:
    post(client, "voice", sid, caller)
    return post(client, "gather/language", sid, caller, Digits=DIGIT[lang])


def gather(root: ET.Element, stage: str, digits: str = "1") -> ET.Element:
    found = root.find("Gather")
    assert found is not None, ET.tostring(root)
    assert found.get("action") == f"{BASE}/gather/{stage}"
    assert found.get("method") == "POST"
    assert found.get("numDigits") == digits
    return found


def enqueued(root: ET.Element, queue: str) -> ET.Element:
    found = root.find("Enqueue")
    assert found is not None, ET.tostring(root)
    assert found.text == queue
    assert found.get("waitUrl") == f"{BASE}/wait"
    assert found.get("waitUrlMethod") == "POST"
    assert found.get("action") == f"{BASE}/left-line"
    return found


def the_call(sessions: sessionmaker[Session], sid: str = SID) -> Call:
    with sessions() as session:
        return session.scalars(select(Call).where(Call.provider_sid == sid)).one()


def contacts(sessions: sessionmaker[Session]) -> list[Interaction]:
    with sessions() as session:
        return list(session.scalars(select(Interaction).order_by(Interaction.created_at)))


def count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.usefixtures("number")
def test_the_urgent_notice_comes_first_in_both_languages_then_the_language_choice(client: TestClient) -> None:
    root = post(client, "voice")
    assert verbs(root) == ["Say", "Say", "Gather", "Redirect"]
    first, second = root[0], root[1]
    assert (first.text, first.get("language")) == (say("en", "urgent"), "en-US")
    assert (second.text, second.get("language")) == (say("es", "urgent"), "es-MX")
    choice = gather(root, "language")
    assert [(s.text, s.get("language")) for s in choice.iter("Say")] == [
        ("Thank you for calling.", "en-US"), ("Gracias por llamar.", "es-MX"),
        (say("en", "choose_language", digit=1), "en-US"), (say("es", "choose_language", digit=2), "es-MX")]
    assert root[3].text == f"{BASE}/gather/language"  # silence: asked again through the same answer


@pytest.mark.parametrize(("lang", "greeting"), [("en", "Welcome."), ("es", "Bienvenido.")])
def test_a_one_language_number_says_the_notice_then_goes_straight_to_the_menu(
        client: TestClient, uow: UnitOfWork, lang: str, greeting: str) -> None:
    make_number(uow, menu=IVR_MENU, after_hours_queue="general", languages=[lang], greeting={lang: greeting})
    uow.commit()
    root = post(client, "voice")
    assert verbs(root)[:2] == ["Say", "Say"]
    assert root[0].text == say(lang, "urgent")
    assert root[1].text == greeting
    assert all(s.get("language") == VOICES[lang] for s in root.iter("Say"))
    assert say(lang, "billing", digit=4) in spoken(gather(root, "menu"))


@BOTH
@pytest.mark.usefixtures("number")
def test_choosing_a_language_gives_the_menu_in_it_operator_last(client: TestClient, lang: str) -> None:
    menu = gather(to_menu(client, lang), "menu")
    assert spoken(menu) == [say(lang, "appointments", digit=1), say(lang, "billing", digit=4),
                            say(lang, "nurse", digit=5), say(lang, "operator", digit=0)]
    assert {s.get("language") for s in menu.iter("Say")} == {VOICES[lang]}


@BOTH
@pytest.mark.usefixtures("number")
def test_a_wrong_key_is_not_one_of_the_choices_and_three_go_to_the_operator(
        client: TestClient, sessions: sessionmaker[Session], lang: str) -> None:
    to_menu(client, lang)
    for _attempt in range(2):
        again = post(client, "gather/menu", Digits="9")
        said = spoken(gather(again, "menu"))
        assert said[0] == say(lang, "not_an_option")
        assert said[1:] == [say(lang, "appointments", digit=1), say(lang, "billing", digit=4),
                            say(lang, "nurse", digit=5), say(lang, "operator", digit=0)]
        assert contacts(sessions) == []
    third = post(client, "gather/menu", Digits="7")
    enqueued(third, "general")
    [contact] = contacts(sessions)
    assert contact.reason == "other"
    assert contact.language == lang
    assert the_call(sessions).option == "operator"


@BOTH
@pytest.mark.usefixtures("number")
def test_a_menu_option_enqueues_the_caller_in_its_queue(client: TestClient, sessions: sessionmaker[Session],
                                                         lang: str) -> None:
    to_menu(client, lang)
    root = post(client, "gather/menu", Digits="5")
    assert verbs(root) == ["Enqueue"]
    enqueued(root, "nurse")
    [contact] = contacts(sessions)
    assert (contact.status, contact.channel, contact.reason, contact.language) == ("queued", "voice",
                                                                                   "nurse_advice", lang)
    assert contact.address == CALLER
    assert contact.external_ref == f"twilio:{SID}"
    call = the_call(sessions)
    assert (call.stage, call.option, call.interaction_id) == ("waiting", "nurse", contact.id)


@BOTH
@pytest.mark.usefixtures("number")
def test_no_birth_date_step_for_a_caller_whose_number_matches_no_patient(
        client: TestClient, uow: UnitOfWork, sessions: sessionmaker[Session], lang: str) -> None:
    make_patient(uow, phones=(("+16175550177", "mobile"),))
    uow.commit()
    to_menu(client, lang)
    enqueued(post(client, "gather/menu", Digits="4"), "billing")


@BOTH
@pytest.mark.parametrize("keyed", ["02031961", "01011990", "#"])
@pytest.mark.usefixtures("number")
def test_the_birth_date_step_pre_verifies_only_a_matching_date_and_says_nothing_of_the_record(
        client: TestClient, uow: UnitOfWork, sessions: sessionmaker[Session], lang: str, keyed: str) -> None:
    patient = make_patient(uow, given="Ana", family="Rivera", birth_date=date(1961, 2, 3), phones=((CALLER, "mobile"),))
    uow.commit()
    to_menu(client, lang)
    asked = post(client, "gather/menu", Digits="4")
    identify = gather(asked, "identify", digits="8")
    assert identify.get("finishOnKey") == "#"
    assert spoken(identify) == [say(lang, "identify")]

    answered = post(client, "gather/identify", Digits=keyed)
    enqueued(answered, "billing")
    heard = [text for root in (asked, answered) for text in spoken(root)]
    assert not any("Ana" in text or "Rivera" in text or "1961" in text for text in heard)
    assert spoken(answered) == ([] if keyed == "#" else [say(lang, "thanks")])  # the same thanks, match or not
    [contact] = contacts(sessions)
    call = the_call(sessions)
    if keyed == "02031961":
        assert call.patient_id == patient.id
        assert contact.patient_id == patient.id
        assert contact.preverified == ["birth_date"]
    else:
        assert call.patient_id is None
        assert contact.preverified == []


@pytest.mark.usefixtures("number")
def test_a_birth_date_shared_by_two_patients_on_the_number_verifies_neither(
        client: TestClient, uow: UnitOfWork, sessions: sessionmaker[Session]) -> None:
    for given in ("Ana", "Eva"):
        make_patient(uow, given=given, birth_date=date(1961, 2, 3), phones=((CALLER, "home"),))
    uow.commit()
    to_menu(client, "en")
    post(client, "gather/menu", Digits="4")
    assert spoken(post(client, "gather/identify", Digits="02031961")) == ["Thank you."]
    assert the_call(sessions).patient_id is None
    assert contacts(sessions)[0].preverified == []


@BOTH
@pytest.mark.usefixtures("number")
def test_the_wait_says_the_place_in_line_and_expected_wait_and_offers_a_callback(
        client: TestClient, uow: UnitOfWork, sessions: sessionmaker[Session], lang: str) -> None:
    started = utcnow() - timedelta(minutes=30)  # an earlier billing caller waited 3 minutes for an answer
    earlier = make_contact(uow, "billing", now=started)
    taker = make_agent(uow, "taker", available_at=started)
    engine.run_pass(uow, started + timedelta(minutes=3))
    offers.accept(uow, taker.actor, open_offers(uow, taker)[0].id, now=started + timedelta(minutes=3))
    uow.commit()
    assert earlier.id

    first = "CA" + "1" * 32
    to_menu(client, lang, first, "+16175550143")
    post(client, "gather/menu", first, "+16175550143", Digits="4")
    to_menu(client, lang)
    enqueued(post(client, "gather/menu", Digits="4"), "billing")

    wait = post(client, "wait")
    offer = gather(wait, "waiting")
    assert spoken(offer) == [say(lang, "position", position=2), say(lang, "expected_wait", minutes=3),
                             say(lang, "offer_callback")]
    assert verbs(wait)[-1] == "Pause"  # no hold music configured: silence, then Twilio fetches the wait URL again
    assert spoken(post(client, "wait", first, "+16175550143"))[0] == say(lang, "position", position=1)


@BOTH
@pytest.mark.usefixtures("number")
def test_press_1_in_line_becomes_a_callback_that_keeps_its_place_and_survives_the_hang_up(
        client: TestClient, sessions: sessionmaker[Session], lang: str) -> None:
    to_menu(client, lang)
    post(client, "gather/menu", Digits="4")
    [before] = contacts(sessions)
    confirmed = post(client, "gather/waiting", Digits="1")
    assert verbs(confirmed) == ["Say", "Hangup"]
    assert spoken(confirmed) == [say(lang, "callback_confirmed")]
    ended = post_signed(client, "/telephony/twilio/voice/status", call_params(SID, CallStatus="completed"))
    assert ended.status_code == 204
    [after] = contacts(sessions)
    assert (after.channel, after.status) == ("callback", "queued")
    assert after.queued_at == before.queued_at
    assert after.abandoned_at is None
    with sessions() as session:
        kinds = list(session.scalars(select(InteractionEvent.kind).where(InteractionEvent.interaction_id == after.id)))
    assert "callback_requested" in kinds
    assert "abandoned" not in kinds
    assert the_call(sessions).ended_at is not None


@BOTH
@pytest.mark.usefixtures("number")
def test_a_withheld_caller_is_not_offered_a_callback(client: TestClient, sessions: sessionmaker[Session],
                                                      lang: str) -> None:
    to_menu(client, lang, caller="anonymous")
    enqueued(post(client, "gather/menu", caller="anonymous", Digits="4"), "billing")
    wait = post(client, "wait", caller="anonymous")
    assert wait.find("Gather") is None
    assert say(lang, "offer_callback") not in spoken(wait)
    assert spoken(wait) == [say(lang, "position", position=1)]
    [contact] = contacts(sessions)
    assert contact.channel == "voice"


def closed_today(zone: str = "America/New_York") -> dict[str, object]:
    """Hours that would be open all day, but today (and the days either side, for a run at midnight) is a holiday."""
    today = datetime.now(ZoneInfo(zone)).date()
    every_day = {day: [("00:00", "23:59")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    return {"time_zone": zone, "business_hours": every_day,
            "holidays": [(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_after_hours_the_caller_leaves_a_voicemail_that_becomes_a_queued_callback(
        client: TestClient, uow: UnitOfWork, sessions: sessionmaker[Session], lang: str) -> None:
    make_number(uow, menu=IVR_MENU, after_hours_queue="general", languages=[lang], **closed_today())
    uow.commit()
    root = post(client, "voice")
    assert verbs(root) == ["Say", "Say", "Say", "Record"]
    assert spoken(root) == [say(lang, "urgent"), say(lang, "after_hours"), say(lang, "leave_message")]
    record = root[3]
    assert record.get("action") == f"{BASE}/voicemail"
    assert (record.get("method"), record.get("finishOnKey"), record.get("maxLength")) == ("POST", "#", "120")
    assert contacts(sessions) == []

    link = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0123456789abcdef0123456789abcdef"
    taken = post(client, "voicemail", RecordingUrl=link, RecordingDuration="31",
                 RecordingSid="RE0123456789abcdef0123456789abcdef")
    assert verbs(taken) == ["Say", "Hangup"]
    assert spoken(taken) == [say(lang, "message_taken")]
    [contact] = contacts(sessions)
    assert (contact.channel, contact.status, contact.address, contact.language) == ("callback", "queued", CALLER, lang)
    with sessions() as session:
        voicemail = session.scalars(select(InteractionEvent).where(InteractionEvent.interaction_id == contact.id,
                                                                  InteractionEvent.kind == "voicemail")).one()
        assert voicemail.detail == {"recording_url": link, "seconds": 31}
        queue = session.scalar(select(Interaction.queue_id).where(Interaction.id == contact.id))
    assert queue is not None
    assert the_call(sessions).recording_url == link
    again = post(client, "voicemail", RecordingUrl=link, RecordingDuration="31")  # Twilio retries
    assert spoken(again) == [say(lang, "goodbye")]
    assert len(contacts(sessions)) == 1


def test_a_hang_up_at_the_tone_leaves_no_callback(client: TestClient, uow: UnitOfWork,
                                                  sessions: sessionmaker[Session]) -> None:
    make_number(uow, menu=IVR_MENU, after_hours_queue="general", **closed_today())
    uow.commit()
    post(client, "voice")
    post(client, "voicemail", RecordingUrl="", RecordingDuration="0")
    assert contacts(sessions) == []


@BOTH
def test_after_hours_with_the_callback_option_press_1_queues_a_callback(
        client: TestClient, uow: UnitOfWork, sessions: sessionmaker[Session], lang: str) -> None:
    make_number(uow, menu=IVR_MENU, after_hours_queue="general", languages=[lang], after_hours="callback",
                **closed_today())
    uow.commit()
    root = post(client, "voice")
    assert root[0].text == say(lang, "urgent")
    offer = gather(root, "after_hours")
    assert spoken(offer) == [say(lang, "after_hours"), say(lang, "offer_after_hours_callback")]
    assert verbs(root)[-2:] == ["Say", "Hangup"]  # no key pressed: goodbye
    assert root.find("Record") is None
    done = post(client, "gather/after_hours", Digits="1")
    assert spoken(done) == [say(lang, "message_taken")]
    [contact] = contacts(sessions)
    assert (contact.channel, contact.status) == ("callback", "queued")


def test_after_hours_without_pressing_1_nothing_is_queued(client: TestClient, uow: UnitOfWork,
                                                          sessions: sessionmaker[Session]) -> None:
    make_number(uow, menu=IVR_MENU, after_hours_queue="general", after_hours="callback", **closed_today())
    uow.commit()
    post(client, "voice")
    assert spoken(post(client, "gather/after_hours", Digits="9")) == [say("en", "goodbye")]
    assert contacts(sessions) == []


@pytest.mark.usefixtures("number")
def test_a_call_to_a_number_not_configured_is_not_in_service_and_not_recorded(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    root = twiml(post_signed(client, "/telephony/twilio/voice", call_params(SID, To="+16175550999",
                                                                            Called="+16175550999")))
    assert verbs(root) == ["Say", "Hangup"]
    assert "not in service" in spoken(root)[0]
    assert count(sessions, Call) == 0


@pytest.mark.usefixtures("number")
def test_the_same_call_sid_twice_records_one_call_and_answers_the_same(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    first = post_signed(client, "/telephony/twilio/voice", call_params(SID))
    again = post_signed(client, "/telephony/twilio/voice", call_params(SID))
    assert twiml(first) is not None
    assert again.text == first.text
    assert count(sessions, Call) == 1
    post(client, "gather/language", Digits="1")
    line = post(client, "gather/menu", Digits="4")
    replayed = post_signed(client, "/telephony/twilio/voice", call_params(SID))
    enqueued(twiml(replayed), "billing")  # where the call is now, not a new start
    assert count(sessions, Call) == 1
    assert count(sessions, Interaction) == 1
    assert ET.tostring(twiml(replayed)) == ET.tostring(line)


@pytest.mark.usefixtures("number")
def test_a_replayed_menu_answer_after_the_call_moved_on_changes_nothing(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    to_menu(client, "en")
    post(client, "gather/menu", Digits="4")
    [contact] = contacts(sessions)
    with sessions() as session:
        events = session.scalar(select(func.count()).select_from(InteractionEvent)) or 0
    for digits in ("4", "5", "9"):
        enqueued(post(client, "gather/menu", Digits=digits), "billing")
        enqueued(post(client, "gather/language", Digits="2"), "billing")
    [still] = contacts(sessions)
    assert (still.id, still.queue_id, still.reason, still.language) == (contact.id, contact.queue_id, "billing", "en")
    call = the_call(sessions)
    assert (call.stage, call.option, call.language, call.tries) == ("waiting", "billing", "en", 0)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InteractionEvent)) == events


def test_a_gather_for_an_unknown_call_hangs_up_and_records_nothing(client: TestClient,
                                                                   sessions: sessionmaker[Session]) -> None:
    root = post(client, "gather/menu", Digits="4")
    assert verbs(root) == ["Hangup"]
    assert count(sessions, Call) == 0
    assert count(sessions, Interaction) == 0
    assert CENTER
