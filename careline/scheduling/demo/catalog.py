"""What the demo health system offers: three sites, the clinicians' mix, the machines, the visit types and the
weekly blocks each kind of schedule works. Plain data; ``setup`` feeds it to the catalogue service.

The sites are the three practices of the patients demo (Boston, Manchester, Providence): all in New England,
so all on America/New_York. Names are fictional, phone numbers sit on the 555 exchange (lines 0100-0199,
which the patients demo leaves to clinics).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

MON, TUE, WED, THU, FRI, SAT = range(6)
WEEKDAYS = (MON, TUE, WED, THU, FRI)


@dataclass(frozen=True, slots=True)
class DemoSite:
    code: str
    name: str
    address: str
    phone: str
    time_zone: str
    opening_hours: dict[str, list[str]]


_WEEK = {"mon": ["07:00", "19:00"], "tue": ["07:00", "20:00"], "wed": ["07:00", "19:00"],
         "thu": ["07:00", "20:00"], "fri": ["07:00", "18:00"], "sat": ["08:00", "12:00"]}
SITES = (
    DemoSite("bos", "Harbor Point Community Health", "400 Harrison Avenue, Boston, MA 02118", "+16175550100",
             "America/New_York", _WEEK),
    DemoSite("man", "Granite Valley Medical Group", "88 Elm Street, Manchester, NH 03101", "+16035550100",
             "America/New_York", {day: hours for day, hours in _WEEK.items() if day != "sat"}),
    DemoSite("pvd", "Narragansett Family Health", "150 Broad Street, Providence, RI 02903", "+14015550100",
             "America/New_York", _WEEK),
)
# Providers per site, as a share of the total, and per specialty (40 in the demo).
SITE_SHARES = {"bos": 0.45, "man": 0.25, "pvd": 0.30}
SPECIALTY_SHARES = {"family_medicine": 0.375, "internal_medicine": 0.25, "obgyn": 0.2, "cardiology": 0.175}
CREDENTIALS = {"family_medicine": ("MD", "MD", "DO", "NP"), "internal_medicine": ("MD", "MD", "DO", "PA-C"),
               "obgyn": ("MD", "MD", "DO", "CNM"), "cardiology": ("MD", "MD", "DO")}
# Share of providers who also speak the language (English is everyone's); matches the patients' mix.
SECOND_LANGUAGES = (("es", 0.28), ("pt", 0.05), ("vi", 0.04), ("zh", 0.04), ("ht", 0.03))
# Where they come from for the name: (Faker locale, share).
NAME_LOCALES = (("en_US", 0.7), ("es_MX", 0.15), ("vi_VN", 0.04), ("zh_CN", 0.04), ("pt_BR", 0.04),
                ("fr_FR", 0.03))

# kind: (display name, units per site code)
RESOURCES: dict[str, tuple[str, dict[str, int]]] = {
    "mammography": ("Mammography", {"bos": 2, "man": 1, "pvd": 1}),
    "ultrasound": ("Ultrasound", {"bos": 1, "man": 1, "pvd": 1}),
    "xray": ("X-ray", {"bos": 1, "man": 1, "pvd": 1}),
    "ct": ("CT scanner", {"bos": 1, "pvd": 1}),
    "echo": ("Echo lab", {"bos": 1, "pvd": 1}),
    "lab_draw": ("Lab draw station", {"bos": 2, "man": 1, "pvd": 1}),
}


@dataclass(frozen=True, slots=True)
class DemoVisit:
    code: str
    name: str
    minutes: int
    specialties: tuple[str, ...] = ()
    resource_kind: str | None = None
    patient_rule: str = "any"
    requires_order: bool = False
    preparation: str | None = None
    revenue_cents: int = 0
    # Who the fill books it for: "any", "female", "female40" (women 40+), "prenatal" (women 18-44).
    patients: str = "any"


PRIMARY = ("family_medicine", "internal_medicine")
FASTING = "Nothing to eat or drink but water for 10 to 12 hours before. Take your usual medicines."
VISITS = (
    DemoVisit("annual-physical", "Annual physical (wellness exam)", 30, PRIMARY, preparation=(
        "Bring your medicines (or a list) and your insurance card. If fasting labs were ordered, come fasting."),
        revenue_cents=22_000),
    DemoVisit("new-patient", "New patient visit", 30, (*PRIMARY, "obgyn"), patient_rule="new", preparation=(
        "Arrive 15 minutes early to register. Bring a photo ID, your insurance card and your medicines."),
        revenue_cents=19_500),
    DemoVisit("follow-up", "Follow-up visit", 20, (*PRIMARY, "obgyn", "cardiology"), revenue_cents=11_500),
    DemoVisit("sick-visit", "Sick visit", 15, PRIMARY, revenue_cents=9_500),
    DemoVisit("well-woman", "Well-woman exam", 30, ("obgyn", "family_medicine"), preparation=(
        "If a Pap test is due, book outside your period if you can."), revenue_cents=21_000, patients="female"),
    DemoVisit("prenatal", "Prenatal visit", 20, ("obgyn",), preparation="Bring your prenatal vitamins list.",
              revenue_cents=14_000, patients="prenatal"),
    DemoVisit("cardiology-consult", "Cardiology consult", 40, ("cardiology",), patient_rule="new",
              requires_order=True, preparation=(
                  "Bring your referral, a list of your medicines and any recent ECG or test results."),
              revenue_cents=28_500),
    DemoVisit("echocardiogram", "Echocardiogram", 60, resource_kind="echo", requires_order=True, preparation=(
        "No preparation needed. Wear a two-piece outfit."), revenue_cents=42_000),
    DemoVisit("screening-mammogram", "Screening mammogram", 20, resource_kind="mammography", requires_order=True,
              preparation=("No deodorant, antiperspirant, powder or lotion under the arms or on the breasts on "
                           "the day. Bring earlier mammograms taken elsewhere."),
              revenue_cents=25_000, patients="female40"),
    DemoVisit("abdominal-ultrasound", "Abdominal ultrasound", 30, resource_kind="ultrasound", requires_order=True,
              preparation="Nothing to eat or drink for 8 hours before.", revenue_cents=31_000),
    DemoVisit("pelvic-ultrasound", "Pelvic ultrasound", 30, resource_kind="ultrasound", requires_order=True,
              preparation="Drink 32 oz of water an hour before and do not empty your bladder.",
              revenue_cents=28_000, patients="female"),
    DemoVisit("x-ray", "X-ray", 15, resource_kind="xray", requires_order=True,
              preparation="Leave jewellery at home.", revenue_cents=9_000),
    DemoVisit("ct-scan", "CT scan", 30, resource_kind="ct", requires_order=True, preparation=(
        "If contrast was ordered: nothing to eat for 4 hours before; tell us about kidney problems or allergies."),
        revenue_cents=56_000),
    DemoVisit("fasting-lab", "Fasting lab draw", 10, resource_kind="lab_draw", requires_order=True,
              preparation=FASTING, revenue_cents=4_500),
    DemoVisit("lab-draw", "Lab draw", 10, resource_kind="lab_draw", requires_order=True, revenue_cents=3_500),
)


@dataclass(frozen=True, slots=True)
class DemoBlock:
    """A weekly block: weekdays, local start and end, slot length, the visit codes it takes with their weight
    in the booking fill (how often a booked slot of the block is that visit)."""

    weekdays: tuple[int, ...]
    start: time
    end: time
    slot_minutes: int
    visits: dict[str, int]


def _block(weekdays: tuple[int, ...], start: str, end: str, minutes: int, **visits: int) -> DemoBlock:
    return DemoBlock(weekdays, time.fromisoformat(start), time.fromisoformat(end), minutes,
                     {code.replace("_", "-"): weight for code, weight in visits.items()})


# A provider's week by specialty: the morning for the long visits, a lunch gap, the afternoon for short ones.
PROVIDER_WEEKS: dict[str, tuple[DemoBlock, ...]] = {
    "family_medicine": (
        _block(WEEKDAYS, "08:00", "12:00", 30, annual_physical=5, new_patient=2, follow_up=3, well_woman=1),
        _block(WEEKDAYS, "13:00", "17:00", 20, follow_up=3, sick_visit=4),
    ),
    "internal_medicine": (
        _block(WEEKDAYS, "08:00", "12:00", 30, annual_physical=5, new_patient=2, follow_up=4),
        _block(WEEKDAYS, "13:00", "16:40", 20, follow_up=5, sick_visit=3),
    ),
    "obgyn": (
        _block(WEEKDAYS, "08:30", "12:00", 30, well_woman=5, new_patient=1, prenatal=3, follow_up=1),
        _block(WEEKDAYS, "13:00", "16:20", 20, prenatal=5, follow_up=2),
    ),
    "cardiology": (
        _block(WEEKDAYS, "08:00", "12:00", 40, cardiology_consult=3, follow_up=2),
        _block(WEEKDAYS, "13:00", "16:00", 20, follow_up=1),
    ),
}
# Extra hours some family physicians keep: an evening clinic or Saturday morning, for sick and follow-up visits.
EVENING = _block((TUE, THU), "17:00", "20:00", 20, sick_visit=3, follow_up=2)
SATURDAY = _block((SAT,), "08:00", "12:00", 20, sick_visit=3, follow_up=1)

RESOURCE_WEEKS: dict[str, tuple[DemoBlock, ...]] = {
    "mammography": (_block(WEEKDAYS, "07:40", "12:00", 20, screening_mammogram=1),
                    _block(WEEKDAYS, "12:40", "17:00", 20, screening_mammogram=1),
                    _block((SAT,), "08:00", "12:00", 20, screening_mammogram=1)),
    "ultrasound": (_block(WEEKDAYS, "08:00", "12:00", 30, abdominal_ultrasound=2, pelvic_ultrasound=1),
                   _block(WEEKDAYS, "13:00", "17:00", 30, abdominal_ultrasound=1, pelvic_ultrasound=1)),
    "xray": (_block(WEEKDAYS, "08:00", "12:00", 15, x_ray=1), _block(WEEKDAYS, "12:30", "18:00", 15, x_ray=1)),
    "ct": (_block(WEEKDAYS, "08:00", "12:00", 30, ct_scan=1), _block(WEEKDAYS, "13:00", "17:00", 30, ct_scan=1)),
    "echo": (_block(WEEKDAYS, "08:00", "12:00", 60, echocardiogram=1),
             _block(WEEKDAYS, "13:00", "16:00", 60, echocardiogram=1)),
    "lab_draw": (_block(WEEKDAYS, "07:00", "10:00", 10, fasting_lab=3, lab_draw=1),
                 _block(WEEKDAYS, "10:00", "15:00", 10, lab_draw=1),
                 _block((SAT,), "08:00", "11:00", 10, fasting_lab=1, lab_draw=1)),
}
SATURDAY_SITES = frozenset({"bos", "pvd"})  # Manchester is closed on Saturdays


def holidays(first: date, last: date) -> list[tuple[date, str]]:
    """US federal holidays the sites close for (observed dates), between two days."""
    found = []
    for year in range(first.year, last.year + 1):
        for day, name in _holidays_of(year):
            if first <= day <= last:
                found.append((day, name))
    return found


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    day = date(year, month, 1)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    return day + timedelta(weeks=n - 1)


def _last_weekday(year: int, month: int, weekday: int) -> date:
    day = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    return day - timedelta(days=1) if day.weekday() == SAT else day + timedelta(days=1) if day.weekday() == 6 else day


def _holidays_of(year: int) -> list[tuple[date, str]]:
    return [
        (_observed(date(year, 1, 1)), "New Year's Day"),
        (_nth_weekday(year, 1, MON, 3), "Martin Luther King Jr. Day"),
        (_nth_weekday(year, 2, MON, 3), "Presidents' Day"),
        (_last_weekday(year, 5, MON), "Memorial Day"),
        (_observed(date(year, 6, 19)), "Juneteenth"),
        (_observed(date(year, 7, 4)), "Independence Day"),
        (_nth_weekday(year, 9, MON, 1), "Labor Day"),
        (_nth_weekday(year, 11, THU, 4), "Thanksgiving Day"),
        (_observed(date(year, 12, 25)), "Christmas Day"),
    ]
