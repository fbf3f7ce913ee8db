"""Other systems: OAuth 2.0 clients (client credentials), the intake and read API, and the
webhooks that tell a system its dossiers changed."""
