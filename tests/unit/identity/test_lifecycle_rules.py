"""Pure rules of issue 12 (identity): calling_blocked, what goes back to inventory,
local phone formats, the folded search text."""

from __future__ import annotations

import pytest
from identity import domain
from shared.contracts import validators as v


@pytest.mark.parametrize(
    ("user_type", "has_location", "blocked"),
    [
        ("standard", False, True),
        ("free", False, True),  # places calls with RingOut
        ("mobile", False, False),
        ("video_pro_plus", False, False),
        ("standard", True, False),
        ("free", True, False),
    ],
)
def test_calling_is_blocked_only_for_calling_types_without_a_location(
    user_type: str, has_location: bool, blocked: bool
) -> None:
    assert domain.calling_blocked(user_type, has_location) is blocked


def test_held_names_license_number_and_device() -> None:
    profile = {
        "license": True,
        "phone": {"source": "inventory", "device_id": "dev_1", "model": "Yealink T54W"},
        "phone_number": {"source": "inventory", "number": "+16175550199"},
    }
    assert domain.held("standard", profile) == {
        "license": "standard",
        "number": "+16175550199",
        "device_id": "dev_1",
    }
    bare = {"license": False, "phone": {"source": "none"}, "phone_number": None}
    assert domain.held("mobile", bare) == {"license": None, "number": None, "device_id": None}


def test_released_is_what_was_held_and_no_longer_is() -> None:
    before = {"license": "standard", "number": "+16175550199", "device_id": "dev_1"}
    same = domain.released(before, dict(before))
    assert same == {"license": None, "number": None, "device_id": None}
    swapped = domain.released(
        before, {"license": "video_pro_plus", "number": None, "device_id": "dev_1"}
    )
    assert swapped == {"license": "standard", "number": "+16175550199", "device_id": None}
    nothing = {"license": None, "number": None, "device_id": None}
    assert domain.released(nothing, before) == nothing


@pytest.mark.parametrize(
    ("value", "country", "e164"),
    [
        ("(617) 555-0199", "US", "+16175550199"),
        ("617.555.0199", "US", "+16175550199"),
        ("+1 617 555 0199", "GB", "+16175550199"),
        ("020 7946 0018", "GB", "+442079460018"),
    ],
)
def test_local_phone_formats_become_e164(value: str, country: str, e164: str) -> None:
    assert domain.local_phone(value, country) == e164


@pytest.mark.parametrize(
    ("value", "country"), [("(617) 555-01", "US"), ("617 555 0199", "GB"), ("555-0199", None)]
)
def test_bad_local_phones_are_refused(value: str, country: str | None) -> None:
    with pytest.raises(ValueError, match="phone number"):
        domain.local_phone(value, country)


def test_phone_input_checks_syntax_and_canonicalises_e164_at_once() -> None:
    assert v.phone_input(" (617) 555-0199 ") == "(617) 555-0199"
    assert v.phone_input("+1 617-555-0199") == "+16175550199"
    for bad in ("call me", "12", "+1 617", "617;drop"):
        with pytest.raises(ValueError):
            v.phone_input(bad)


def test_search_text_folds_accents_and_case() -> None:
    assert domain.fold("Élodie DUPRÉ") == "elodie dupre"
    assert domain.fold("Müller") == "muller"
    assert domain.search_text("Élodie", "Dupré", "Elo@Example.com") == (
        "elodie dupre | elo@example.com"
    )
