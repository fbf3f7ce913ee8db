"""Entry point for ``dramatiq motcua.worker``: the broker, its middleware and every actor module."""

from __future__ import annotations

import importlib

from motcua.core.broker import ACTOR_MODULES, setup_broker
from motcua.core.logging import configure_logging
from motcua.core.settings import load_settings

settings = load_settings()
configure_logging(settings)
broker = setup_broker(settings)
for module in ACTOR_MODULES:
    importlib.import_module(module)
