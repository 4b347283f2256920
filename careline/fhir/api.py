"""The standard FHIR R4 Patient API: read, search (name, phone, birthdate, identifier, _count), metadata."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from careline.fhir import resources
from careline.patients.errors import PatientError, PatientNotFound, RestrictedRecord
from careline.patients.schemas import SearchCriteria
from careline.patients.service import lookup, records
from careline.web.deps import PatientRules, Public, RecordReaders, Uow

router = APIRouter(prefix="/fhir", tags=["fhir"])

_STATUS = {PatientNotFound: (404, "not-found"), RestrictedRecord: (403, "forbidden")}


def _fhir(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, media_type=resources.FHIR_JSON)


def _outcome(status_code: int, code: str, message: str) -> JSONResponse:
    return _fhir(resources.operation_outcome("error", code, message), status_code)


@router.get("/metadata")
def metadata(_actor: Public) -> JSONResponse:
    """The CapabilityStatement: what this server supports."""
    return _fhir(resources.capability_statement())


@router.get("/Patient/{patient_id}")
def read_patient(actor: RecordReaders, uow: Uow, patient_id: str) -> JSONResponse:
    """Read one Patient (an audited read)."""
    try:
        patient = records.read_patient(uow, actor, UUID(patient_id))
    except ValueError:
        return _outcome(404, "not-found", "No Patient with that id.")
    except (PatientNotFound, RestrictedRecord) as error:
        status_code, code = _STATUS[type(error)]
        return _outcome(status_code, code, str(error))
    return _fhir(resources.patient_resource(patient))


@router.get("/Patient")
def search_patients(
    request: Request, actor: RecordReaders, uow: Uow, policy: PatientRules,
    name: str | None = None, phone: str | None = None, birthdate: str | None = None,
    identifier: str | None = None, count: Annotated[int, Query(alias="_count", ge=1, le=100)] = 20,
    page: Annotated[int, Query(alias="_page", ge=1, le=10_000)] = 1,
) -> JSONResponse:
    """Search Patients; every Patient returned is an audited read. Returns a searchset Bundle."""
    try:
        criteria = SearchCriteria(name=name, phone=phone, birth_date=_date_param(birthdate),
                                  identifier=_token_value(identifier), identifier_system=_token_system(identifier),
                                  page=page, per_page=count)
    except (ValueError, ValidationError) as error:
        return _outcome(400, "invalid", _first_problem(error))
    if criteria.is_empty():
        return _outcome(400, "too-costly", "Give at least one of name, phone, birthdate or identifier.")
    try:
        found, has_next = lookup.search_patient_records(uow, actor, policy, criteria)
    except PatientError as error:
        return _outcome(400, "invalid", str(error))
    base = str(request.base_url).rstrip("/") + "/fhir"
    params = {k: v for k, v in request.query_params.items() if k != "_page"}
    next_url = f"{base}/Patient?{urlencode(params | {'_page': page + 1})}" if has_next else None
    bundle = resources.searchset(base, [resources.patient_resource(p) for p in found],
                                 self_url=str(request.url), next_url=next_url)
    return _fhir(bundle)


def _date_param(value: str | None) -> str | None:
    """FHIR dates may carry a comparison prefix; exact matching ('eq' or none) is what is supported."""
    if value is None:
        return None
    if value[:2].isalpha():
        if value[:2] != "eq":
            raise ValueError(f"birthdate prefix {value[:2]!r} is not supported; use an exact date")
        return value[2:]
    return value


def _token_value(token: str | None) -> str | None:
    return token.split("|", 1)[-1] if token else None


def _token_system(token: str | None) -> str | None:
    if not token or "|" not in token:
        return None
    system = token.split("|", 1)[0]
    return None if system == resources.MRN_SYSTEM else (system or None)


def _first_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return str(error)
