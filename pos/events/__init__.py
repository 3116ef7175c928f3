"""Events after commit: delivering the outbox to listener plugins, and the background loop
every app runs beside its requests (delivery, channel-payment retries, pruning)."""
