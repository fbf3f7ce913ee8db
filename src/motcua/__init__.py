"""motcua — multi-tenant online public-service portals."""
