"""A realistic synthetic patient population for ``careline demo`` and the benchmarks, written fast.

``population_rows`` (in ``population``) is pure: from a seed and a clock it yields the same rows, plain dicts,
every time. ``generate_population`` writes them with Core bulk inserts, ``INSERT_CHUNK`` rows per statement.
Nothing here logs: the people are invented, but their rows are handled like any other PHI.

Everything is fictional: names are drawn from Faker pools, phone numbers sit on the 555 exchange
(+1 AAA 555 XXXX, the address's area codes first), e-mail goes to example.com/.net/.org (RFC 2606), MRNs
are "D" + 8 digits. The codes are real (SNOMED CT, LOINC, CVX, as Synthea writes them), so care-gap rules and
the 360 view treat the demo like imported EHR data.

Like a repository, this module writes the patient domain's tables directly; it is the only bulk writer.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from careline.patients.demo.draws import Row
from careline.patients.demo.population import BATCH_PATIENTS, Batch, population_rows
from careline.patients.models import (
    Condition,
    Encounter,
    Immunization,
    Location,
    Observation,
    Organization,
    Patient,
    PatientNote,
    PatientPhone,
    Practitioner,
    Procedure,
)

__all__ = ["BATCH_PATIENTS", "DEMO_SEED", "PopulationStats", "generate_population", "population_rows"]

DEMO_SEED = 2026
INSERT_CHUNK = 5_000
# Parents before children: foreign keys are checked statement by statement.
TABLES: dict[str, type[Any]] = {
    "organizations": Organization, "locations": Location, "practitioners": Practitioner, "patients": Patient,
    "patient_phones": PatientPhone, "patient_notes": PatientNote, "encounters": Encounter,
    "conditions": Condition, "observations": Observation, "procedures": Procedure, "immunizations": Immunization,
}


@dataclass(frozen=True, slots=True)
class PopulationStats:
    """What ``generate_population`` wrote, table by table, and how long it took."""

    patients: int
    households: int
    phones: int
    encounters: int
    conditions: int
    observations: int
    procedures: int
    immunizations: int
    notes: int
    practitioners: int
    organizations: int
    seconds: float

    def summary(self) -> str:
        return (f"Generated {self.patients:,} patients in {self.households:,} households: {self.phones:,} "
                f"phones, {self.encounters:,} encounters, {self.conditions:,} conditions, {self.observations:,} "
                f"observations, {self.procedures:,} procedures, {self.immunizations:,} immunizations "
                f"({self.practitioners} practitioners, {self.organizations} organizations) in {self.seconds:.1f} s.")


class _BulkInsert:
    """One table's bulk insert. Values go through SQLAlchemy's own per-column bind processors (UUID, UTC
    datetime, JSON …) but not its per-row parameter machinery, which costs more than the database itself at
    these volumes. PostgreSQL takes the rows by COPY, SQLite by an executemany of the compiled INSERT."""

    def __init__(self, connection: Connection, model: type[Any]) -> None:
        table, dialect = model.__table__, connection.dialect
        self._connection = connection
        compiled = insert(table).compile(dialect=dialect, column_keys=[column.key for column in table.columns])
        keys = list(compiled.positiontup or [column.key for column in table.columns])
        self._columns = [(key, table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in keys]
        self._copy = dialect.name == "postgresql"
        self._named = compiled.positiontup is None
        if self._copy:
            quote = dialect.identifier_preparer
            names = ", ".join(quote.quote(table.c[key].name) for key in keys)
            self._sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
        else:
            self._sql = str(compiled)

    def execute(self, rows: list[Row]) -> None:
        """Insert the rows in the connection's transaction."""
        columns = [[row[key] for row in rows] if process is None else [process(row[key]) for row in rows]
                   for key, process in self._columns]
        values = zip(*columns, strict=True)
        if self._copy:
            cursor: Any = self._connection.connection.cursor()  # psycopg's own, inside the same transaction
            with cursor, cursor.copy(self._sql) as copy:
                for row in values:
                    copy.write_row(row)
        elif self._named:
            keys = [key for key, _ in self._columns]
            self._connection.exec_driver_sql(self._sql, [dict(zip(keys, row, strict=True)) for row in values])
        else:
            self._connection.exec_driver_sql(self._sql, list(values))


class _BulkWriter:
    """Buffers rows by table and inserts them parents first, at most ``INSERT_CHUNK`` rows per statement."""

    def __init__(self, connection: Connection) -> None:
        self._inserts = {name: _BulkInsert(connection, model) for name, model in TABLES.items()}
        self._pending: dict[str, list[Row]] = {name: [] for name in TABLES}
        self.written = dict.fromkeys(TABLES, 0)

    def add(self, batch: Batch) -> None:
        for name, rows in batch.rows.items():
            self._pending[name].extend(rows)
        if len(self._pending["patients"]) >= INSERT_CHUNK:
            self.flush()

    def flush(self) -> None:
        for name, statement in self._inserts.items():
            rows, self._pending[name] = self._pending[name], []
            for start in range(0, len(rows), INSERT_CHUNK):
                statement.execute(rows[start:start + INSERT_CHUNK])
            self.written[name] += len(rows)


def generate_population(
    session_or_connection: Session | Connection, *, patients: int, seed: int = DEMO_SEED,
    progress: Callable[[int], None] | None = None, now: datetime | None = None, history: bool = True,
) -> PopulationStats:
    """Write ``patients`` synthetic patients, their households' phones, clinicians, clinics and histories.

    Runs in the caller's transaction and never commits. The database must not already hold a population
    made with the same seed (ids and MRNs would collide). ``progress`` gets the number of patients done so
    far, about every ``BATCH_PATIENTS`` patients and once at the end. ``now`` (aware) defaults to the clock.
    ``history=False`` leaves out the clinical past (see ``population_rows``).
    """
    started = clock.perf_counter()
    if isinstance(session_or_connection, Session):
        session_or_connection.flush()  # what the session holds goes first: the bulk rows may refer to it
        connection = session_or_connection.connection()
    else:
        connection = session_or_connection
    writer, households, done = _BulkWriter(connection), 0, 0
    for batch in population_rows(patients=patients, seed=seed, now=now or datetime.now(UTC), history=history):
        writer.add(batch)
        households += batch.households
        done += len(batch.rows["patients"])
        if progress and done < patients:
            progress(done)
    writer.flush()
    if progress:
        progress(done)
    return _stats(writer.written, households, clock.perf_counter() - started)


def _stats(written: dict[str, int], households: int, seconds: float) -> PopulationStats:
    return PopulationStats(
        patients=written["patients"], households=households, phones=written["patient_phones"],
        encounters=written["encounters"], conditions=written["conditions"], observations=written["observations"],
        procedures=written["procedures"], immunizations=written["immunizations"], notes=written["patient_notes"],
        practitioners=written["practitioners"], organizations=written["organizations"], seconds=seconds)
