"""Pure rules of the patient CRM: phone numbers, name matching keys, ages, time zones, identity checks."""

from __future__ import annotations

import unicodedata
from datetime import date

import jellyfish
import phonenumbers
import us
from rapidfuzz.distance import OSA

from careline.patients.errors import InvalidPhone

PHONE_USES = ("mobile", "home", "work")
# Best match first when several patients share a number (DESIGN: mobile before home).
PHONE_USE_RANK = {"mobile": 0, "home": 1, "work": 2}
IDENTIFIERS = ("name", "birth_date", "postal_code", "mrn")


LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "vi": "Vietnamese", "zh": "Chinese", "pt": "Portuguese",
    "ht": "Haitian Creole", "fr": "French", "ru": "Russian", "ar": "Arabic", "ko": "Korean", "tl": "Tagalog",
    "pl": "Polish", "it": "Italian", "de": "German", "hi": "Hindi", "ja": "Japanese", "so": "Somali",
}


def language_name(code: str) -> str:
    """'es' or 'es-MX' → 'Spanish'; unknown codes are shown as given."""
    return LANGUAGE_NAMES.get(code.split("-", maxsplit=1)[0].lower(), code)


def normalise_phone(raw: str, *, default_region: str) -> str:
    """E.164 for any typed or provider-sent form; raises InvalidPhone with a message fit for the user."""
    text = raw.strip()
    if not text:
        raise InvalidPhone(raw, "Enter a phone number.")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone(raw, "That is not a phone number.") from error
    # "Possible" (right length for the country), not "valid": fictional 555 numbers, which test data and
    # demo populations use, must work like real ones.
    # A 7-digit local number cannot be dialled from a call center in another area code: refuse it too.
    if phonenumbers.is_possible_number_with_reason(parsed) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise InvalidPhone(raw, "That phone number has the wrong number of digits.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL)


# Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSABLE = str.maketrans({"đ": "d", "ø": "o", "ł": "l", "æ": "ae", "œ": "oe", "ß": "ss", "þ": "th",
                                 "\u0131": "i"})  # the last is the dotless i


def name_key(name: str) -> str:
    """Accent-free, case-free, punctuation-free: 'José-María O'Neil' → 'jose maria oneil', 'Đặng' → 'dang'."""
    decomposed = unicodedata.normalize("NFKD", name.casefold().translate(_UNDECOMPOSABLE))
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    cleaned = "".join(ch if ch.isalnum() or ch.isspace() else (" " if ch == "-" else "") for ch in letters)
    return " ".join(cleaned.split())


def name_sound(family_name: str) -> str:
    """A phonetic code of the family name, so 'Jonhson' still finds 'Johnson'."""
    key = name_key(family_name).replace(" ", "")
    return jellyfish.soundex(key) if key else ""


def close_enough(typed: str, stored: str) -> bool:
    """Typed name keys match a stored one with at most one typo (a swap counts as one) per five letters."""
    if stored.startswith(typed):
        return True
    allowed = max(1, len(typed) // 5)
    # Against the stored name cut one shorter, as long and one longer, so a dropped or extra letter counts once.
    return min(OSA.distance(typed, stored[:length]) for length in range(len(typed) - 1, len(typed) + 2)) <= allowed


def age_on(birth_date: date, today: date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def time_zone_for(*, country: str | None, state: str | None) -> str | None:
    """The zone most of a US state lives in; None where the address does not tell."""
    if (country or "US").upper() not in ("US", "USA") or not state:
        return None
    found = us.states.lookup(state.strip())
    return found.capital_tz if found else None


def identifiers_matched(
    offered: dict[str, str], *, full_name_keys: set[str], birth_date: date, postal_code: str | None, mrn: str
) -> set[str]:
    """Which of the offered identifiers match the record. Compares keys, never logs or returns values."""
    matched = set()
    name = name_key(offered.get("name", ""))
    if name and name in full_name_keys:
        matched.add("name")
    if offered.get("birth_date", "").strip() == birth_date.isoformat():
        matched.add("birth_date")
    postal = offered.get("postal_code", "").strip()[:5]
    if postal and postal_code and postal == postal_code[:5]:
        matched.add("postal_code")
    if offered.get("mrn", "").strip().upper() == mrn.upper() and mrn:
        matched.add("mrn")
    return matched
