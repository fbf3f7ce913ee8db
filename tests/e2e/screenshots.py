"""`make screenshots`: the product started as `make run` starts it, every journey of the browser
matrix walked once more (tests/e2e/journeys/every.py), and a full-page PNG saved of each page on
the way: citizen (home, search, procedure, each step of applying, check answers, confirmation,
my dossiers, the dossier page in each state, tracking, payment, receipt), officer (queue,
workspace), tenant administrator (/manage) and platform administrator (console home, a portal,
onboarding). Desktop (1280 px) and phone (390 px) in Vietnamese, desktop in English, each in a
folder of its own under the folder given (git-ignored `screenshots/` by default)."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

from tests.e2e.journeys.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP_VI,
    PDF,
    Checker,
    Findings,
    Variant,
    running_product,
)
from tests.e2e.journeys.every import SignedIn, every_journey

VARIANTS = [DESKTOP_VI, Variant(390, 844, "vi"), Variant(1280, 800, "en")]


async def take(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="motcua-screenshots-") as scratch:
        work = Path(scratch)
        upload = work / "giay-chung-sinh.pdf"
        upload.write_bytes(PDF)
        with running_product(work) as product:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                signed_in: SignedIn = {}
                for variant in VARIANTS:
                    folder = out / variant.name
                    shutil.rmtree(folder, ignore_errors=True)
                    checker = Checker(variant, Findings(), names=[], shots=folder)
                    await every_journey(product, browser, checker, upload, signed_in)
                    print(f"{folder}: {checker.taken} pages")
                await browser.close()


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots").resolve()
    asyncio.run(take(out))
    print(f"{len(list(out.glob('*/*.png')))} screenshots in {out}")


if __name__ == "__main__":
    main()
