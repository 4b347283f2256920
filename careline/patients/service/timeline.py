"""Assembling the full 360 view: the patient's story, newest first, and the facts an agent needs at a glance."""

from __future__ import annotations

from datetime import date

from careline.db import UnitOfWork
from careline.patients import repository, rules
from careline.patients.models import Condition, Immunization, Observation, PatientNote, Procedure
from careline.patients.schemas import CodedFact, Patient360, PatientRead, TimelineItem

TIMELINE_LENGTH = 60
# LOINC codes of the results agents are asked about and care gaps are built on.
KEY_OBSERVATIONS = (
    "4548-4",  # Hemoglobin A1c
    "85354-9",  # Blood pressure panel
    "39156-5",  # Body mass index
    "18262-6",  # LDL cholesterol
    "2093-3",  # Total cholesterol
)


def build_360(uow: UnitOfWork, patient: PatientRead, *, today: date) -> Patient360:
    session, pid = uow.session, patient.id
    items = [TimelineItem(at=enc.starts_at, kind="encounter", title=enc.type_display or "Visit",
                          detail=" · ".join(x for x in (enc.reason_display, who) if x))
             for enc, who in repository.encounters_of(session, pid, limit=TIMELINE_LENGTH)]
    items += [TimelineItem(at=c.onset, kind="condition", title=c.display or c.code, detail="diagnosed")
              for c in repository.recent(session, Condition, Condition.onset, pid, limit=20)]
    items += [TimelineItem(at=p.performed_at, kind="procedure", title=p.display or p.code)
              for p in repository.recent(session, Procedure, Procedure.performed_at, pid, limit=20)]
    items += [TimelineItem(at=i.occurred_at, kind="immunization", title=i.display or i.code)
              for i in repository.recent(session, Immunization, Immunization.occurred_at, pid, limit=20)]
    items += [TimelineItem(at=n.created_at, kind="note", title=n.body, detail=f"by {n.author}")
              for n in repository.recent(session, PatientNote, PatientNote.created_at, pid, limit=20)]
    items.sort(key=lambda item: (item.at is not None, item.at), reverse=True)
    return Patient360(
        patient=patient,
        age=rules.age_on(patient.birth_date, today),
        timeline=items[:TIMELINE_LENGTH],
        active_conditions=[CodedFact(code=c.code, display=c.display, at=c.onset)
                           for c in repository.active_conditions(session, pid)],
        key_observations=[_fact(o) for o in repository.latest_observations(session, pid, KEY_OBSERVATIONS)],
        counts=repository.counts_of(session, pid),
    )


def _fact(observation: Observation) -> CodedFact:
    return CodedFact(code=observation.code, display=observation.display, at=observation.effective_at,
                     value=_value(observation))


def _value(observation: Observation) -> str | None:
    if observation.components:
        parts = [c.get("value") for c in observation.components]
        unit = observation.components[0].get("unit") or ""
        return "/".join(f"{p:g}" if isinstance(p, int | float) else "?" for p in parts) + f" {unit}".rstrip()
    if observation.value is not None:
        return f"{observation.value:g} {observation.unit or ''}".rstrip()
    return observation.value_text
