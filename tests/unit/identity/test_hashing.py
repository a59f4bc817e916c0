"""Password hashes: ours (argon2id), imported PHC strings (argon2id, bcrypt), rehashing."""

from __future__ import annotations

import bcrypt
import pytest
from argon2 import PasswordHasher
from identity.adapters.hashing import Argon2Hasher
from pydantic import ValidationError
from shared.contracts.identity import AssignCredentials

PW = "violet-harbour-47"


async def test_verifies_argon2id_and_bcrypt_and_asks_to_rehash_imported_ones() -> None:
    hasher = Argon2Hasher(threads=1)
    ours = await hasher.hash(PW)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PW)
    old = bcrypt.hashpw(PW.encode(), bcrypt.gensalt(rounds=4)).decode()
    for hashed in (ours, weak, old):
        assert await hasher.verify(hashed, PW)
        assert not await hasher.verify(hashed, PW + "x")
    assert not hasher.needs_rehash(ours)
    assert hasher.needs_rehash(weak) and hasher.needs_rehash(old)
    assert not await hasher.verify(None, PW)
    assert not await hasher.verify("$2b$04$short", PW)
    hasher.close()


def test_assign_credentials_takes_a_password_or_a_bounded_phc_hash() -> None:
    base = {"option": "assign_credentials"}
    ok = bcrypt.hashpw(PW.encode(), bcrypt.gensalt(rounds=4)).decode()
    assert AssignCredentials.model_validate(base | {"password_hash": ok}).password_hash == ok
    argon = PasswordHasher().hash(PW)
    assert AssignCredentials.model_validate(base | {"password_hash": argon})
    bad = [
        {},  # neither
        {"password": PW, "password_hash": ok},  # both
        {"password": PW},  # no pin / question / answer
        {"password_hash": "$1$md5$nope"},
        {"password_hash": ok.replace("$04$", "$31$")},  # bcrypt cost too high
        {"password_hash": argon.replace("m=65536", "m=4194304").replace("m=19456", "m=4194304")},
        {"password_hash": PasswordHasher(type=__import__("argon2").Type.I).hash(PW)},
    ]
    for extra in bad:
        with pytest.raises(ValidationError):
            AssignCredentials.model_validate(base | extra)
