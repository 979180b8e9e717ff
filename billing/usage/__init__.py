"""Usage: events, the ingestion service, storage, the daily rollup, imports, simulation.

The API contract it implements is docs/api.md."""
