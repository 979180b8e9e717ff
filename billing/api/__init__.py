"""The JSON API v1 for platform services (docs/api.md): schemas, views, urls."""
