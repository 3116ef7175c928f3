"""PostgreSQL access: where the server is, the connection pool, the migrations."""
