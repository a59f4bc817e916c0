"""`make bench`: the targets of ENGINEERING.md, measured on the real stack (four
service processes, embedded NATS and PostgreSQL, local SMTP), each against a raw
baseline measured in the same run. Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from devstack.ports import free_port
from devstack.stack import Stack
from nats.aio.client import Client

Scenario = Callable[["Bench"], Awaitable[dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def reg(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn

    return reg


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]


def _tree_cpu(pid: int, descendants: bool = True) -> float:
    """CPU seconds (user + system) of a process and its descendants, 0 if gone."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for p in [root, *(root.children(recursive=True) if descendants else [])]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0.0


class CpuMeter:
    """CPU seconds each part of the stack spent during a scenario: the four services,
    NATS, PostgreSQL (all its backends) and the bench itself. Shows what bounds a
    throughput on a machine whose cores are shared by all of them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def _pids(self) -> dict[str, int]:
        pids = {k: p.pid for k, p in self.stack.services.items()}
        if self.stack.nats is not None:
            pids["nats"] = self.stack.nats.popen.pid
        if self.stack.postgres is not None:
            pids["postgres"] = self.stack.postgres.popen.pid
        return pids

    def snapshot(self) -> dict[str, float]:
        used = {k: _tree_cpu(pid) for k, pid in self._pids().items()}
        used["bench"] = _tree_cpu(os.getpid(), descendants=False)  # the services are its children
        return used

    @staticmethod
    def since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        used = {k: round(after[k] - before.get(k, 0.0), 1) for k in after}
        used["total"] = round(sum(used.values()), 1)
        return used


_TOP_STATEMENTS = """
SELECT d.datname AS db, s.calls, round(s.total_exec_time)::int AS ms, s.rows,
       left(regexp_replace(s.query, '\\s+', ' ', 'g'), 140) AS query
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
ORDER BY s.total_exec_time DESC LIMIT 12
"""


class PgStatements:
    """With ``--pg-statements``: PostgreSQL's costliest statements of each scenario
    (pg_stat_statements, loaded into the stack's own PostgreSQL)."""

    SETTINGS = "shared_preload_libraries=pg_stat_statements pg_stat_statements.track=all"

    def __init__(self, database_url: str) -> None:
        self.url = database_url

    async def reset(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await conn.execute("SELECT pg_stat_statements_reset()")
        finally:
            await conn.close()

    async def top(self) -> list[str]:
        conn = await asyncpg.connect(self.url)
        try:
            rows = await conn.fetch(_TOP_STATEMENTS)
        finally:
            await conn.close()
        return [
            f"{r['db']} {r['calls']} calls {r['ms']} ms {r['rows']} rows: {r['query']}"
            for r in rows
        ]


class Bench:
    def __init__(self, stack: Stack, nc: Client, harness: Client, smoke: bool = False) -> None:
        self.stack = stack
        self.smoke = smoke  # `make bench-smoke`: tiny sizes, to show every scenario still runs
        self.nc = nc  # the client role: requests, as an outside caller makes them
        self.harness = harness  # every permission: synthetic events, watching, the echo
        self._token: str | None = None
        self.js = harness.jetstream()

    def size(self, full: int, smoke: int) -> int:
        """A scenario's size: ``full`` for ``make bench``, ``smoke`` for ``make bench-smoke``."""
        return smoke if self.smoke else full

    async def consumers_idle(self, stream: str, timeout: float = 600.0) -> float:
        """Wait until every consumer of ``stream`` has applied everything published to it
        (nothing pending, nothing awaiting its ack); return the seconds waited."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            infos = await self.js.consumers_info(stream)
            if all((c.num_pending or 0) + (c.num_ack_pending or 0) == 0 for c in infos):
                return time.perf_counter() - t0
            await asyncio.sleep(0.2)
        raise TimeoutError(f"consumers of {stream} still busy after {timeout}s")

    async def req(
        self, subject: str, body: dict[str, Any], token: str | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        msg = await self.nc.request(
            subject, json.dumps(body).encode(), timeout=timeout, headers=headers
        )
        data: dict[str, Any] = json.loads(msg.data)
        if "error" in data:
            raise RuntimeError(f"{subject}: {data['error']}")
        return data

    async def operator(self) -> str:
        if self._token is None:
            env = self.stack.env
            r = await self.req(
                "identity.v1.auth.login",
                {"email": env["OPERATOR_EMAIL"], "password": env["OPERATOR_PASSWORD"]},
            )
            self._token = r["token"]
        return self._token

    async def raw_echo(self, n: int = 2000) -> list[float]:
        """Round-trip times of a raw nats-py request/reply echo (the baseline)."""

        async def echo(m: Any) -> None:
            await m.respond(m.data)

        sub = await self.harness.subscribe("bench.echo", cb=echo, queue="bench")
        ts = []
        payload = json.dumps({"account_id": "acc_x" * 3}).encode()
        for _ in range(n):
            t = time.perf_counter()
            await self.harness.request("bench.echo", payload, timeout=5)
            ts.append(time.perf_counter() - t)
        await sub.unsubscribe()
        return ts


@scenario("query")
async def query_latency(b: Bench) -> dict[str, Any]:
    """account.v1.accounts.get vs a raw nats-py request/reply echo measured in the same
    run: p50 within 2.5x of the echo's p50, p99 within 3x of the echo's p99."""
    token = await b.operator()
    acc = await b.req(
        "account.v1.accounts.create", {"name": "Bench Co", "country": "US", "plan": "ultra"}, token
    )
    body = json.dumps({"account_id": acc["id"]}).encode()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(200):
        await b.nc.request("account.v1.accounts.get", body, timeout=5, headers=headers)
    n = b.size(2000, 200)
    echo = await b.raw_echo(n)
    raw = statistics.median(echo)
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        await b.nc.request("account.v1.accounts.get", body, timeout=5, headers=headers)
        ts.append(time.perf_counter() - t)
    p50 = statistics.median(ts)
    return {
        "raw_echo_p50_ms": round(raw * 1000, 3),
        "raw_echo_p99_ms": round(pct(echo, 0.99) * 1000, 3),
        "accounts_get_p50_ms": round(p50 * 1000, 3),
        "accounts_get_p99_ms": round(pct(ts, 0.99) * 1000, 3),
        "ratio": round(p50 / raw, 2),
        "p99_ratio": round(pct(ts, 0.99) / pct(echo, 0.99), 2),
        "target_ratio": 2.5,
        "target_p99_ratio": 3.0,
    }


@scenario("memory")
async def memory(b: Bench) -> dict[str, Any]:
    """Resident memory of each service process (target < 150 MB each)."""
    out: dict[str, Any] = {}
    for name, p in b.stack.services.items():
        out[f"{name}_rss_mb"] = round(psutil.Process(p.pid).memory_info().rss / 2**20, 1)
    out["target_mb"] = 150
    return out


async def raw_insert_rate(database_url: str, n: int = 20000) -> float:
    """Rows/s of a plain asyncpg batched insert: the database baseline."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE bench_rows (id text primary key, email text, data jsonb)"
        )
        rows = [(f"r{i}", f"u{i}@example.com", json.dumps({"i": i})) for i in range(n)]
        t = time.perf_counter()
        for i in range(0, n, 25):
            await conn.executemany(
                "INSERT INTO bench_rows VALUES ($1, $2, $3::jsonb)", rows[i : i + 25]
            )
        return n / (time.perf_counter() - t)
    finally:
        await conn.close()


async def main(selected: list[str], smoke: bool = False, pg_statements: bool = False) -> int:
    root = Path(tempfile.mkdtemp(prefix="bench-"))
    if pg_statements:
        os.environ["DEVSTACK_PG_SETTINGS"] = PgStatements.SETTINGS
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(sink_port)])
    os.environ["SMTP_HOST"], os.environ["SMTP_PORT"] = "127.0.0.1", str(sink_port)
    stack = Stack(root, harness=True)
    t0 = time.monotonic()
    stack.start_infra()
    stack.start_services()
    try:
        await stack.wait_healthy(60)
        results: dict[str, Any] = {
            "startup": {"healthy_after_s": round(time.monotonic() - t0, 1), "target_s": 15}
        }
        results["baseline"] = {
            "asyncpg_insert_rows_per_s": round(
                await raw_insert_rate(stack.env["DATABASE_URL"], 2000 if smoke else 20000)
            )
        }
        nc = await stack.connect("client")
        harness = await stack.connect("harness")
        b = Bench(stack, nc, harness, smoke)
        meter = CpuMeter(stack)
        statements = PgStatements(stack.env["DATABASE_URL"]) if pg_statements else None
        failed = []
        for name in selected or list(SCENARIOS):
            began = time.monotonic()
            cpu = meter.snapshot()
            if statements is not None:
                await statements.reset()
            try:
                results[name] = await SCENARIOS[name](b)
                results[name]["scenario_took_s"] = round(time.monotonic() - began, 1)
                results[name]["cpu_s"] = CpuMeter.since(cpu, meter.snapshot())
                if statements is not None:
                    results[name]["pg_statements"] = await statements.top()
            except Exception as exc:  # a scenario whose feature is missing reports it
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                failed.append(name)
            print(json.dumps({name: results[name]}), flush=True)
        results["memory_after"] = await memory(b)
        await nc.close()
        await harness.close()
        print(json.dumps(results, indent=2))
        if failed:
            print(f"scenarios that did not run through: {', '.join(failed)}", flush=True)
        return 1 if failed else 0
    finally:
        stack.stop()
        sink.terminate()
        sink.wait(10)


def cli() -> None:
    import bench.scenarios  # noqa: F401  (registers the service scenarios)

    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("scenarios", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes (make bench-smoke, in CI): every scenario runs through; the "
        "figures mean nothing; exit 1 if a scenario fails",
    )
    parser.add_argument(
        "--pg-statements",
        action="store_true",
        help="load pg_stat_statements into the stack's PostgreSQL and print each "
        "scenario's costliest statements",
    )
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.scenarios, args.smoke, args.pg_statements)))
