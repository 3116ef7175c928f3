"""The built-in plugins. Each module is registered through the `pos` entry-point group,
exactly as an installed third-party plugin is."""
