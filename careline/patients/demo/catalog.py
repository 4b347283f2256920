"""What the synthetic population is made of: places, languages, clinicians, codes, and name pools.

Codes are real (SNOMED CT, LOINC, CVX) and written as Synthea writes them; everything else is fictional.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

from faker import Faker

from careline.patients import rules

YEAR_DAYS = 365
WINDOW_DAYS = 5 * YEAR_DAYS  # how far back visit histories go
SNOMED, LOINC, CVX = "http://snomed.info/sct", "http://loinc.org", "http://hl7.org/fhir/sid/cvx"

# state: (share of households, area codes, (city, ZIP) …). Three neighbouring states, one time zone.
STATES: dict[str, tuple[float, tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "MA": (0.6, ("617", "857", "781", "339", "508", "774", "978", "351"), (
        ("Boston", "02118"), ("Cambridge", "02139"), ("Somerville", "02144"), ("Quincy", "02169"),
        ("Lowell", "01852"), ("Worcester", "01609"), ("Brockton", "02301"), ("Lynn", "01902"),
        ("Framingham", "01702"), ("Lawrence", "01841"), ("New Bedford", "02740"), ("Chelsea", "02150"))),
    "NH": (0.2, ("603",), (("Manchester", "03101"), ("Nashua", "03060"), ("Concord", "03301"),
                           ("Dover", "03820"), ("Salem", "03079"), ("Portsmouth", "03801"))),
    "RI": (0.2, ("401",), (("Providence", "02903"), ("Cranston", "02920"), ("Pawtucket", "02860"),
                           ("Warwick", "02886"), ("Woonsocket", "02895"), ("Central Falls", "02863"))),
}
NEARBY_CODES = ("207", "802", "860", "203", "475", "959", "212", "646", "718", "917", "347", "914", "516", "631")
# When a state's own 555 numbers run out (large benchmark populations): other regions, then any plausible area
# code (not N11, not N9X, not toll-free 8YY or 900).
OVERFLOW_CODES = NEARBY_CODES + tuple(
    code for code in (f"{a}{b}{c}" for a in "23456789" for b in "012345678" for c in "0123456789")
    if code[1:] != "11" and not (code[0] == "8" and code[1] == code[2]) and code != "900"
    and code not in NEARBY_CODES and all(code not in codes for _, codes, _ in STATES.values()))

# Share of households by language; names follow the language's culture.
LANGUAGES = {"en": 0.68, "es": 0.235, "vi": 0.025, "zh": 0.025, "pt": 0.02, "ht": 0.015}
LOCALES = {"en": ("en_US",), "es": ("es_MX", "es_ES"), "vi": ("vi_VN",), "zh": ("zh_CN",), "pt": ("pt_BR",),
           "ht": ("fr_FR",)}
HOUSEHOLD_SIZES, HOUSEHOLD_CUM = (1, 2, 3, 4, 5, 6), tuple(accumulate((0.28, 0.33, 0.16, 0.13, 0.06, 0.04)))
ADULT_DECADES, ADULT_CUM = (18, 30, 40, 50, 60, 70, 80, 90), tuple(accumulate(
    (0.17, 0.18, 0.16, 0.17, 0.16, 0.11, 0.04, 0.01)))
NICKNAMES = {"William": "Bill", "Robert": "Bob", "Elizabeth": "Liz", "Katherine": "Kate", "Michael": "Mike",
             "James": "Jim", "Jennifer": "Jen", "Margaret": "Peggy", "Richard": "Rick", "Christopher": "Chris",
             "José": "Pepe", "Francisco": "Paco", "Guadalupe": "Lupe", "Ignacio": "Nacho", "Rosario": "Chayo"}
STREET_SUFFIXES = ("Street", "Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Way", "Terrace")
NOTES = ("Prefers calls in the afternoon.", "Daughter helps with scheduling.", "Prefers text reminders.",
         "Uses a wheelchair; book rooms with step-free access.", "Works nights; call after 2 pm.",
         "Confirm the mobile number before booking.")

SPECIALTIES = (("Family Medicine", 12), ("Internal Medicine", 8), ("Pediatrics", 6), ("OB/GYN", 5),
               ("Cardiology", 4), ("Radiology", 3), ("Laboratory Medicine", 2))
ORGANIZATIONS = {"MA": ("Harbor Point Community Health", "400 Harrison Avenue, Boston, MA 02118", "617"),
                 "NH": ("Granite Valley Medical Group", "88 Elm Street, Manchester, NH 03101", "603"),
                 "RI": ("Narragansett Family Health", "150 Broad Street, Providence, RI 02903", "401")}

ENCOUNTERS = {  # kind: (class, SNOMED code, display)
    "wellness": ("AMB", "185349003", "Encounter for check up (procedure)"),
    "well_child": ("AMB", "410620009", "Well child visit (procedure)"),
    "follow_up": ("AMB", "390906007", "Follow-up encounter (procedure)"),
    "symptom": ("AMB", "185345009", "Encounter for symptom (procedure)"),
    "emergency": ("EMER", "50849002", "Emergency room admission (procedure)"),
}
URGENT = frozenset({"symptom", "emergency"})
URGENT_VISITS_CUM = tuple(accumulate((55, 28, 12, 5)))  # 0, 1, 2 or 3 urgent visits in five years
SYMPTOMS = ("Acute viral pharyngitis (disorder)", "Acute bronchitis (disorder)", "Viral sinusitis (disorder)",
            "Sprain of ankle (disorder)", "Otitis media (disorder)", "Laceration of forearm (disorder)")
HYPERTENSION, DIABETES, HYPERLIPIDEMIA = "38341003", "44054006", "55822004"
ASTHMA, PREDIABETES = "195967001", "15777000"
# code: (display, earliest onset age, chance by age band: <18, 18-44, 45-64, 65+)
CHRONIC = {
    HYPERTENSION: ("Hypertension", 25, (0.0, 0.10, 0.32, 0.58)),
    DIABETES: ("Diabetes mellitus type 2", 30, (0.0, 0.03, 0.13, 0.24)),
    HYPERLIPIDEMIA: ("Hyperlipidemia", 30, (0.0, 0.07, 0.28, 0.42)),
    ASTHMA: ("Asthma", 2, (0.08, 0.08, 0.07, 0.07)),
    PREDIABETES: ("Prediabetes", 30, (0.0, 0.06, 0.15, 0.18)),
}
FOLLOWED_UP = frozenset({HYPERTENSION, DIABETES, HYPERLIPIDEMIA})
HBA1C = ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC, DIASTOLIC = ("8480-6", "Systolic blood pressure"), ("8462-4", "Diastolic blood pressure")
BMI = ("39156-5", "Body mass index (BMI) [Ratio]")
COLONOSCOPY, MAMMOGRAPHY, CERVICAL = (("73761001", "Colonoscopy"), ("71651007", "Mammography (procedure)"),
                                      ("171149006", "Screening for malignant neoplasm of cervix (procedure)"))
FLU, TDAP, PNEUMOCOCCAL = (("140", "Influenza, seasonal, injectable, preservative free"), ("115", "Tdap"),
                           ("133", "Pneumococcal conjugate PCV 13"))


@dataclass(frozen=True, slots=True)
class NamePool:
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[str, ...]


@functools.cache
def name_pools(seed: int) -> dict[str, NamePool]:
    """Names by language, drawn once from seeded Fakers; repeats are kept, so common names stay common."""
    pools = {}
    for language, locales in LOCALES.items():
        fakers = [_faker(locale, seed) for locale in locales]
        size = 1_500 if language == "en" else 400
        pools[language] = NamePool(*(tuple(_draw(fakers, kind, size)) for kind in ("female", "male", "family")))
    return pools


@functools.cache
def street_pool(seed: int) -> tuple[str, ...]:
    faker = _faker("en_US", seed)
    common = ("Main", "Elm", "Washington", "Maple", "Pleasant", "Summer", "Highland", "Union", "Park", "Chestnut")
    return tuple(f"{faker.last_name() if i % 3 else common[i % 10]} {STREET_SUFFIXES[i % 10]}" for i in range(600))


def _faker(locale: str, seed: int) -> Faker:
    faker = Faker(locale)
    faker.seed_instance(seed)
    return faker


def _draw(fakers: Sequence[Faker], kind: str, size: int) -> Iterator[str]:
    for i in range(size):
        faker = fakers[i % len(fakers)]
        if "zh_CN" in faker.locales:  # romanised, as a US chart spells them
            yield faker.last_romanized_name() if kind == "family" else faker.first_romanized_name()
        elif kind == "family":
            yield faker.last_name()
        else:
            yield faker.first_name_female() if kind == "female" else faker.first_name_male()


# The search keys, computed once per distinct name: names repeat, they come from pools.
name_key = functools.lru_cache(maxsize=200_000)(rules.name_key)
name_sound = functools.lru_cache(maxsize=100_000)(rules.name_sound)
