"""Money: integer minor units with an ISO 4217 currency. No floats, ever."""

from __future__ import annotations

from decimal import Decimal

# Minor-unit exponents of the currencies programs use; ISO 4217 table, subset.
CURRENCY_EXPONENTS: dict[str, int] = {
    "CNY": 2, "HKD": 2, "MOP": 2, "TWD": 2, "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2,
    "SGD": 2, "AUD": 2, "CAD": 2, "NZD": 2, "INR": 2, "THB": 2, "MYR": 2, "PHP": 2,
    "IDR": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "ZAR": 2, "BRL": 2,
    "MXN": 2, "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "KWD": 3, "BHD": 3,
}

# The largest amount any single figure may carry: 10^13 minor units (100 billion yuan)
# keeps sums of millions of lines well inside a signed 64-bit integer.
MAX_AMOUNT = 10**13


def is_currency(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[currency]


def to_major(amount: int, currency: str) -> Decimal:
    """Minor units as an exact decimal in major units (12345 CNY -> Decimal('123.45'))."""
    return Decimal(amount).scaleb(-exponent(currency))


def format_major(amount: int, currency: str) -> str:
    """Minor units as a plain major-unit string with the currency's decimals ('123.45')."""
    places = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"
