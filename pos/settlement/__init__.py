"""Settlement: paying merchants exactly once for what their tills redeemed.

    runs.py          a settlement run cuts per-merchant batches up to a period end
    batch_status.py  draft -> approved -> paid (or failed), and payouts through a channel
    exporting.py     streams a batch through an exporter plugin, recording its SHA-256

The types an exporter plugin sees are in `pos.plugin.exporter_types`; the request bodies
of the settlement API in `pos.api.requests`.
"""
