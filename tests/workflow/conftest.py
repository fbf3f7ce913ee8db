"""Browsers of the admin tests, for /manage/catalog/{code}/workflow."""

from __future__ import annotations

from tests.admin.conftest import signed_in  # noqa: F401
