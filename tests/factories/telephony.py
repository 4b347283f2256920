"""Numbers, signed Twilio webhooks and a worker for telephony tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from httpx2 import Response
from twilio.request_validator import RequestValidator

from careline.db import UnitOfWork
from careline.telephony.schemas import IvrConfig, MenuOption, NumberIn, NumberRead
from careline.telephony.service import numbers
from tests.factories.routing import ADMIN

AUTH_TOKEN = "test_auth_token_0123456789abcdef"
ACCOUNT_SID = "ACd0e2490e7a4f16eab9f2e18679a22176"
CENTER = "+16175550100"
ORIGIN = "http://testserver"
MENU = [MenuOption(digit="1", option="appointments", queue="scheduling"),
        MenuOption(digit="4", option="billing", queue="billing"),
        MenuOption(digit="0", option="operator", queue="scheduling")]


def make_number(uow: UnitOfWork, number: str = CENTER, **ivr: Any) -> NumberRead:
    """A number of the center: ``ivr`` overrides IVR settings; time_zone, business_hours, holidays set its hours."""
    hours = {key: ivr.pop(key) for key in ("time_zone", "business_hours", "holidays") if key in ivr}
    config = IvrConfig(**({"menu": MENU, "after_hours_queue": "scheduling"} | ivr))
    return numbers.save(uow, ADMIN, NumberIn(number=number, label="Main line", ivr=config, **hours))


def call_params(sid: str, caller: str = "+16175550142", **extra: str) -> dict[str, str]:
    """A Twilio-shaped voice webhook body: the parameters Twilio sends for every request on a call."""
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid, "CallStatus": "ringing",
            "Direction": "inbound", "From": caller, "To": CENTER, "Caller": caller, "Called": CENTER,
            "FromCountry": "US", "ToCountry": "US", **extra}


def sign(path: str, params: dict[str, str], *, token: str = AUTH_TOKEN, origin: str = ORIGIN) -> str:
    return str(RequestValidator(token).compute_signature(origin + path, params))


def post_signed(client: TestClient, path: str, params: dict[str, str], *, origin: str = ORIGIN,
                **headers: str) -> Response:
    return client.post(path, content=urlencode(params), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(path, params, origin=origin),
        **headers})


def twiml(response: Response) -> ET.Element:
    """The TwiML of a webhook's answer, parsed as XML: a ``<Response>`` of Twilio's verbs."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)  # noqa: S314 - our own app's answer, not untrusted input
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def spoken(root: ET.Element) -> list[str]:
    """Everything said, in order, whether inside a ``<Gather>`` or not."""
    return [say.text or "" for say in root.iter("Say")]
