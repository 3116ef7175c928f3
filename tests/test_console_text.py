"""Everything the console says exists in Chinese and English: every key the templates use
is in the catalogue with both sentences, every role, status and rule a page names by key
has a name, and every category code has a Chinese name (the same one the till shows)."""

from __future__ import annotations

import re
from importlib import resources

from pos_terminals import TABLET_DIR

from pos import taxonomy
from pos.console import i18n
from pos.console.category_names import ZH_CATEGORIES, ZH_GROUPS, category_name
from pos.roles import ROLES

TEMPLATES = resources.files("pos.console") / "templates"


def _template_keys() -> set[str]:
    found: set[str] = set()
    for entry in TEMPLATES.iterdir():
        text = entry.read_text(encoding="utf-8")
        found |= set(re.findall(r"\bt\.([a-z_][a-z0-9_]*)\b", text)) - {"get"}
        found |= set(re.findall(r"""\bt\[["']([a-z0-9_]+)["']\]""", text))
    return found


def test_every_key_a_template_uses_exists_in_both_languages() -> None:
    missing = _template_keys() - set(i18n.TEXT)
    assert missing == set()
    for key, (zh, en) in i18n.TEXT.items():
        assert zh.strip() and en.strip(), key
    for lang in i18n.LANGUAGES:
        assert set(i18n.translator(lang)) == set(i18n.TEXT)


def test_names_built_from_a_prefix_exist() -> None:
    needed = {f"role_{r}" for r in ROLES}
    needed |= {f"status_{s}" for s in ("active", "suspended", "revoked", "expired")}
    needed |= {f"batch_{s}" for s in ("draft", "approved", "paid", "failed")}
    needed |= {f"credit_kind_{k}" for k in ("grant", "allowance", "topup")}
    needed |= {f"move_{k}" for k in ("issue", "redeem", "void", "topup", "expire")}
    needed |= {f"op_{k}" for k in ("insert", "update", "delete")}
    needed |= {f"kind_{k}" for k in ("top_up", "reissue")}
    needed |= {f"problem_{k}" for k in ("sign_in_failed", "sign_in_throttled",
                                          "throttled_address")}
    assert needed - set(i18n.TEXT) == set()


def test_every_category_has_a_chinese_name_like_the_till() -> None:
    assert set(ZH_CATEGORIES) == set(taxonomy.CATEGORIES)
    assert set(ZH_GROUPS) == {group for group, _ in taxonomy.CATEGORIES.values()}
    till_table = (TABLET_DIR / "i18n.js").read_text(encoding="utf-8")
    for code, name in ZH_CATEGORIES.items():
        assert f'{code}: "{name}"' in till_table, code
    assert category_name("milk_powder", "en") == "milk powder"
    assert "shop_own" in category_name("shop_own", "zh-CN")  # named as a shop's own code
