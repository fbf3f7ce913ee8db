# The signed-in browser fixture of the citizen journey serves ratings and feedback too.
from tests.dossiers.conftest import sign_in

__all__ = ["sign_in"]
