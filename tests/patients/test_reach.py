"""Finding patients for messages that come in: by e-mail address, and by the name and birth date a chat gives."""

from __future__ import annotations

from datetime import date

from careline.db import UnitOfWork
from careline.patients.service import reach
from tests.factories.patients import make_patient


class TestByEmail:
    def test_the_address_matches_in_any_case(self, uow: UnitOfWork) -> None:
        ana = make_patient(uow)
        ana.email = "Ana.Rivera@Example.org"
        uow.flush()
        assert reach.ids_with_email(uow, "  ana.rivera@EXAMPLE.ORG ") == [ana.id]

    def test_underscore_and_percent_are_letters_not_wildcards(self, uow: UnitOfWork) -> None:
        ana = make_patient(uow)
        ana.email = "ana.rivera@example.org"
        uow.flush()
        assert reach.ids_with_email(uow, "ana_rivera@example.org") == []
        assert reach.ids_with_email(uow, "ana%@example.org") == []
        assert reach.ids_with_email(uow, "ana.rivera@example.org") == [ana.id]

    def test_only_active_records_are_found(self, uow: UnitOfWork) -> None:
        ana = make_patient(uow)
        ana.email, ana.status = "ana@example.org", "deceased"
        uow.flush()
        assert reach.ids_with_email(uow, "ana@example.org") == []


class TestByName:
    def test_exact_name_words_and_birth_date_find_one_patient(self, uow: UnitOfWork) -> None:
        ana = make_patient(uow, given="Ana María", family="Rivera Gómez")
        make_patient(uow, given="Ana", family="Rivera", birth_date=date(1990, 1, 1))
        assert reach.ids_named(uow, "ana rivera gomez", date(1961, 2, 3)) == [ana.id]
        assert reach.ids_named(uow, "Ana Rivera", date(1961, 2, 4)) == []
        assert reach.ids_named(uow, "Ana Rivera Gómez Smith", date(1961, 2, 3)) == []
