"""Browsers of the admin tests, for the verification pages."""

from __future__ import annotations

from tests.admin.conftest import signed_in  # noqa: F401
