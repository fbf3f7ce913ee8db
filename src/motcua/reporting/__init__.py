"""Service-quality indicators (Decree 42/2022, Decision 766/QĐ-TTg): periods, daily rollups kept
by a job, the indicators and the index computed from them, published (frozen) periods and the
statistics API."""
