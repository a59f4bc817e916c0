"""Issue 10: a service refuses a NATS server older than 2.10 (consumer filter
subjects are silently dropped on 2.9), naming the version found and needed."""

from __future__ import annotations

import pytest
from shared.messaging.server import UnsupportedServer, check_server_version, parse_version


@pytest.mark.parametrize("version", ["2.9.25", "2.9.0", "1.4.1", "v2.2.6"])
def test_an_older_server_is_refused_naming_both_versions(version: str) -> None:
    with pytest.raises(UnsupportedServer) as err:
        check_server_version(version)
    assert version in str(err.value) and "2.10 or newer is needed" in str(err.value)


@pytest.mark.parametrize("version", ["2.10.0", "2.10.22", "2.11.0-RC.1", "2.12.1", "3.0.0"])
def test_a_recent_server_is_accepted(version: str) -> None:
    check_server_version(version)


def test_an_unreadable_version_is_refused() -> None:
    with pytest.raises(UnsupportedServer, match="cannot be read"):
        check_server_version("0-unknown")


def test_versions_parse() -> None:
    assert parse_version("2.10.7") == (2, 10, 7)
    assert parse_version("v2.11") == (2, 11, 0)
    assert parse_version("nope") is None
