from datetime import date
from typing import Any, ClassVar

import pytest

from careline.patients import rules
from careline.patients.errors import InvalidPhone


class TestPhoneNormalisation:
    @pytest.mark.parametrize("typed", ["(555) 123-4567", "+1 555 123 4567", "5551234567", "555.123.4567",
                                       "1-555-123-4567", "tel:+1-555-123-4567"])
    def test_every_typed_form_gives_one_e164(self, typed: str) -> None:
        assert rules.normalise_phone(typed, default_region="US") == "+15551234567"

    def test_international_number_keeps_its_country(self) -> None:
        assert rules.normalise_phone("+52 55 1234 5678", default_region="US") == "+525512345678"

    def test_default_region_applies_to_national_forms(self) -> None:
        assert rules.normalise_phone("020 7946 0018", default_region="GB") == "+442079460018"

    @pytest.mark.parametrize(("typed", "message"), [
        ("", "Enter a phone number."),
        ("call me", "That is not a phone number."),
        ("555-1234", "That phone number has the wrong number of digits."),
        ("+1 555 123 45678 99", "That phone number has the wrong number of digits."),
    ])
    def test_invalid_numbers_get_a_clear_message(self, typed: str, message: str) -> None:
        with pytest.raises(InvalidPhone, match=message):
            rules.normalise_phone(typed, default_region="US")


class TestNames:
    def test_key_drops_accents_case_and_punctuation(self) -> None:
        assert rules.name_key("  José-María  O'Neil ") == "jose maria oneil"

    @pytest.mark.parametrize(("name", "key"), [("Đặng", "dang"), ("Søren", "soren"), ("Łukasz", "lukasz"),
                                               ("Straße", "strasse")])
    def test_letters_without_a_decomposition_fold_too(self, name: str, key: str) -> None:
        assert rules.name_key(name) == key

    def test_sound_is_the_same_for_a_transposition(self) -> None:
        assert rules.name_sound("Jonhson") == rules.name_sound("Johnson")

    @pytest.mark.parametrize(("typed", "stored"), [("jonhson", "johnson"), ("rivra", "rivera"), ("smyth", "smith"),
                                                   ("ana", "anabel"), ("muñoz", "munoz")])
    def test_small_typos_are_close_enough(self, typed: str, stored: str) -> None:
        assert rules.close_enough(rules.name_key(typed), stored)

    @pytest.mark.parametrize(("typed", "stored"), [("jones", "johnson"), ("smith", "schmidt"), ("ana", "eva")])
    def test_different_names_are_not(self, typed: str, stored: str) -> None:
        assert not rules.close_enough(typed, stored)


def test_age_counts_birthdays() -> None:
    assert rules.age_on(date(1961, 2, 3), date(2026, 2, 2)) == 64
    assert rules.age_on(date(1961, 2, 3), date(2026, 2, 3)) == 65


@pytest.mark.parametrize(("country", "state", "zone"), [("US", "MA", "America/New_York"),
                                                        ("US", "Illinois", "America/Chicago"),
                                                        (None, "CA", "America/Los_Angeles"),
                                                        ("MX", "Jalisco", None), ("US", None, None)])
def test_time_zone_from_address(country: str | None, state: str | None, zone: str | None) -> None:
    assert rules.time_zone_for(country=country, state=state) == zone


class TestIdentifiers:
    RECORD: ClassVar[dict[str, Any]] = {
        "full_name_keys": {"ana rivera", "ana maria rivera"}, "birth_date": date(1961, 2, 3),
        "postal_code": "02139-4307", "mrn": "T123",
    }

    def test_all_matching(self) -> None:
        offered = {"name": "Ána RIVERA", "birth_date": "1961-02-03", "postal_code": "02139", "mrn": "t123"}
        assert rules.identifiers_matched(offered, **self.RECORD) == {"name", "birth_date", "postal_code", "mrn"}

    def test_wrong_birth_date_does_not_match(self) -> None:
        offered = {"name": "Ana Rivera", "birth_date": "1961-03-02"}
        assert rules.identifiers_matched(offered, **self.RECORD) == {"name"}

    def test_empty_answers_never_match(self) -> None:
        assert rules.identifiers_matched({"name": "", "mrn": ""}, **self.RECORD) == set()
