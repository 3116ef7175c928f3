"""The plugin system: the hook specifications (`hookspecs`), loading plugins and taking their
registrations (`loading`), the typed facade that is the only way the core calls a plugin
(`manager.Plugins`, with `exporter_calls` for settlement formats), and the types a plugin
sees.

The public surface for plugin authors is `pos.hookimpl`, `pos.plugin.types`,
`pos.plugin.exporter_types`, `pos.money` and `pos.taxonomy`; nothing else in `pos` is a
promise to a plugin."""
