"""The plugin system: the hook specifications, the plugin manager and its typed facade (the only
way the core calls a plugin), and the types a plugin sees.

The public surface for plugin authors is `pos.hookimpl`, `pos.plugin.types`,
`pos.plugin.exporter_types`, `pos.money` and `pos.taxonomy`; nothing else in `pos` is a
promise to a plugin."""
