"""Signed documents under load: signatures per second on two threads (as the app signs, off its
event loop) for a 1-page and a 20-page PDF, and the public verification page's p99 at 16
connections while another client keeps two signatures running, so a verification never waits on
someone else's signature.

    .venv/bin/python bench/signing.py [--seconds 10]

Prints a table and writes bench/results/signing.json. Part of `make bench` (with --seconds 5); it
starts its own embedded PostgreSQL and Redis and a server (under a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fpdf import FPDF

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import run  # noqa: E402  (bench/run.py: services, server, wrk)

from motcua.admin.services import build_spec, onboard_tenant  # noqa: E402
from motcua.core.audit import Actor  # noqa: E402
from motcua.core.broker import setup_broker  # noqa: E402
from motcua.core.db import Database, sync_engine  # noqa: E402
from motcua.core.settings import Settings, load_settings  # noqa: E402
from motcua.core.tenant import Tenant  # noqa: E402
from motcua.dossiers.backends import storage_for_settings  # noqa: E402
from motcua.signing.certificates import DevCertificateAuthority  # noqa: E402
from motcua.signing.models import DocumentKind  # noqa: E402
from motcua.signing.pades import LocalKeySigner  # noqa: E402
from motcua.signing.services import Signing, new_document_id, sign_and_file  # noqa: E402
from motcua.signing.signers import Appearance  # noqa: E402
from motcua.tenancy.migrate import migrate_platform  # noqa: E402


def a_pdf(pages: int) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for page in range(pages):
        pdf.add_page()
        for line in range(40):
            pdf.cell(text=f"Page {page + 1}, line {line + 1}: the text of an administrative decision.")
            pdf.ln(6)
    return bytes(pdf.output())


def signatures_per_second(signer: LocalKeySigner, pdf: bytes, threads: int, seconds: float) -> dict[str, Any]:
    appearance = Appearance("Sở Tư pháp", "Nguyễn Văn A")
    signer.sign(pdf, appearance)  # warm-up: the stamp font is cut once a process
    deadline = time.perf_counter() + seconds
    counts = [0] * threads
    took: list[float] = []

    def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            signer.sign(pdf, appearance)
            took.append(time.perf_counter() - started)
            counts[i] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(loop, range(threads)))
    elapsed = time.perf_counter() - started
    took.sort()
    return {
        "signatures_per_s": round(sum(counts) / elapsed, 1),
        "p50_ms": round(took[len(took) // 2] * 1000, 1),
        "p99_ms": round(took[int(len(took) * 0.99)] * 1000, 1),
        "pdf_bytes": len(pdf),
    }


async def file_document(settings: Settings, tenant: Tenant, pdf: bytes) -> str:
    db = Database(settings.database_url or "", pool_size=1)
    try:
        signing = Signing.for_settings(settings, storage_for_settings(settings))
        async with db.tenant_session(tenant) as session:
            row = await sign_and_file(
                session,
                tenant,
                signing=signing,
                document_id=new_document_id(),
                pdf=pdf,
                title="Quyết định thử tải",
                kind=DocumentKind.RESULT,
                dossier_id=None,
                unit_id=None,
                signer_name="Nguyễn Văn A",
            )
            return row.id
    finally:
        await db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    results: dict[str, Any] = {"threads": 2}
    one, twenty = a_pdf(1), a_pdf(20)
    with tempfile.TemporaryDirectory(prefix="motcua-bench-ca-") as folder:
        ca = DevCertificateAuthority(Path(folder))
        signer = LocalKeySigner(ca.key_for("bench", "Cổng thử tải", unit_id=1, unit_name="Sở Tư pháp"))
        results["sign_1_page"] = signatures_per_second(signer, one, 2, args.seconds)
        results["sign_20_pages"] = signatures_per_second(signer, twenty, 2, args.seconds)

    data_dir, env, embedded = run.bench_services("motcua-bench-signing-")
    settings = load_settings(env)
    setup_broker(settings)
    engine = sync_engine(settings.database_url or "", pool_size=2)
    server = None
    stop = threading.Event()
    try:
        migrate_platform(engine, settings.root)
        tenant = onboard_tenant(
            engine,
            settings,
            build_spec(slug="benchsign", name="Cổng thử tải ký số"),
            actor=Actor.operator("bench"),
        )
        document_id = asyncio.run(file_document(settings, tenant, one))
        server = run.start_server(
            ["motcua.app:create_app_from_env"], {**env}, args.workers, factory=True, ready="/readyz"
        )
        hosts = data_dir / "hosts.txt"
        hosts.write_text("benchsign.localhost\n")
        path = f"/xac-thuc/{document_id}"
        results["verify_page@16"] = run.wrk(server.url, hosts, path, 16, args.seconds)

        # The same page while two signatures run all the time in this process's threads against the
        # same CPUs: what a verifier waits when leaders are signing.
        def keep_signing() -> None:
            with tempfile.TemporaryDirectory(prefix="motcua-bench-ca-") as folder:
                key = DevCertificateAuthority(Path(folder)).key_for("bench", "Cổng thử tải")
                busy = LocalKeySigner(key)
                while not stop.is_set():
                    busy.sign(twenty, Appearance("Sở Tư pháp", "Nguyễn Văn A"))

        signers = [threading.Thread(target=keep_signing, daemon=True) for _ in range(2)]
        for thread in signers:
            thread.start()
        results["verify_page_while_signing@16"] = run.wrk(server.url, hosts, path, 16, args.seconds)
    finally:
        stop.set()
        if server is not None:
            server.stop()
        engine.dispose()
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"{'measure':<32} {'per s':>10} {'p50 ms':>10} {'p99 ms':>10}")
    for key, figures in results.items():
        if isinstance(figures, dict):
            rate = figures.get("signatures_per_s", figures.get("requests_per_s"))
            print(f"{key:<32} {rate:>10} {figures.get('p50_ms', ''):>10} {figures.get('p99_ms', ''):>10}")
    out = ROOT / "bench" / "results" / "signing.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
