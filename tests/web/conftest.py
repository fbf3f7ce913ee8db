"""Fixtures the web tests share with other packages' tests."""

from tests.admin.conftest import signed_in

__all__ = ["signed_in"]
