"""The simulated provider: callers of ``careline simulate`` and ``careline demo`` ring a center number and
walk its IVR through the very functions Twilio's webhooks call (``service.calls``), with no HTTP and no network.

``SimulatedLine`` plays the provider's part: it delivers the call, keys in the caller's choices at each question
the IVR asks, and reports the caller's hang-up as the provider's status callback would.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from careline.db import UnitOfWork
from careline.patients.errors import InvalidPhone
from careline.patients.policy import PatientPolicy
from careline.patients.service import lookup as patient_lookup
from careline.telephony import ivr
from careline.telephony.ivr import Stage, Turn
from careline.telephony.schemas import IvrConfig
from careline.telephony.service import calls, numbers

PROVIDER = "simulated"
MAX_ANSWERS = 8  # questions a simulated caller answers before hanging up (the IVR never asks this many)


@dataclass(frozen=True, slots=True)
class Dial:
    """One simulated caller: who they are, the number they ring, and what they will key in."""

    caller: str | None
    called: str
    language: str
    option: str  # the menu option they want: appointments, tests, prescriptions, billing, nurse, operator
    gives_birth_date: bool = False


@dataclass(frozen=True, slots=True)
class Placed:
    sid: str
    interaction_id: UUID | None  # None: the call never reached a line (after hours, a wrong number)


class SimulatedLine:
    """Delivers simulated calls. Sids are ``SIM`` and a run-unique counter, so two runs never collide."""

    def __init__(self, policy: PatientPolicy, *, run: str) -> None:
        self._policy, self._run, self._count = policy, run, itertools.count(1)
        self._configs: dict[str, IvrConfig] = {}

    def ring(self, uow: UnitOfWork, dial: Dial, now: datetime) -> Placed:
        """The call arrives and the caller answers every question until they are in line (or turned away)."""
        sid = f"SIM{self._run}{next(self._count):08d}"
        turn = calls.incoming(uow, self._policy, calls.Arrival(PROVIDER, sid, dial.caller, dial.called), now=now)
        config = self._config(uow, dial.called)
        for _ in range(MAX_ANSWERS):
            asked = _question(turn)
            if asked is None:
                break
            turn = calls.answer(uow, self._policy, PROVIDER, sid, asked, self._keys(uow, dial, config, asked),
                                now=now)
        found = calls.call_by_sid(uow, PROVIDER, sid)
        return Placed(sid, found.interaction_id if found is not None else None)

    def hang_up(self, uow: UnitOfWork, sid: str, now: datetime) -> None:
        """The caller hangs up: the provider's 'completed' callback (an abandon while in line, else the end)."""
        calls.status_changed(uow, PROVIDER, sid, "completed", at=now)

    def _keys(self, uow: UnitOfWork, dial: Dial, config: IvrConfig, stage: Stage) -> str:
        if stage == Stage.language:
            return str(config.languages.index(dial.language) + 1) if dial.language in config.languages else "1"
        if stage == Stage.menu:
            chosen = ivr.option_named(config, dial.option) or ivr.fallback_option(config)
            return chosen.digit
        if stage == Stage.identify and dial.gives_birth_date:
            return self._birth_date(uow, dial.caller)
        return ""  # skip (the pound key), or no answer to the callback offer

    def _birth_date(self, uow: UnitOfWork, caller: str | None) -> str:
        """The caller keys in their own birth date: the first patient on their number, as MMDDYYYY."""
        try:
            found = patient_lookup.lookup_by_phone(uow, calls.provider_actor(PROVIDER), self._policy, caller or "")
        except InvalidPhone:
            return ""
        born = found[0].birth_date if found else None
        return born.strftime("%m%d%Y") if born else ""

    def _config(self, uow: UnitOfWork, called: str) -> IvrConfig:
        if called not in self._configs:
            found = next((number for number in numbers.all_numbers(uow) if number.number == called), None)
            self._configs[called] = found.ivr if found is not None else IvrConfig()
        return self._configs[called]


def _question(turn: Turn) -> Stage | None:
    """The IVR stage this turn asks the caller to answer; None once they are in line, connected or let go."""
    if any(isinstance(verb, ivr.WaitInLine | ivr.HangUp | ivr.Record | ivr.Connect) for verb in turn):
        return None
    asked = [verb.stage for verb in turn if isinstance(verb, ivr.Ask)]
    return asked[-1] if asked and asked[-1] != Stage.waiting else None

