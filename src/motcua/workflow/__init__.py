"""The internal workflow of a dossier: the steps it goes through and the late-risk forecast."""
