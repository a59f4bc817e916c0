from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.infra import Infra, provide
from tests.support.system import System, new_system


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    # not under pytest's basetemp: another pytest session on the machine may prune that
    tmp = Path(tempfile.mkdtemp(prefix="provisioning-infra-"))
    try:
        with provide(tmp) as i:
            yield i
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
async def system(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """All four services, in this process, on fresh databases."""
    sys_ = new_system(
        infra.nats_url,
        infra.database_url,
        Path(tempfile.mkdtemp(prefix="provisioning-mail-")),
        infra.nats_creds,
    )
    await sys_.start_all()
    try:
        yield sys_
    finally:
        await sys_.stop_all()
        sys_.mail.stop()
