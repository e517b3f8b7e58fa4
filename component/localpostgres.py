"""A throw-away PostgreSQL server on loopback for tests and benchmarks (Debian's packages).

PostgreSQL refuses to run as root, so as root the cluster belongs to the
``postgres`` system user (created by Debian's package) and the commands run
through ``runuser``. Trust authentication on 127.0.0.1 only: the server lives as
long as the test session, in a temporary folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from .localprocess import free_port

DEBIAN_HINT = "install Debian's PostgreSQL server: apt-get install postgresql"


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        found = shutil.which("initdb")
        if not found:
            raise RuntimeError(f"PostgreSQL's initdb not found; {DEBIAN_HINT}")
        return Path(found).parent
    return Path(candidates[0]).parent


class LocalPostgres:
    def __init__(self, state_dir: Path, port: int | None = None) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.data_dir = self.state_dir / "pgdata"
        self.socket_dir = self.state_dir / "socket"
        self.log_path = self.state_dir / "postgres.log"
        self.port = port or free_port()
        self.bin = _bin_dir()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self, timeout: float = 60) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self.as_root:
            shutil.chown(self.state_dir, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                      "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        result = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                           "-o", options, "-w", "-t", str(int(timeout)), "start", check=False)
        if result.returncode != 0:
            tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not accept connections in time")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop",
                      check=False)

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
                           "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql)
        return result.stdout

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy asyncpg URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> "LocalPostgres":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
