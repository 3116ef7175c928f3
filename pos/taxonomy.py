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

# code -> the label in Chinese (the till's and the holder's first language)
ZH_LABELS: dict[str, str] = {
    "food": "食品", "fruit_vegetables": "新鲜蔬果", "grains": "米面粮油主食",
    "meat_fish": "肉禽水产", "eggs": "蛋类", "cooking_ingredients": "食用油盐酱料",
    "prepared_food": "熟食冷冻食品", "sweets": "糖果甜点", "snacks": "零食",
    "soft_drinks": "饮料果汁", "water": "饮用水", "milk": "牛奶", "milk_powder": "奶粉",
    "dairy": "酸奶奶酪等乳制品", "infant_formula": "婴幼儿配方奶粉", "baby_food": "婴幼儿辅食",
    "diapers": "纸尿裤", "baby_clothing": "婴儿服装", "baby_shoes": "婴儿鞋",
    "baby_hats": "婴儿帽", "baby_care": "婴儿护理用品", "books": "图书", "stationery": "文具",
    "school_bags": "书包", "sports_goods": "体育用品", "art_supplies": "美术手工用品",
    "clothing": "服装", "shoes": "鞋", "winter_goods": "御寒衣被取暖用品",
    "household": "家居用品", "toiletries": "洗护用品", "toys": "玩具", "medicine": "药品",
    "medical_consumables": "医疗耗材", "health_supplements": "保健品", "meals": "餐食",
    "courses": "课程", "services": "其他服务", "alcohol": "酒类", "tobacco": "烟草",
    "gift_card": "礼品卡", "lottery": "彩票",
}

RESTRICTED: frozenset[str] = frozenset(
    code for code, (group, _) in CATEGORIES.items() if group == "restricted")


def label(code: str, lang: str = "en") -> str:
    """What to call a category aloud in `lang` ("zh-CN" or "en"); a code not in the table
    is shown as words, never as a raw code with underscores."""
    if lang == "zh-CN" and code in ZH_LABELS:
        return ZH_LABELS[code]
    entry = CATEGORIES.get(code)
    return entry[1] if entry else code.replace("_", " ")


def in_group(*groups: str) -> frozenset[str]:
    return frozenset(code for code, (group, _) in CATEGORIES.items() if group in groups)
