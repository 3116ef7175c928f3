"""Redeem purpose-restricted care vouchers at shop tills, exactly once."""

from pos.plugin.hookspecs import hookimpl

__all__ = ["hookimpl"]
__version__ = "0.1.0"
