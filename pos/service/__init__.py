"""The running service: what one app or command holds (configuration, pool, plugins, keys),
the one start-up routine that builds and closes it, and the bootstrap admin token."""
