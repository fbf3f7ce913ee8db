# The observability tests follow a signed-in citizen's submission to the job it queues.
from tests.dossiers.conftest import sign_in

__all__ = ["sign_in"]
