"""The shared endpoint table (shared.messaging.rpc.Route, RpcRouter.serve): each use
case is called with the command, the principal and the providers its parameters name."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel
from shared.auth import Principal
from shared.messaging.rpc import Route, RpcRouter, bind


class Cmd(BaseModel):
    x: int = 0


async def needs_all(cmd: Cmd, uow: str, p: Principal, deps: str) -> Any:
    return (cmd.x, uow, p.user_id, deps)


async def public(cmd: Cmd, deps: str) -> Any:
    return (cmd.x, deps)


async def with_default(cmd: Cmd, notify: str | None = None, other: int = 3) -> Any:
    return (cmd.x, notify, other)


def test_serve_registers_every_route_with_its_options() -> None:
    rpc = RpcRouter("svc")
    calls = {"uow": 0}

    def uow() -> str:
        calls["uow"] += 1
        return f"uow{calls['uow']}"

    rpc.serve(
        (
            Route("a.v1.x", Cmd, Cmd, "All.", needs_all),
            Route("a.v1.y", Cmd, Cmd, "Public.", public, public=True, throttle=lambda c: "k"),
        ),
        uow=uow,
        deps=lambda: "d",
    )
    a, b = rpc.endpoints["a.v1.x"], rpc.endpoints["a.v1.y"]
    assert (a.summary, a.public, a.budgeted, a.throttle) == ("All.", False, False, None)
    assert (b.public, b.budgeted, b.throttle is not None) == (True, True, True)
    p = Principal(user_id="usr_1", account_id="acc_1", permissions=frozenset())
    assert asyncio.run(a.handler(Cmd(x=1), p)) == (1, "uow1", "usr_1", "d")
    assert asyncio.run(a.handler(Cmd(x=2), p)) == (2, "uow2", "usr_1", "d")  # one per call
    assert asyncio.run(b.handler(Cmd(x=3), None)) == (3, "d")


def test_parameters_with_a_default_may_be_provided_or_left_out() -> None:
    route = Route("a.v1.z", Cmd, Cmd, "", with_default)
    assert asyncio.run(bind(route, {})(Cmd(x=1), None)) == (1, None, 3)
    assert asyncio.run(bind(route, {"notify": lambda: "n"})(Cmd(x=1), None)) == (1, "n", 3)


def test_a_parameter_nothing_provides_is_refused_at_registration() -> None:
    with pytest.raises(ValueError, match="nothing provides 'uow'"):
        bind(Route("a.v1.x", Cmd, Cmd, "", needs_all), {"deps": lambda: "d"})
