"""The HTTP API: app factory, routes, authentication, problem responses, OpenAPI."""
