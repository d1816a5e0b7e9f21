"""The checks of a repository with a database: its migrations, readiness and example on a real PostgreSQL server."""
