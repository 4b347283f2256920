"""Households of patients who share a home phone, an address and a family name, and the clinicians they see.

``population_rows`` is the pure half of the demo population: rows as plain dicts, identical for a seed and a clock.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from careline.patients import rules
from careline.patients.demo.catalog import (
    ADULT_CUM,
    ADULT_DECADES,
    DIABETES,
    FOLLOWED_UP,
    HOUSEHOLD_CUM,
    HOUSEHOLD_SIZES,
    LANGUAGES,
    NICKNAMES,
    NOTES,
    ORGANIZATIONS,
    OVERFLOW_CODES,
    SPECIALTIES,
    STATES,
    WINDOW_DAYS,
    YEAR_DAYS,
    name_key,
    name_pools,
    name_sound,
    street_pool,
)
from careline.patients.demo.draws import Directory, Person, Row
from careline.patients.demo.history import ClinicalHistory
from careline.patients.schemas import CONSENT_KEYS

BATCH_PATIENTS = 1_000  # a batch is about this many patients; progress is reported per batch
STATE_CODES, STATE_CUM = tuple(STATES), tuple(accumulate(share for share, _, _ in STATES.values()))
LANGUAGE_CODES, LANGUAGE_CUM = tuple(LANGUAGES), tuple(accumulate(LANGUAGES.values()))
# channel: (share who allow care messages, share of those who also allow outreach)
CONSENT_ODDS = {"sms": (0.88, 0.5), "email": (0.8, 0.45), "voice": (0.97, 0.55)}
if {f"{channel}_{purpose}" for channel in CONSENT_ODDS for purpose in ("care", "outreach")} != set(CONSENT_KEYS):
    raise RuntimeError("The demo population does not know every consent in CONSENT_KEYS.")


@dataclass(slots=True)
class Batch:
    """Rows for whole households, by table name (``patients``, ``patient_phones``, ``encounters`` …)."""

    rows: defaultdict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    households: int = 0


@dataclass(slots=True)
class Household:
    state: str
    city: str
    postal_code: str
    address_line: str
    time_zone: str
    zone: ZoneInfo
    language: str
    culture: str
    family_name: str
    home_phone: str | None


class PhoneBook:
    """Unique fictional numbers on the 555 exchange: the state's area codes first, then others.

    Lines 0100-0199 are left to the clinics, so that no patient shares a number with one.
    """

    def __init__(self, offset: int) -> None:
        self._offset = offset
        self._handed: dict[str, int] = {}
        self._overflow = 0

    def next(self, state: str) -> str:
        number = self._next(state)
        while number[-4:-2] == "01":
            number = self._next(state)
        return number

    def _next(self, state: str) -> str:
        codes = STATES[state][1]
        k = self._handed.get(state, 0)
        self._handed[state] = k + 1
        if k >= len(codes) * 10_000:
            codes, k, self._overflow = OVERFLOW_CODES, self._overflow, self._overflow + 1
        line = (self._offset + (k % 10_000) * 3_733) % 10_000  # 3733 is prime to 10,000: every line once
        return f"+1{codes[k // 10_000]}555{line:04d}"


def population_rows(*, patients: int, seed: int, now: datetime, history: bool = True) -> Iterator[Batch]:
    """Pure and deterministic: the same arguments give the same rows, ids included.

    The first batch also holds the directory (organizations, locations, practitioners); each batch holds
    about ``BATCH_PATIENTS`` patients, whole households only except the last, which is cut to ``patients``.
    Without ``history`` only people, phones and notes are made (a different population for the same seed:
    the draws run differently), several times faster, for benchmarks that need no clinical past.
    """
    generator = PopulationGenerator(seed=seed, now=now, history=history)
    batch = Batch()
    batch.rows.update(generator.directory.rows)
    made = 0
    while made < patients:
        made += generator.household(batch, limit=patients - made)
        if len(batch.rows["patients"]) >= BATCH_PATIENTS or made >= patients:
            yield batch
            batch = Batch()
    if patients == 0:
        yield batch


class PopulationGenerator(ClinicalHistory):
    """Households and their patients; every random choice comes from one ``random.Random(seed)``."""

    def __init__(self, *, seed: int, now: datetime, history: bool = True) -> None:
        super().__init__(random.Random(seed), now)  # noqa: S311 - synthetic data, not secrets
        self.history = history
        self.names, self.streets = name_pools(seed), street_pool(seed)
        self.phones = PhoneBook(offset=self.between(0, 9_999))
        self.mrn_offset, self.patients_made = self.between(0, 10**8 - 1), 0
        self.zones = {state: rules.time_zone_for(country="US", state=state) or "UTC" for state in STATES}
        self.directory = self._directory()

    def _directory(self) -> Directory:
        rows: dict[str, list[Row]] = {"organizations": [], "locations": [], "practitioners": []}
        organizations, locations = {}, {}
        for state, (name, address, area) in ORGANIZATIONS.items():
            organizations[state], locations[state] = self.new_id(), self.new_id()
            rows["organizations"].append({"id": organizations[state], "source_id": None, "name": name,
                                          "phone": f"+1{area}5550100", "address": address})
            rows["locations"].append({"id": locations[state], "source_id": None, "name": f"{name} Clinic",
                                      "address": address, "time_zone": self.zones[state]})
        clinicians: dict[tuple[str, str], list[uuid.UUID]] = {}
        for specialty, count in SPECIALTIES:
            for i in range(count):
                row = self._practitioner(specialty)
                clinicians.setdefault((specialty, tuple(STATES)[i % len(STATES)]), []).append(row["id"])
                rows["practitioners"].append(row)
        return Directory(rows, clinicians, organizations, locations)

    def _practitioner(self, specialty: str) -> Row:
        pool = self.names[self.pick(("en", "en", "en", "es", "zh", "vi", "pt"))]
        sex = self.pick(("female", "male"))
        given = self.pick(pool.female if sex == "female" else pool.male)
        credential = "NP" if specialty == "Family Medicine" and self.chance(0.25) else self.pick(("MD", "DO"))
        return {"id": self.new_id(), "source_id": None, "npi": None, "gender": sex,
                "name": f"{given} {self.pick(pool.family)}, {credential} ({specialty})"}

    def household(self, batch: Batch, *, limit: int) -> int:
        """Add one household of 1 to 6 (at most ``limit``) to the batch; returns how many patients it holds."""
        house = self._household()
        members = self._members()[:limit]
        for age, sex, own_name in members:
            family_name = self._family_name(house.culture) if own_name else house.family_name
            self._patient(batch, house, age=age, sex=sex, family_name=family_name)
        batch.households += 1
        return len(members)

    def _household(self) -> Household:
        state = self.weighted(STATE_CODES, STATE_CUM)
        city, postal_code = self.pick(STATES[state][2])
        language = self.weighted(LANGUAGE_CODES, LANGUAGE_CUM)
        culture = language if language != "en" else self.weighted(("en", "es", "vi", "zh"), (82, 96, 98, 100))
        address = f"{self.between(1, 999)} {self.pick(self.streets)}"
        if self.chance(0.3):
            address += f", Apt {self.between(1, 40)}"
        home = self.phones.next(state) if self.chance(0.75) else None
        return Household(state=state, city=city, postal_code=postal_code, address_line=address,
                         time_zone=self.zones[state], zone=ZoneInfo(self.zones[state]), language=language,
                         culture=culture, family_name=self._family_name(culture), home_phone=home)

    def _family_name(self, culture: str) -> str:
        family = self.names[culture].family
        if culture == "es" and self.chance(0.3):  # two surnames: "García Muñoz"
            return f"{self.pick(family)} {self.pick(family)}"
        return self.pick(family)

    def _members(self) -> list[tuple[int, str, bool]]:
        """(age, sex, keeps their own family name): a head, maybe a partner, then children or other kin."""
        size = self.weighted(HOUSEHOLD_SIZES, HOUSEHOLD_CUM)
        decade = self.weighted(ADULT_DECADES, ADULT_CUM)
        head = self.between(decade, decade + 9 if decade >= 30 else 29)
        sex = "female" if self.chance(0.52) else "male"
        members = [(head, sex, False)]
        if size >= 2 and self.chance(0.75):
            partner_sex = ("male" if sex == "female" else "female") if self.chance(0.96) else sex
            members.append((max(18, min(100, head + self.between(-6, 6))), partner_sex, self.chance(0.15)))
        while len(members) < size:
            members.append((self._kin_age(head), "female" if self.chance(0.5) else "male", False))
        return members

    def _kin_age(self, head: int) -> int:
        """A child of the head's, or an adult relative: a grown child, a parent, a sibling."""
        if self.chance(0.5 if head > 55 else 0.25):
            return self.between(18, 90)
        return self.between(max(0, head - 45), max(0, min(17, head - 18)))

    def _patient(self, batch: Batch, house: Household, *, age: int, sex: str, family_name: str) -> None:
        birth_date = self.today - timedelta(days=age * YEAR_DAYS + self.between(0, YEAR_DAYS - 1))
        deceased_at = self._deceased_at(age, birth_date)
        new = self.chance(0.03)
        person = Person(id=self.new_id(), age=age, sex=sex if not self.chance(0.002) else "other",
                        birth_date=birth_date, zone=house.zone, state=house.state, pcp_id=self._pcp(age, house.state),
                        oldest=min(90 if new else WINDOW_DAYS, (self.today - birth_date).days),
                        newest=(self.today - deceased_at.date()).days + 1 if deceased_at else 1)
        given = self._given_names(house.culture, person.sex)
        phones = self._phones(batch, house, person)
        email = self._email(given, family_name) if age >= 16 and self.chance(0.65) else None
        if self.history:
            self.add_history(batch.rows, person)
        language = "en" if house.language != "en" and 5 <= age < 18 and self.chance(0.45) else house.language
        batch.rows["patients"].append({
            "id": person.id, "source_id": None, "mrn": self._mrn(), "family_name": family_name,
            "given_names": given, "preferred_name": NICKNAMES.get(given.split(" ")[0]) if self.chance(0.5) else None,
            "family_key": name_key(family_name), "given_key": name_key(given), "family_sound": name_sound(family_name),
            "birth_date": birth_date, "sex": person.sex, "gender_identity": None, "language": language,
            "email": email, "address_line": house.address_line, "city": house.city, "state": house.state,
            "postal_code": house.postal_code, "country": "US", "time_zone": house.time_zone, "pcp_id": person.pcp_id,
            "status": "deceased" if deceased_at else ("inactive" if self.chance(0.01) else "active"),
            "deceased_at": deceased_at, "merged_into_id": None, "restricted": self._restricted(),
            "consents": self._consents(reachable={"sms": "mobile" in phones, "email": email is not None,
                                                  "voice": bool(phones)}),
            "tags": self._tags(person, new=new, has_email=email is not None), "alerts": self._alerts(language, age),
            "last_contact_at": self._last_contact(deceased_at), "created_at": self._created_at(person),
            "updated_at": self.now,
        })
        if self.chance(0.04):
            batch.rows["patient_notes"].append({"id": self.new_id(), "patient_id": person.id, "author": "demo",
                                                "body": self.pick(NOTES), "created_at": self._created_at(person)})

    def _given_names(self, culture: str, sex: str) -> str:
        pool = self.names[culture]
        names = pool.female if sex == "female" else pool.male if sex == "male" else pool.female + pool.male
        first = self.pick(names)
        if culture == "vi" and self.chance(0.6):
            return f"{'Thị' if sex == 'female' else 'Văn'} {first}"
        if culture in ("en", "pt") and self.chance(0.3):
            return f"{first} {self.pick(names)}"
        return first

    def _email(self, given: str, family: str) -> str:
        first = given.split(" ")[-1 if given.startswith(("Thị ", "Văn ")) else 0]
        surname = family.split(" ", maxsplit=1)[0]
        local = ".".join(name_key(part).replace(" ", "").replace("đ", "d") for part in (first, surname))
        ascii_local = local.encode("ascii", "ignore").decode() or "patient"
        return f"{ascii_local}{self.between(1, 99)}@example.{self.pick(('com', 'net', 'org'))}"

    def _phones(self, batch: Batch, house: Household, person: Person) -> dict[str, str]:
        """Home is the household's; adults (and some teenagers) carry a mobile; some adults give a work line."""
        phones = {}
        if house.home_phone:
            phones["home"] = house.home_phone
        if self.chance(0.92 if person.age >= 18 else 0.45 if person.age >= 13 else 0.0):
            phones["mobile"] = self.phones.next(person.state)
        if 22 <= person.age <= 66 and self.chance(0.2):
            phones["work"] = self.phones.next(person.state)
        batch.rows["patient_phones"].extend({"id": self.new_id(), "patient_id": person.id, "e164": e164, "use": use}
                                            for use, e164 in phones.items())
        return phones

    def _mrn(self) -> str:
        """Unique per population: an affine walk over 10^8 numbers (48,271 is prime to 10)."""
        number = (self.mrn_offset + self.patients_made * 48_271) % 10**8
        self.patients_made += 1
        return f"D{number:08d}"

    def _pcp(self, age: int, state: str) -> uuid.UUID:
        if age < 18:
            specialty = "Pediatrics" if self.chance(0.6) else "Family Medicine"
        else:
            specialty = "Internal Medicine" if self.chance(0.6 if age >= 65 else 0.3) else "Family Medicine"
        return self.pick(self.directory.clinicians[specialty, state])

    def _deceased_at(self, age: int, birth_date: date) -> datetime | None:
        if not self.chance(0.006 if age < 60 else 0.04 if age < 80 else 0.15):
            return None
        days_ago = self.between(1, max(1, min(WINDOW_DAYS, (self.today - birth_date).days)))
        return self.now - timedelta(days=days_ago, minutes=self.between(0, 1439))

    def _restricted(self) -> str | None:
        return self.pick(("staff", "staff", "vip")) if self.chance(0.003) else None

    def _consents(self, *, reachable: dict[str, bool]) -> dict[str, bool]:
        """Care messages mostly allowed, outreach (campaigns, care-gap reminders) mixed and only on top of care;
        nothing on a channel the patient cannot be reached on."""
        consents = {}
        for channel, (care, outreach) in CONSENT_ODDS.items():
            consents[f"{channel}_care"] = reachable[channel] and self.chance(care)
            consents[f"{channel}_outreach"] = consents[f"{channel}_care"] and self.chance(outreach)
        return consents

    def _tags(self, person: Person, *, new: bool, has_email: bool) -> list[str]:
        tags = ["new-patient"] if new else []
        if DIABETES in person.conditions and self.chance(0.5):
            tags.append("diabetes-program")
        if len(person.conditions & FOLLOWED_UP) >= 2 and self.chance(0.4):
            tags.append("high-risk")
        if has_email and self.chance(0.4):
            tags.append("portal-user")
        return tags

    def _alerts(self, language: str, age: int) -> list[str]:
        alerts = [f"needs interpreter ({rules.language_name(language)})"] if language != "en" else []
        if age >= 75 and self.chance(0.1):
            alerts.append("hard of hearing")
        return alerts

    def _last_contact(self, deceased_at: datetime | None) -> datetime | None:
        if deceased_at or not self.chance(0.35):
            return None
        return self.now - timedelta(minutes=self.between(60, 180 * 24 * 60))

    def _created_at(self, person: Person) -> datetime:
        """When the chart was opened: before the visit history, never before birth."""
        days_ago = min(self.age_days(person), person.oldest + self.between(0, 10 * YEAR_DAYS))
        return self.at(person, days_ago, hours=(8, 18))
