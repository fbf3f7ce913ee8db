"""Citizen satisfaction: ratings of delivered dossiers and feedback (phản ánh, kiến nghị)."""
