from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.infra import Infra, provide
from tests.support.system import System, new_system


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with provide(tmp_path_factory.mktemp("infra")) as i:
        yield i


@pytest.fixture(scope="session")
async def system(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """All four services, in this process, on fresh databases."""
    sys_ = new_system(infra.nats_url, infra.database_url, Path(tmp_path_factory.mktemp("system")))
    await sys_.start_all()
    try:
        yield sys_
    finally:
        await sys_.stop_all()
        sys_.mail.stop()
