from tests.dossiers.conftest import sign_in

__all__ = ["sign_in"]
