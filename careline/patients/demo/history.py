"""A patient's clinical past: chronic conditions, visits with their results, screenings and vaccines.

Shaped so that care-gap rules have something to find: diabetics with and without a recent HbA1c, screenings
done, overdue or never done, flu shots in some autumns and not others.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from careline.patients.demo.catalog import (
    ASTHMA,
    BMI,
    BP_PANEL,
    CERVICAL,
    CHRONIC,
    COLONOSCOPY,
    CVX,
    DIABETES,
    DIASTOLIC,
    ENCOUNTERS,
    FLU,
    FOLLOWED_UP,
    HBA1C,
    HYPERTENSION,
    LOINC,
    MAMMOGRAPHY,
    PNEUMOCOCCAL,
    PREDIABETES,
    SNOMED,
    SYMPTOMS,
    SYSTOLIC,
    TDAP,
    URGENT,
    URGENT_VISITS_CUM,
    WINDOW_DAYS,
    YEAR_DAYS,
)
from careline.patients.demo.draws import Directory, Draws, Person, Row


class ClinicalHistory(Draws):
    """The clinical half of the population generator: one person's history at a time, from the shared draws."""

    directory: Directory

    def add_history(self, rows: dict[str, list[Row]], person: Person) -> None:
        """Append the person's history to ``rows`` (by table name); notes their conditions on ``person``."""
        rows["conditions"].extend(self._conditions(person))
        bmi, a1c = self._baselines(person)
        for kind, days_ago in self._visits(person):
            at = self.at(person, days_ago, hours=(7, 22) if kind in URGENT else (8, 17))
            rows["encounters"].append(self._encounter(person, kind, at))
            rows["observations"].extend(self._observations(person, kind, at, bmi=bmi, a1c=a1c))
        rows["procedures"].extend(self._screenings(person))
        rows["immunizations"].extend(self._immunizations(person))

    def _conditions(self, person: Person) -> list[Row]:
        band = 0 if person.age < 18 else 1 if person.age < 45 else 2 if person.age < 65 else 3
        rows = []
        for code, (display, onset_age, chances) in CHRONIC.items():
            if person.age < onset_age or (code == PREDIABETES and DIABETES in person.conditions):
                continue
            if self.chance(chances[band]):
                person.conditions.add(code)
                rows.append(self._condition(person, code, display, onset_age))
        return rows

    def _condition(self, person: Person, code: str, display: str, onset_age: int) -> Row:
        onset_at_age = self.between(onset_age, min(person.age, 12) if code == ASTHMA else person.age)
        years_ago = (person.age - onset_at_age) * YEAR_DAYS + self.between(0, YEAR_DAYS - 1)
        onset_days = min(self.age_days(person), max(person.newest, years_ago))
        resolved = code == ASTHMA and onset_days > 2 * YEAR_DAYS and self.chance(0.3)  # outgrown
        return {"id": self.new_id(), "source_id": None, "patient_id": person.id, "code_system": SNOMED,
                "code": code, "display": display, "clinical_status": "resolved" if resolved else "active",
                "onset": self.at(person, onset_days),
                "abatement": self.at(person, self.between(person.newest, onset_days)) if resolved else None}

    def _visits(self, person: Person) -> list[tuple[str, int]]:
        """(kind, days ago), at most 12, newest first: yearly check-ups, chronic follow-ups, urgent visits."""
        visits: list[tuple[str, int]] = []
        wellness = "well_child" if person.age < 18 else "wellness"
        yearly = 0.85 if person.age < 3 or person.age >= 65 else self.uniform(0.25, 0.85)
        chronic = len(person.conditions & FOLLOWED_UP)
        for year in range(5):
            if self.chance(yearly):
                visits.append((wellness, self.between(year * YEAR_DAYS + 1, (year + 1) * YEAR_DAYS)))
            if chronic and self.chance(0.3 * chronic):
                visits.append(("follow_up", self.between(year * YEAR_DAYS + 1, (year + 1) * YEAR_DAYS)))
        for _ in range(self.weighted((0, 1, 2, 3), URGENT_VISITS_CUM)):
            visits.append(("emergency" if self.chance(0.1) else "symptom", self.between(1, WINDOW_DAYS)))
        inside = [(kind, days) for kind, days in visits if person.newest <= days <= person.oldest]
        if DIABETES in person.conditions and not any(kind == "follow_up" for kind, _ in inside):
            days_ago = self.days_ago(person, min(person.oldest, 3 * YEAR_DAYS))  # diabetics are under care
            inside += [("follow_up", days_ago)] if days_ago else []
        return sorted(inside, key=lambda visit: visit[1])[:12]

    def _encounter(self, person: Person, kind: str, at: datetime) -> Row:
        class_code, code, display = ENCOUNTERS[kind]
        practitioner = person.pcp_id
        if kind in URGENT:
            practitioner = self.pick(self.directory.clinicians["Family Medicine", person.state])
        elif kind == "follow_up" and HYPERTENSION in person.conditions and self.chance(0.2):
            practitioner = self.pick(self.directory.clinicians["Cardiology", person.state])
        minutes = self.pick((15, 20, 30, 45)) * (4 if kind == "emergency" else 1)
        return {"id": self.new_id(), "source_id": None, "patient_id": person.id, "starts_at": at,
                "ends_at": at + timedelta(minutes=minutes), "class_code": class_code, "type_code": code,
                "type_display": display, "reason_display": self._reason(person, kind),
                "practitioner_id": practitioner, "organization_id": self.directory.organizations[person.state],
                "location_id": self.directory.locations[person.state]}

    def _reason(self, person: Person, kind: str) -> str | None:
        if kind in URGENT:
            return self.pick(SYMPTOMS)
        if kind == "follow_up":
            followed = sorted(person.conditions & FOLLOWED_UP)
            return CHRONIC[self.pick(followed)][0] if followed else None
        return None

    def _baselines(self, person: Person) -> tuple[float, float]:
        """This person's usual BMI and HbA1c, so their results move around a level rather than jump."""
        bmi = min(48.0, max(17.5, self.rng.gauss(28.5, 5.5)))
        if DIABETES in person.conditions:
            return bmi, min(12.5, max(5.9, self.rng.gauss(7.6, 1.2)))
        return bmi, self.uniform(5.7, 6.4) if PREDIABETES in person.conditions else 5.3

    def _observations(self, person: Person, kind: str, at: datetime, *, bmi: float, a1c: float) -> list[Row]:
        """Vital signs at check-ups and follow-ups (BMI for adults), HbA1c for diabetics and prediabetics."""
        rows = []
        if kind not in URGENT and person.age >= 3:
            rows.append(self._blood_pressure(person, at))
        if kind == "wellness":
            rows.append(self._observation(person, at, BMI, "vital-signs", round(bmi + self.uniform(-0.6, 0.6), 1),
                                          "kg/m2"))
        if (kind not in URGENT and DIABETES in person.conditions) or (
                kind == "wellness" and PREDIABETES in person.conditions):
            rows.append(self._observation(person, at, HBA1C, "laboratory",
                                          round(a1c + self.uniform(-0.4, 0.4), 1), "%"))
        return rows

    def _blood_pressure(self, person: Person, at: datetime) -> Row:
        raised = 18 if HYPERTENSION in person.conditions else 0
        systolic = round(self.rng.gauss(116 + raised + max(0, person.age - 40) * 0.3, 9))
        diastolic = round(self.rng.gauss(75 + raised / 2, 7))
        row = self._observation(person, at, BP_PANEL, "vital-signs", None, None)
        row["components"] = [{"code": SYSTOLIC[0], "display": SYSTOLIC[1], "value": float(systolic), "unit": "mm[Hg]"},
                             {"code": DIASTOLIC[0], "display": DIASTOLIC[1], "value": float(diastolic),
                              "unit": "mm[Hg]"}]
        return row

    def _observation(self, person: Person, at: datetime, coding: tuple[str, str], category: str,
                     value: float | None, unit: str | None) -> Row:
        return {"id": self.new_id(), "source_id": None, "patient_id": person.id, "code_system": LOINC,
                "code": coding[0], "display": coding[1], "category": category, "effective_at": at, "value": value,
                "value_text": None, "unit": unit, "components": []}

    def _screenings(self, person: Person) -> list[Row]:
        """Screenings, some current, some overdue, some never done: the care gaps outreach is meant to find."""
        age, female = person.age, person.sex == "female"
        rows = []
        for coding, eligible, share, lookback_years, from_age in (
                (COLONOSCOPY, 45 <= age <= 75, 0.45, 10, 44), (MAMMOGRAPHY, female and 40 <= age <= 74, 0.65, 4, 39),
                (CERVICAL, female and 21 <= age <= 65, 0.55, 6, 20)):
            days_ago = self.days_ago(person, min(lookback_years, age - from_age) * YEAR_DAYS) if (
                eligible and self.chance(share)) else None
            if days_ago is not None:
                rows.append(self._coded(person, coding, SNOMED, performed_at=self.at(person, days_ago)))
        return rows

    def _immunizations(self, person: Person) -> list[Row]:
        """Flu shots in some autumns for those who take them; Tdap once a decade; pneumococcal from 65."""
        age, rows = person.age, []
        if self.chance(0.75 if age >= 65 else 0.5 if age < 18 else 0.4):
            for season in range(5):  # from six months of age
                autumn = (self.today - date(self.today.year - season, 10, 15)).days + self.between(-30, 45)
                if person.newest <= autumn <= self.age_days(person) - 180 and self.chance(0.75):
                    rows.append(self._vaccine(person, FLU, autumn))
        for coding, eligible, share, from_age in ((TDAP, age >= 11, 0.45, 10), (PNEUMOCOCCAL, age >= 65, 0.6, 64)):
            days_ago = self.days_ago(person, min(10, age - from_age) * YEAR_DAYS) if (
                eligible and self.chance(share)) else None
            if days_ago is not None:
                rows.append(self._vaccine(person, coding, days_ago))
        return rows

    def _vaccine(self, person: Person, coding: tuple[str, str], days_ago: int) -> Row:
        return self._coded(person, coding, CVX, occurred_at=self.at(person, days_ago), status="completed")

    def _coded(self, person: Person, coding: tuple[str, str], system: str, **fields: Any) -> Row:
        return {"id": self.new_id(), "source_id": None, "patient_id": person.id, "code_system": system,
                "code": coding[0], "display": coding[1], **fields}
