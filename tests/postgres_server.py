"""A throwaway PostgreSQL server for tests: Debian's binaries, a temp data dir, trust auth.

``initdb`` and ``postgres`` refuse to run as root, so as root they run as the ``postgres``
system user (created by Debian's package). The server listens on 127.0.0.1 at a free port with
its Unix socket in the temp dir, and is removed by ``stop()``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be found, installed or started; the message says why."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl."""
    found = []
    for candidate in glob.glob("/usr/lib/postgresql/*/bin"):
        path = Path(candidate)
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            version = path.parent.name
            found.append((int(version) if version.isdigit() else 0, path))
    return max(found)[1] if found else None


def ensure_installed(*, allow_install: bool) -> Path:
    """Find the server binaries, installing Debian's ``postgresql`` package if allowed."""
    bin_dir = find_bin_dir()
    if bin_dir is None and allow_install and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
            if done.returncode != 0:
                raise PostgresUnavailable(f"`{' '.join(cmd)}` failed: {done.stderr[-500:]}")
        bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin "
            "(install them with `apt-get install -y postgresql`)"
        )
    return bin_dir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A running test server; ``url(db)`` gives a SQLAlchemy URL, ``create_database`` a new db."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="caselens-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_root:
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-1500:] if log.exists() else ""
            raise PostgresUnavailable(
                f"`{' '.join(args[:2])}` failed ({done.returncode}): {done.stderr[-1500:]}{tail}"
            )
        return done

    def start(self) -> PostgresServer:
        if self._as_root:
            shutil.chown(self.root, user=SERVER_USER, group=SERVER_USER)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        # fsync off: a test server's crash safety is not under test; PostgreSQL's is proven.
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=100"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                    timeout=60,
                )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PostgresServer:
    """Install if needed (only in CI), start and return a server; caller must ``stop()`` it."""
    bin_dir = ensure_installed(allow_install=in_ci())
    server = PostgresServer(bin_dir)
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise


if __name__ == "__main__":  # manual check: python tests/postgres_server.py
    started = time.monotonic()
    srv = start_server()
    print("up at", srv.url(), f"in {time.monotonic() - started:.1f}s")
    srv.stop()
