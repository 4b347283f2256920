"""Every router the app serves, in one list: the app mounts it, the access check and role matrix walk it."""

from fastapi import APIRouter

from careline.audit import api as audit_api
from careline.audit import pages as audit_pages
from careline.auth import api as auth_api
from careline.auth import pages as auth_pages
from careline.fhir import api as fhir_api
from careline.fhir import scheduling_api as fhir_scheduling_api
from careline.home import pages as home_pages
from careline.messaging import api as messaging_api
from careline.messaging import chat_api, email_api, phone_pages
from careline.messaging import pages as messaging_pages
from careline.messaging import twilio_api as sms_twilio_api
from careline.patients import api as patients_api
from careline.patients import pages as patients_pages
from careline.routing import api as routing_api
from careline.routing import pages as routing_pages
from careline.scheduling import api as scheduling_api
from careline.scheduling import pages as scheduling_pages
from careline.telephony import api as telephony_api
from careline.telephony import cti_api, twilio_api
from careline.telephony import pages as telephony_pages
from careline.web import system

ROUTERS: tuple[APIRouter, ...] = (
    system.router,
    auth_pages.router,
    auth_api.router,
    home_pages.router,
    audit_pages.router,
    audit_api.router,
    patients_pages.router,
    patients_api.router,
    fhir_api.router,
    scheduling_pages.router,
    scheduling_api.router,
    fhir_scheduling_api.router,
    routing_api.router,
    routing_pages.router,
    twilio_api.router,
    telephony_api.router,
    cti_api.router,
    telephony_pages.router,
    sms_twilio_api.router,
    email_api.router,
    chat_api.router,
    messaging_api.router,
    messaging_pages.router,
    phone_pages.router,
)
