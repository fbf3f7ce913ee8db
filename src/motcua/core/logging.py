"""Logging setup, with a filter that redacts secrets wherever they would appear."""

from __future__ import annotations

import logging
import re

from motcua.core.settings import Settings

_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _URL_PASSWORD.sub(r"\1***\3", message)
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(settings: Settings) -> None:
    root = logging.getLogger()
    if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    # fontTools narrates every table it prunes when the PDF fonts are cut at start-up.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    for existing in root.handlers:
        if not any(isinstance(f, RedactSecrets) for f in existing.filters):
            existing.addFilter(
                RedactSecrets(
                    [settings.secret_key, settings.stripe_secret_key, settings.stripe_webhook_secret]
                )
            )
