"""The category codes a till sends with each basket line (documented in docs/categories.md).

The code set is shared by tills and rules so that a rule can name the groups it covers and
a cashier reads the same label everywhere. Tills may send codes not listed here (a shop's
own); no built-in rule treats an unknown code as eligible, so an unknown code is never paid
for by accident. `tests/test_docs.py` keeps this table and the document in step.
"""

from __future__ import annotations

# code -> (group, label a cashier reads aloud)
CATEGORIES: dict[str, tuple[str, str]] = {
    # food
    "food": ("food", "food"),  # for tills that do not tell food groups apart
    "fruit_vegetables": ("food", "fresh fruit and vegetables"),
    "grains": ("food", "rice, flour, noodles and bread"),
    "meat_fish": ("food", "meat, fish and seafood"),
    "eggs": ("food", "eggs"),
    "cooking_ingredients": ("food", "cooking oil, salt, sauces and spices"),
    "prepared_food": ("food", "ready meals and frozen food"),
    "sweets": ("food", "sweets, chocolate and desserts"),
    "snacks": ("food", "snacks"),
    "soft_drinks": ("food", "soft drinks and juice"),
    "water": ("food", "drinking water"),
    # dairy and infant nutrition
    "milk": ("dairy", "milk"),
    "milk_powder": ("dairy", "milk powder"),
    "dairy": ("dairy", "yoghurt, cheese and other dairy"),
    "infant_formula": ("dairy", "infant formula"),
    "baby_food": ("dairy", "baby food"),
    # baby goods
    "diapers": ("baby", "diapers"),
    "baby_clothing": ("baby", "baby clothing"),
    "baby_shoes": ("baby", "baby shoes"),
    "baby_hats": ("baby", "baby hats"),
    "baby_care": ("baby", "baby care products"),
    # study and sport
    "books": ("study", "books"),
    "stationery": ("study", "stationery"),
    "school_bags": ("study", "school bags"),
    "sports_goods": ("study", "sports goods"),
    "art_supplies": ("study", "art and craft supplies"),
    # daily goods
    "clothing": ("daily", "clothing"),
    "shoes": ("daily", "shoes"),
    "winter_goods": ("daily", "winter clothing, bedding and heaters"),
    "household": ("daily", "household goods"),
    "toiletries": ("daily", "toiletries"),
    "toys": ("daily", "toys"),
    # health
    "medicine": ("health", "medicine"),
    "medical_consumables": ("health", "medical consumables"),
    "health_supplements": ("health", "health supplements"),
    # services
    "meals": ("services", "meals"),
    "courses": ("services", "courses and lessons"),
    "services": ("services", "other services"),
    # never paid for by any built-in rule
    "alcohol": ("restricted", "alcohol"),
    "tobacco": ("restricted", "tobacco"),
    "gift_card": ("restricted", "gift cards"),
    "lottery": ("restricted", "lottery tickets"),
}

RESTRICTED: frozenset[str] = frozenset(
    code for code, (group, _) in CATEGORIES.items() if group == "restricted")


def label(code: str) -> str:
    """What to call a category aloud; the code itself when it is not in the table."""
    entry = CATEGORIES.get(code)
    return entry[1] if entry else code.replace("_", " ")


def in_group(*groups: str) -> frozenset[str]:
    return frozenset(code for code, (group, _) in CATEGORIES.items() if group in groups)
