"""Automatic extension numbers (DOMAIN.md 3, "filled in automatically (next free
number of the account's length)"): ``ExtensionRepository.next_free`` against the
database, on gappy and dense numbering, with removed and renumbered extensions,
excluded numbers, numbers of other lengths and a full range, compared with the plain
definition (the lowest numbers of the range neither taken nor excluded, in order)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable

import pytest
from identity.adapters.repository import AccountFactsRepository, ExtensionRepository
from identity.adapters.tables import accounts, extensions
from shared.db import database_url_for
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from tests.support.system import System, uid


@pytest.fixture
async def session(system: System) -> AsyncIterator[AsyncSession]:
    url = database_url_for(system.database_url, f"{system.run_id}_identity")
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as s:
            yield s
    finally:
        await engine.dispose()


async def new_account(s: AsyncSession, numbers: Iterable[int | str], length: int = 3) -> str:
    account_id = uid("acc")
    await s.execute(
        accounts.insert().values(
            account_id=account_id,
            plan="standard",
            status="Active",
            multi_site=False,
            extension_length=length,
            require_unique_email=False,
            facts={},
        )
    )
    await add(s, account_id, numbers)
    return account_id


async def add(s: AsyncSession, account_id: str, numbers: Iterable[int | str]) -> None:
    rows = [
        {"id": uid("ext"), "account_id": account_id, "number": str(n), "status": "Unassigned"}
        for n in numbers
    ]
    if rows:
        await s.execute(extensions.insert(), rows)


async def taken(s: AsyncSession, account_id: str) -> set[str]:
    q = extensions.select().where(extensions.c.account_id == account_id)
    return {r.number for r in (await s.execute(q))}


def lowest(used: set[str], lo: int, hi: int, count: int, exclude: list[str]) -> list[str]:
    gone = used | set(exclude)
    return [str(n) for n in range(lo, hi + 1) if str(n) not in gone][:count]


async def check(s: AsyncSession, account_id: str, count: int, exclude: list[str]) -> list[str]:
    """next_free, as the plain definition has it; the found numbers are then taken."""
    repo = ExtensionRepository(s)
    want = lowest(await taken(s, account_id), 101, 999, count, exclude)
    got = await repo.next_free(account_id, 101, 999, count, exclude)
    assert got == want
    await add(s, account_id, got + [x for x in exclude if x not in await taken(s, account_id)])
    return got


async def test_gaps_excluded_and_other_lengths(session: AsyncSession) -> None:
    s = session
    acc = await new_account(s, [100, 101, 102, 104, 107, 108, "1000", "1050", 99, "0105"])
    assert await check(s, acc, 3, ["103", "106", "1001"]) == ["105", "109", "110"]
    assert await check(s, acc, 2, []) == ["111", "112"]
    assert await check(s, acc, 0, []) == []


async def test_removed_and_renumbered_extensions_are_found_again(session: AsyncSession) -> None:
    s = session
    acc = await new_account(s, range(101, 201))
    repo = ExtensionRepository(s)
    assert await check(s, acc, 2, []) == ["201", "202"]
    ids = {r.number: r.id for r in (await s.execute(extensions.select()))}
    await repo.delete(ids["150"])
    await repo.delete(ids["120"])
    await repo.update(ids["130"], number="990")
    await repo.update(ids["140"], status="Enabled")  # not a new number: nothing freed
    assert await check(s, acc, 4, ["125"]) == ["120", "130", "150", "203"]
    await repo.delete(ids["1" + "01"])
    await repo.update(ids["102"], number="102")  # the same number: nothing freed
    assert await check(s, acc, 1, []) == ["101"]


async def test_an_excluded_number_left_unused_is_still_found(session: AsyncSession) -> None:
    s = session
    acc = await new_account(s, range(101, 111))
    repo = ExtensionRepository(s)
    # a caller that excludes a number it then does not take
    assert await repo.next_free(acc, 101, 999, 2, ["111"]) == ["112", "113"]
    assert await check(s, acc, 3, []) == ["111", "112", "113"]


async def test_a_full_range_and_one_freed(session: AsyncSession) -> None:
    s = session
    acc = await new_account(s, range(101, 998))
    assert await check(s, acc, 5, []) == ["998", "999"]
    repo = ExtensionRepository(s)
    assert await repo.next_free(acc, 101, 999, 1, []) == []
    ids = {r.number: r.id for r in (await s.execute(extensions.select()))}
    await repo.delete(ids["500"])
    assert await check(s, acc, 2, ["999"]) == ["500"]
    assert await repo.next_free(acc, 101, 999, 1, []) == []


async def test_the_account_length_changes(session: AsyncSession) -> None:
    s = session
    acc = await new_account(s, range(101, 301))
    repo = ExtensionRepository(s)
    assert await check(s, acc, 1, []) == ["301"]
    # four digits now: the three-digit floor says nothing there
    assert await repo.next_free(acc, 1001, 9999, 2, []) == ["1001", "1002"]
    await add(s, acc, range(1001, 1201))
    assert await repo.next_free(acc, 1001, 9999, 1, []) == ["1201"]
    ids = {r.number: r.id for r in (await s.execute(extensions.select()))}
    await repo.delete(ids["200"])  # three digits: the four-digit floor stays
    await repo.delete(ids["1100"])
    assert await repo.next_free(acc, 1001, 9999, 2, []) == ["1100", "1201"]
    # back to three digits
    assert await check(s, acc, 2, []) == ["200", "302"]


async def test_random_numbering_matches_the_definition(session: AsyncSession) -> None:
    s = session
    rnd = random.Random(11)
    for density in (0.2, 0.9, 0.99):
        acc = await new_account(s, [n for n in range(101, 1000) if rnd.random() < density])
        repo = ExtensionRepository(s)
        for _ in range(12):
            if rnd.random() < 0.4:
                ids = [
                    r.id
                    for r in await s.execute(
                        extensions.select().where(extensions.c.account_id == acc)
                    )
                ]
                for ext_id in rnd.sample(ids, min(len(ids), rnd.randint(1, 5))):
                    await repo.delete(ext_id)
            exclude = [str(rnd.randint(101, 999)) for _ in range(rnd.randint(0, 3))]
            free = set(lowest(await taken(s, acc), 101, 999, 10**4, []))
            exclude = [x for x in exclude if x in free]
            await check(s, acc, rnd.randint(1, 30), exclude)


async def test_the_lookup_statement_numbers_as_next_free(session: AsyncSession) -> None:
    """users.add numbers in its lookup statement (``AccountFactsRepository.references``,
    the given numbers excluded): the same numbers as ``next_free``, the floor moved."""
    s = session
    acc = await new_account(s, [100, 101, 102, 104, 107, 108, "1000", 99])
    refs = AccountFactsRepository(s)

    async def look_up(count: int, given: list[str]) -> list[str]:
        got = await refs.references(
            acc,
            sites=[],
            cost_centers=[],
            numbers=given,
            lock_emails=["a@example.com"],
            free_in=(101, 999),
            free_count=count,
        )
        assert got.taken_numbers == set(given) & await taken(s, acc)
        return got.free_numbers

    want = lowest(await taken(s, acc), 101, 999, 3, ["103", "106", "104"])
    assert await look_up(3, ["103", "106", "104"]) == want == ["105", "109", "110"]
    await add(s, acc, [*want, "103", "106"])
    assert await look_up(0, []) == []
    assert await look_up(2, []) == ["111", "112"]  # from the floor it left
    await add(s, acc, ["111", "112"])
    assert await check(s, acc, 2, []) == ["113", "114"]
