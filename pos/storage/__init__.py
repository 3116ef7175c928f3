"""The storage layer: every SQL statement of the service, parameterised, and the
translation of driver errors into domain outcomes."""
