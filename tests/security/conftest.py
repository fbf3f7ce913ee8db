# Attacks are tried with the same signed-in browsers as the journeys they attack.
from tests.dossiers.conftest import sign_in

__all__ = ["sign_in"]
