# The signed-in browser fixture of the citizen journey serves officers too.
from tests.dossiers.conftest import sign_in

__all__ = ["sign_in"]
