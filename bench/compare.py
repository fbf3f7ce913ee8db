"""`make bench-compare REV=<commit>`: this tree and an earlier commit side by side, same data, same run.

Sequential `make bench` runs on a shared 2-core machine drift by 10–20 % between runs, more than
the differences that matter ("no page gets slower"). Here each tree gets its own embedded
PostgreSQL and Redis, the same tenants and dossiers built by its own bench/run.py helpers, and
its own server with the same workers; then wrk measures each page on one tree and then on the
other, in alternating order over several rounds, so both see the same machine. Prints a table
and writes bench/results/compare.json: requests/s (median of the rounds), p50 and p99, and the
ratio of this tree to the earlier one.

    .venv/bin/python bench/compare.py --against 34d5215 [--tenants 10] [--dossiers 20000]

The earlier commit is exported with `git archive` into a temporary folder and served from there
with this virtualenv (its own src/, migrations/ and themes/ come first on the path).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))

# page key -> (host file key, path key, connections, cookie key); the keys are filled by the stage.
PAGES: dict[str, tuple[str, str, int, str | None]] = {
    "framework_floor@64": ("hosts", "/healthz", 64, None),
    "tenant_home@64": ("hosts", "/", 64, None),
    "procedure_page@64": ("hosts", "/procedures/1.001000", 64, None),
    "tracking_page_db@1": ("big_hosts", "tracking", 1, None),
    "tracking_page_db@64": ("big_hosts", "tracking", 64, None),
    "citizen_dossier_page@16": ("big_hosts", "dossier", 16, "citizen"),
    "receipt_page@16": ("big_hosts", "receipt", 16, "citizen"),
    "officer_queue@1": ("big_hosts", "/officer?queue=in_progress", 1, "officer"),
    "officer_queue@16": ("big_hosts", "/officer?queue=in_progress", 16, "officer"),
}


def stage(tree: Path, tenants: int, dossiers: int, workers: int) -> None:
    """Runs in a child process with ``tree``'s src/ first on the path: builds the data with that
    tree's bench helpers, starts its server, prints one JSON line, and serves until stdin closes."""
    sys.path[:0] = [str(tree / "src"), str(tree / "bench")]
    import run  # the tree's own bench/run.py

    from motcua.core.broker import setup_broker
    from motcua.core.db import sync_engine
    from motcua.core.settings import load_settings
    from motcua.tenancy.migrate import migrate_platform

    data_dir, env, embedded = run.bench_services("motcua-compare-")
    settings = load_settings(env)
    setup_broker(settings)
    engine = sync_engine(settings.database_url or "", pool_size=2)
    server = None
    try:
        migrate_platform(engine, settings.root)
        slugs = [f"bench{i:04d}" for i in range(tenants)]
        run.onboard_bench_tenants(engine, settings, [*slugs, "benchbig"])
        code = run.make_dossier(engine, settings, "benchbig")
        citizen_sid, receipt_id = run.make_receipt(engine, settings, "benchbig", code)
        officer_sid, _, _ = run.make_back_office(engine, settings, "benchbig", dossiers)
        child_env = {**os.environ, **env, "PYTHONPATH": str(tree / "src")}
        server = run.start_server(
            ["motcua.app:create_app_from_env"], child_env, workers, factory=True, ready="/readyz"
        )
        hosts = data_dir / "hosts.txt"
        hosts.write_text("\n".join(f"{s}.localhost" for s in slugs) + "\n")
        big_hosts = data_dir / "big-hosts.txt"
        big_hosts.write_text("benchbig.localhost\n")
        print(
            "STAGE "
            + json.dumps(
                {
                    "url": server.url,
                    "hosts": str(hosts),
                    "big_hosts": str(big_hosts),
                    "tracking": f"/tracking?code={code}",
                    "dossier": f"/my/dossiers/{code}",
                    "receipt": f"/receipts/{receipt_id}",
                    "citizen": f"motcua_session={citizen_sid}",
                    "officer": f"motcua_session={officer_sid}",
                }
            ),
            flush=True,
        )
        sys.stdin.read()  # until the driver is done
    finally:
        if server is not None:
            server.stop()
        engine.dispose()
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def start_stage(tree: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--stage",
            str(tree),
            "--tenants",
            str(args.tenants),
            "--dossiers",
            str(args.dossiers),
            "--workers",
            str(args.workers),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree / "src")},
        process_group=0,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("STAGE "):
            info: dict[str, str] = json.loads(line.removeprefix("STAGE "))
            return process, info
        print(f"  [{tree.name}] {line.rstrip()}", flush=True)
    raise RuntimeError(f"the stage of {tree} did not start")


def stop_stage(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def measure(info: dict[str, str], page: tuple[str, str, int, str | None], seconds: int) -> dict[str, Any]:
    import run  # this tree's bench/run.py: wrk and its report script

    hosts, path, connections, cookie = page
    data: dict[str, Any] = run.wrk(
        info["url"],
        Path(info[hosts]),
        info.get(path, path),
        connections,
        seconds,
        cookie=info[cookie] if cookie else "",
    )
    if data["non_2xx"] or data["errors"]:  # a figure of error pages would compare nothing
        raise RuntimeError(
            f"{info['url']}{info.get(path, path)}: {data['non_2xx']} non-2xx, {data['errors']} errors"
        )
    return data


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", help="the earlier commit (any git revision)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--dossiers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if args.stage:
        stage(Path(args.stage), args.tenants, args.dossiers, args.workers)
        return 0
    if not args.against:
        parser.error("--against REV is required (the commit to compare with)")
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.against], capture_output=True, text=True
    )
    if revision.returncode != 0:
        print(f"bench: {args.against!r} is not a commit of this repository", file=sys.stderr)
        return 2
    earlier = Path(tempfile.mkdtemp(prefix=f"motcua-{revision.stdout.strip()}-"))
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", args.against], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(earlier)], stdin=archive.stdout, check=True)
    archive.wait()
    trees = {"earlier": earlier, "this": ROOT}
    stages: dict[str, tuple[subprocess.Popen[str], dict[str, str]]] = {}
    figures: dict[str, dict[str, list[dict[str, Any]]]] = {p: {"earlier": [], "this": []} for p in PAGES}
    try:
        for side, tree in trees.items():
            print(f"preparing {side} ({tree})", flush=True)
            stages[side] = start_stage(tree, args)
        for round_ in range(args.rounds):
            order = ["earlier", "this"] if round_ % 2 == 0 else ["this", "earlier"]
            for name, page in PAGES.items():
                for side in order:
                    figures[name][side].append(measure(stages[side][1], page, args.seconds))
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    finally:
        for process, _ in stages.values():
            stop_stage(process)
        shutil.rmtree(earlier, ignore_errors=True)

    report: dict[str, Any] = {"against": revision.stdout.strip(), "rounds": args.rounds, "pages": {}}
    print(
        f"\n{'page':26} {'earlier req/s':>13} {'this req/s':>11} {'ratio':>6} {'p50 ms':>15} {'p99 ms':>15}"
    )
    for name, sides in figures.items():
        row: dict[str, Any] = {}
        for side, runs in sides.items():
            row[side] = {
                "requests_per_s": round(statistics.median(r["requests_per_s"] for r in runs), 1),
                "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
                "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
            }
        before = row["earlier"]["requests_per_s"]
        row["ratio"] = round(row["this"]["requests_per_s"] / before, 3) if before else None
        report["pages"][name] = row
        print(
            f"{name:26} {before:13.1f} {row['this']['requests_per_s']:11.1f} {row['ratio'] or 0:6.2f} "
            f"{row['earlier']['p50_ms']:7.2f}/{row['this']['p50_ms']:<7.2f} "
            f"{row['earlier']['p99_ms']:7.1f}/{row['this']['p99_ms']:<7.1f}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compare.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
