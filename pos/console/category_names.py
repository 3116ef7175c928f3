# ruff: noqa: RUF001
"""Names of the category codes and their groups in the reader's language, so the console
never shows a raw code. The categories' names are the taxonomy's own (`ZH_LABELS` and its
English labels); the till's `i18n.js` holds the same table and a test keeps both complete."""

from __future__ import annotations

from pos import taxonomy

# One table of Chinese names, the taxonomy's (the till and the rules use it too).
ZH_CATEGORIES: dict[str, str] = taxonomy.ZH_LABELS

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
