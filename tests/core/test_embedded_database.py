"""The embedded PostgreSQL that `motcua run` and the tests start (core.embedded) is tuned as its
comments say: commits that do not wait for the disk, and connections for every process."""

from __future__ import annotations

from sqlalchemy import Engine, text


def test_the_embedded_database_commits_without_waiting_for_the_disk(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
        assert conn.execute(text("SHOW fsync")).scalar_one() == "on"  # durable, only later
        assert int(conn.execute(text("SHOW max_connections")).scalar_one()) == 200
