"""The admin page of the center's phone numbers: each number's IVR, its hours and the queue every menu option
leads to. A plain form (post/redirect/get); a refusal shows the form again as typed, with what to fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from careline.routing.rules import WEEKDAYS
from careline.routing.service import setup as routing_setup
from careline.telephony.errors import InvalidTelephonyInput
from careline.telephony.schemas import OPTIONS, IvrConfig, NumberIn, NumberRead
from careline.telephony.service import numbers
from careline.web.deps import AdminOnly, Uow
from careline.web.templates import render

router = APIRouter(include_in_schema=False)

PAGE = "/admin/phone-numbers"
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
             "sat": "Saturday", "sun": "Sunday"}
OPTION_NAMES = {"appointments": "Appointments", "tests": "Tests and results", "prescriptions": "Prescriptions",
                "billing": "Billing", "nurse": "Nurse line", "operator": "Operator"}
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}
# What to fix, in plain words, for the fields whose checks speak in patterns.
PLAIN = {"number": "Write the number in international form, like +16175550100.",
         "label": "Give the number a label of at most 100 characters, like “Main line”.",
         "holidays": "Write holidays as dates like 2025-12-25, separated by commas.",
         "ivr.languages": "Choose at least one language.",
         "ivr.after_hours_queue": "Choose the queue for calls after hours.",
         "ivr.menu.queue": "Choose a queue for every menu option that has a digit.",
         "ivr.menu": "Give at least one menu option a digit."}
ROW_PLAIN = {"queue": "Choose a queue for every menu option that has a digit", "digit": "Choose a key from 0 to 9 for"}
# The form's fields each plain problem is about (a menu row's own fields are found from its index).
MENU_KEYS = tuple(f"digit_{option}" for option in OPTIONS)
FIELDS = {"number": ("number",), "label": ("label",), "holidays": ("holidays",),
          "ivr.languages": ("language-en", "language-es"), "ivr.after_hours_queue": ("after_hours_queue",),
          "ivr.menu": MENU_KEYS}
LABELS = {"time_zone": "Time zone", "business_hours": "Business hours", "ivr.greeting": "Greeting", "ivr": "Menu"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing to fix, and the ids of the fields it is about (marked aria-invalid). ``edit`` links to the
    number's edit form, for a number that is already there."""

    message: str
    fields: tuple[str, ...] = ()
    edit: str | None = None


class Refused(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


class NumberForm(BaseModel):
    """The form as typed: text everywhere, so a refusal can show every value again."""

    editing: bool = False  # the edit form replaces a number's settings; the add form refuses one already there
    number: str = Field(default="", max_length=40)
    label: str = Field(default="", max_length=200)
    time_zone: str = Field(default="America/New_York", max_length=64)
    hours_mon: str = Field(default="", max_length=100)
    hours_tue: str = Field(default="", max_length=100)
    hours_wed: str = Field(default="", max_length=100)
    hours_thu: str = Field(default="", max_length=100)
    hours_fri: str = Field(default="", max_length=100)
    hours_sat: str = Field(default="", max_length=100)
    hours_sun: str = Field(default="", max_length=100)
    holidays: str = Field(default="", max_length=2000)
    languages: list[str] = []
    greeting_en: str = Field(default="", max_length=1000)
    greeting_es: str = Field(default="", max_length=1000)
    identify_by_birth_date: bool = False
    after_hours: str = Field(default="voicemail", max_length=20)
    after_hours_queue: str = Field(default="", max_length=60)
    digit_appointments: str = Field(default="", max_length=2)
    queue_appointments: str = Field(default="", max_length=60)
    digit_tests: str = Field(default="", max_length=2)
    queue_tests: str = Field(default="", max_length=60)
    digit_prescriptions: str = Field(default="", max_length=2)
    queue_prescriptions: str = Field(default="", max_length=60)
    digit_billing: str = Field(default="", max_length=2)
    queue_billing: str = Field(default="", max_length=60)
    digit_nurse: str = Field(default="", max_length=2)
    queue_nurse: str = Field(default="", max_length=60)
    digit_operator: str = Field(default="", max_length=2)
    queue_operator: str = Field(default="", max_length=60)

    def hours(self, day: str) -> str:
        return str(getattr(self, f"hours_{day}"))

    def digit(self, option: str) -> str:
        return str(getattr(self, f"digit_{option}"))

    def queue(self, option: str) -> str:
        return str(getattr(self, f"queue_{option}"))

    def number_in(self) -> NumberIn:
        """Raises Refused with every problem at once: the form's own checks (hours as typed, one option per key)
        together with the schema's, whose model checks would otherwise wait until the fields are right."""
        chosen: list[str] = [option for option in OPTIONS if self.digit(option)]
        menu = [{"digit": self.digit(option), "option": option, "queue": self.queue(option)} for option in chosen]
        greeting = {language: text.strip() for language, text in (("en", self.greeting_en), ("es", self.greeting_es))
                    if text.strip()}
        ivr = {"languages": self.languages, "greeting": greeting, "menu": menu,
               "identify_by_birth_date": self.identify_by_birth_date, "after_hours": self.after_hours,
               "after_hours_queue": self.after_hours_queue}
        found: list[Problem] = []
        hours = {}
        for day in WEEKDAYS:
            if self.hours(day).strip():
                try:
                    hours[day] = _spans(day, self.hours(day))
                except ValueError as error:
                    found.append(Problem(str(error), (f"hours_{day}",)))
        found += self.shared_keys()
        holidays = [day.strip() for day in self.holidays.split(",") if day.strip()]
        try:
            data = NumberIn.model_validate({"number": self.number.strip(), "label": self.label.strip(),
                                            "time_zone": self.time_zone.strip(), "business_hours": hours,
                                            "holidays": holidays, "ivr": ivr})
        except ValidationError as error:
            found += _schema_problems(error, chosen)
        if found:
            raise Refused(found)
        return data

    def shared_keys(self) -> list[Problem]:
        """One problem per key given to more than one option, naming them."""
        by_digit: dict[str, list[str]] = {}
        for option in OPTIONS:
            if self.digit(option):
                by_digit.setdefault(self.digit(option), []).append(option)
        return [Problem(f"Menu: key {digit} is given to {_names(options)}; each menu digit may lead to one option "
                        "only.", tuple(f"digit_{option}" for option in options))
                for digit, options in by_digit.items() if len(options) > 1]

    @classmethod
    def of(cls, saved: NumberRead) -> NumberForm:
        ivr = saved.ivr
        by_option = {item.option: item for item in ivr.menu}
        menu = {f"{kind}_{option}": getattr(by_option[option], kind) if option in by_option else ""
                for option in OPTIONS for kind in ("digit", "queue")}
        hours = {f"hours_{day}": ", ".join(f"{start}-{end}" for start, end in saved.business_hours.get(day, []))
                 for day in WEEKDAYS}
        return cls.model_validate({
            "number": saved.number, "label": saved.label, "time_zone": saved.time_zone,
            "holidays": ", ".join(saved.holidays), "languages": list(ivr.languages),
            "greeting_en": ivr.greeting.get("en", ""), "greeting_es": ivr.greeting.get("es", ""),
            "identify_by_birth_date": ivr.identify_by_birth_date,
            "after_hours": ivr.after_hours, "after_hours_queue": ivr.after_hours_queue} | hours | menu)

    @classmethod
    def blank(cls, queues: list[str]) -> NumberForm:
        """A new number starts from the default IVR (both languages, the usual menu, voicemail after hours); a
        default queue the center does not have is left for the admin to choose."""
        defaults = IvrConfig()
        menu = {f"digit_{item.option}": item.digit for item in defaults.menu} | {
            f"queue_{item.option}": item.queue if item.queue in queues else "" for item in defaults.menu}
        weekdays = {f"hours_{day}": "08:00-18:00" for day in WEEKDAYS[:5]}
        after_hours_queue = defaults.after_hours_queue if defaults.after_hours_queue in queues else ""
        return cls.model_validate({
            "languages": list(defaults.languages), "greeting_en": defaults.greeting.get("en", ""),
            "greeting_es": defaults.greeting.get("es", ""), "identify_by_birth_date": True,
            "after_hours_queue": after_hours_queue} | weekdays | menu)


def _spans(day: str, text: str) -> list[tuple[str, str]]:
    spans = []
    for part in text.split(","):
        start, dash, end = part.strip().partition("-")
        if not dash:
            raise ValueError(f"{DAY_NAMES[day]}: write the hours like 08:00-18:00 (or 08:00-12:00, 13:00-17:00).")
        spans.append((start.strip(), end.strip()))
    return spans


def _names(options: list[str]) -> str:
    names = [OPTION_NAMES[option] for option in options]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _schema_problems(error: ValidationError, chosen: list[str]) -> list[Problem]:
    """What to fix, in the form's words, with the fields it is about; a menu problem names its options
    (``chosen`` are the options with a key, in the order of the schema's menu)."""
    said: dict[str, list[str]] = {}  # message -> fields
    menu_rows: dict[str, list[str]] = {}  # plain key -> options
    for problem in error.errors():
        loc = problem["loc"]
        if loc == ("ivr",):  # the IVR's one model check, a key given twice: shared_keys says it, with the options
            continue
        where = ".".join(str(part) for part in loc if not isinstance(part, int))
        key = next((key for key in PLAIN if where == key or where.startswith(key + ".")), None)
        if key is not None and where.startswith("ivr.menu.") and len(loc) > 2 and isinstance(loc[2], int):
            menu_rows.setdefault(key, []).append(chosen[loc[2]])
            continue
        if key is not None:
            said.setdefault(PLAIN[key], []).extend(FIELDS.get(key, ()))
            continue
        message = problem["msg"].removeprefix("Value error, ")
        label = next((LABELS[key] for key in LABELS if where == key or where.startswith(key + ".")), "")
        text = f"{label}: {message}." if label else f"{message[:1].upper()}{message[1:]}."
        said.setdefault(text, []).extend(_fields_of(where, message))
    problems = [Problem(text, tuple(dict.fromkeys(fields))) for text, fields in said.items()]
    for key, options in menu_rows.items():
        kind = "queue" if key == "ivr.menu.queue" else "digit"
        fields = tuple(f"{kind}_{option}" for option in options)
        problems.append(Problem(f"{ROW_PLAIN[kind]}: {_names(options)}.", fields))
    return problems


def _fields_of(where: str, message: str) -> tuple[str, ...]:
    if where == "business_hours":
        return tuple(f"hours_{day}" for day in WEEKDAYS if message.startswith(f"{day}:"))
    if where == "ivr.greeting":
        return ("greeting_en", "greeting_es")
    return (where,) if where in NumberForm.model_fields else ()


def hours_summary(saved: NumberRead) -> str:
    """'Mon-Fri 08:00-18:00; Sat 09:00-13:00', days with the same hours run together; no hours is always open."""
    if not saved.business_hours:
        return "Always open"
    runs: list[tuple[list[str], str]] = []
    for day in WEEKDAYS:
        spans = ", ".join(f"{start}-{end}" for start, end in saved.business_hours.get(day, []))
        if runs and runs[-1][1] == spans and runs[-1][0][-1] == WEEKDAYS[WEEKDAYS.index(day) - 1]:
            runs[-1][0].append(day)
        else:
            runs.append(([day], spans))
    parts = [f"{(days[0] if len(days) == 1 else f'{days[0]}-{days[-1]}').title()} {spans}"
             for days, spans in runs if spans]
    return "; ".join(parts)


def _active_queues(uow: Uow) -> list[str]:
    return [queue.name for queue in routing_setup.list_queues(uow) if queue.active]


def _context(uow: Uow, form: NumberForm, *, editing: bool, problems: list[Problem] | None = None,
             done: str | None = None) -> dict[str, Any]:
    saved = numbers.all_numbers(uow)
    problems = problems or []
    return {"numbers": saved, "hours_of": {item.number: hours_summary(item) for item in saved}, "form": form,
            "editing": editing, "problems": problems, "done": done, "queues": _active_queues(uow),
            "invalid": {field for problem in problems for field in problem.fields},
            "weekdays": WEEKDAYS, "day_names": DAY_NAMES, "options": OPTIONS, "option_names": OPTION_NAMES,
            "language_names": LANGUAGE_NAMES}


def _edit_link(number: str) -> str:
    return f"{PAGE}?edit={quote(number)}#number-form-heading"


@router.get(PAGE)
def phone_numbers(request: Request, actor: AdminOnly, uow: Uow, edit: str | None = None,
                  saved: str | None = None, deactivated: str | None = None) -> Response:
    chosen = next((item for item in numbers.all_numbers(uow) if item.number == edit), None) if edit else None
    form = NumberForm.of(chosen) if chosen else NumberForm.blank(_active_queues(uow))
    done = f"Saved {saved}." if saved else (f"Deactivated {deactivated}: it takes no calls." if deactivated else None)
    return render(request, "telephony/numbers.html", _context(uow, form, editing=chosen is not None, done=done))


@router.post(PAGE)
def save_number(request: Request, actor: AdminOnly, uow: Uow, form: Annotated[NumberForm, Form()]) -> Response:
    try:
        data = form.number_in()
        with uow.savepoint():
            (numbers.save if form.editing else numbers.create)(uow, actor, data)
    except (Refused, InvalidTelephonyInput) as error:
        problems = error.problems if isinstance(error, Refused) else [_service_problem(error, form)]
        return render(request, "telephony/numbers.html", _context(uow, form, editing=form.editing, problems=problems),
                      status_code=422)
    return RedirectResponse(f"{PAGE}?saved={quote(data.number)}", status_code=303)


def _service_problem(error: InvalidTelephonyInput, form: NumberForm) -> Problem:
    if error.field == "number":  # added again: say so, with the way to its edit form
        number = form.number.strip()
        return Problem(f"{number} is already one of the center's numbers:", ("number",), edit=_edit_link(number))
    named = str(error)  # "There is no active queue named 'radiology'."
    unknown = [f"queue_{option}" for option in OPTIONS if form.digit(option) and repr(form.queue(option)) in named]
    after_hours = ["after_hours_queue"] if repr(form.after_hours_queue) in named else []
    return Problem(str(error), tuple(unknown + after_hours))


@router.post(PAGE + "/{number}/deactivate")
def deactivate_number(actor: AdminOnly, uow: Uow, number: str) -> Response:
    numbers.deactivate(uow, actor, number)
    return RedirectResponse(f"{PAGE}?deactivated={quote(number)}", status_code=303)
