"""Settlement: paying merchants exactly once for what their tills redeemed.

    runs.py          a settlement run cuts per-merchant batches up to a period end
    lifecycle.py     draft -> approved -> paid (or failed), and payouts through a channel
    exporting.py     streams a batch through an exporter plugin, recording its SHA-256
    exporter_api.py  the types an exporter plugin sees
    schemas.py       request bodies of the settlement API
"""
