"""Secrets never reach the logs: the platform key, the Stripe keys, passwords in URLs."""

from __future__ import annotations

import io
import logging
from dataclasses import replace

from motcua.core.logging import configure_logging
from motcua.core.settings import Settings


def test_secrets_are_redacted_from_every_log_line(live_settings: Settings) -> None:
    settings = replace(
        live_settings, stripe_secret_key="sk_test_secret123456", stripe_webhook_secret="whsec_hushhush"
    )
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        configure_logging(settings)
        logging.getLogger("motcua.test").warning(
            "calling with %s and %s at postgresql://app:pa55word@db/x (%s)",
            "sk_test_secret123456",
            "whsec_hushhush",
            settings.secret_key,
        )
    finally:
        root.removeHandler(handler)
    line = stream.getvalue()
    assert "calling with *** and *** at postgresql://app:***@db/x (***)" in line
    for secret in ("sk_test_secret123456", "whsec_hushhush", "pa55word", settings.secret_key):
        assert secret not in line
