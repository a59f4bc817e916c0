"""users.update's rules for type, phone and number (identity.handlers.changes), without I/O:
what is reserved from inventory and which problems are reported."""

from __future__ import annotations

from typing import Any

from identity.handlers import changes
from shared.contracts import identity as c

ACC: dict[str, Any] = {
    "account_id": "acc_1",
    "plan": "core",
    "facts": {"user_types": ["standard", "mobile", "free"], "country": "US"},
}


def _change(fields: dict[str, Any], **row: Any) -> changes._Change:
    f = c.UserChanges.model_validate(fields)
    base = {
        "user_type": "standard",
        "profile": {
            "license": True,
            "phone": {"source": "inventory", "device_id": "dev_1"},
            "phone_number": {"source": "inventory", "number": "+16175550199"},
        },
    } | row
    return changes._Change(
        ACC, base, f, f.model_dump(exclude_unset=True), profile=dict(base["profile"])
    )


def test_a_type_without_calls_gives_phone_and_number_back_and_reserves_nothing() -> None:
    ch = _change({"user_type": "mobile"})
    changes._type_and_phones(ch)
    assert ch.errors == [] and ch.items == []
    assert (ch.profile["phone"], ch.profile["phone_number"], ch.profile["license"]) == (
        None,
        None,
        False,
    )


def test_a_licensed_type_reserves_or_buys_its_license() -> None:
    ch = _change({"user_type": "standard"}, user_type="mobile", profile={})
    changes._type_and_phones(ch)
    assert ch.items == [{"kind": "license", "user_type": "standard", "ref": "0"}]
    ch = _change({"user_type": "standard", "license": "purchase"}, user_type="free", profile={})
    changes._type_and_phones(ch)
    assert ch.items == [{"kind": "license", "user_type": "standard", "ref": "0", "purchase": True}]


def test_type_problems_are_reported_on_the_field() -> None:
    ch = _change({"user_type": "video_pro_plus", "phone_number": {"source": "purchase"}})
    changes._type_and_phones(ch)
    fields = sorted(e["field"] for e in ch.errors)
    assert fields == ["fields.phone_number", "fields.user_type"]
    ch = _change({"license": "purchase"})
    changes._type_and_phones(ch)
    assert [e["field"] for e in ch.errors] == ["fields.license"]
    ch = _change({"user_type": "free", "license": "purchase"})
    changes._type_and_phones(ch)
    assert [e["field"] for e in ch.errors] == ["fields.license"]


def test_number_in_local_format_is_reserved_as_e164_and_the_same_one_is_a_no_op() -> None:
    ch = _change({"phone_number": {"source": "inventory", "number": "(617) 555-0142"}})
    changes._type_and_phones(ch)
    assert ch.items == [{"kind": "number", "ref": "0", "number": "+16175550142"}]
    ch = _change({"phone_number": {"source": "inventory", "number": "617-555-0199"}})
    changes._type_and_phones(ch)
    assert ch.items == [] and ch.errors == []
    ch = _change({"phone_number": {"source": "inventory", "number": "(617) 555-01"}})
    changes._type_and_phones(ch)
    assert [e["field"] for e in ch.errors] == ["fields.phone_number.number"]
    ch = _change({"phone_number": None})
    changes._type_and_phones(ch)
    assert ch.items == [] and ch.profile["phone_number"] is None


def test_a_purchased_phone_needs_a_shipping_address() -> None:
    ch = _change({"phone": {"source": "purchase", "model": "Yealink T54W"}})
    changes._type_and_phones(ch)
    assert [e["field"] for e in ch.errors] == ["fields.shipping_address"]
    assert ch.items == [{"kind": "device", "ref": "0", "model": "Yealink T54W", "purchase": True}]
