"""The till's hot path: find and check the voucher a till names, decide what a basket's lines
may be paid for, redeem and void exactly once, and move the remainder through a payment
channel. Pairing codes that pair a tablet with a till live here too."""
