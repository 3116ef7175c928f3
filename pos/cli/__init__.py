"""The `pos` command and its sub-commands; `pos run --demo` loads the demo data."""
