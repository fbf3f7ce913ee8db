"""Browsers of the admin and dossier tests, for the catalogue pages."""

from __future__ import annotations

from tests.admin.conftest import signed_in  # noqa: F401
from tests.dossiers.conftest import sign_in  # noqa: F401
