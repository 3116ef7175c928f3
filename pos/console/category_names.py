# ruff: noqa: RUF001
"""Chinese names of the category codes and their groups (the English ones are the
taxonomy's own labels), so the console never shows a raw code. The till's
`i18n.js` holds the same table; a test keeps both complete."""

from __future__ import annotations

from pos import taxonomy

ZH_CATEGORIES: dict[str, str] = {
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

ZH_GROUPS: dict[str, str] = {
    "food": "食品", "dairy": "乳品与婴幼儿营养", "baby": "母婴用品", "study": "学习与运动",
    "daily": "日用品", "health": "医药健康", "services": "服务", "restricted": "限制类",
}
EN_GROUPS: dict[str, str] = {
    "food": "Food", "dairy": "Dairy and infant nutrition", "baby": "Baby goods",
    "study": "Study and sport", "daily": "Daily goods", "health": "Health",
    "services": "Services", "restricted": "Restricted",
}


def category_name(code: str, lang: str) -> str:
    """A category's name in the reader's language; a shop's own unknown code is named as
    such rather than shown bare."""
    if lang == "zh-CN":
        known = ZH_CATEGORIES.get(code)
        return known if known is not None else f"其他（店铺自定义：{code}）"
    found = taxonomy.CATEGORIES.get(code)
    return found[1] if found is not None else f"other (the shop's own: {code})"


def grouped(lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(group name, [(code, name)])] in the taxonomy's order, restricted goods left out
    (no program may allow them)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, (group, _) in taxonomy.CATEGORIES.items():
        if group != "restricted":
            groups.setdefault(group, []).append((code, category_name(code, lang)))
    names = ZH_GROUPS if lang == "zh-CN" else EN_GROUPS
    return [(names.get(g, g), items) for g, items in groups.items()]
