"""Normalising Japanese names and addresses so that two publications can be compared.

The 施設基準 list, the 病床機能報告 and 国土数値情報 spell the same institution
differently: full- or half-width characters, a corporation name in front
(医療法人社団〇〇会　…), kanji or Arabic numerals, 「三丁目１－８」 or 「3-1-8」.
These functions produce *comparison keys*, not display text: the original
spelling is always kept for output.

>>> normalise_name("医療法人社団　恵和会　宮の森病院")
'宮の森病院'
>>> normalise_address("山梨県甲府市湯村三丁目１－８")
'甲府市湯村3-1-8'
"""

from __future__ import annotations

import re
import unicodedata

# Longest first, so 医療法人社団 is removed whole rather than leaving 社団.
CORPORATE_PREFIXES: tuple[str, ...] = tuple(sorted((
    "医療法人", "社会医療法人", "医療法人社団", "医療法人財団", "特定医療法人",
    "株式会社", "有限会社", "合同会社", "社会福祉法人",
    "一般財団法人", "公益財団法人", "一般社団法人", "公益社団法人",
    "地方独立行政法人", "独立行政法人", "国立大学法人", "学校法人",
), key=len, reverse=True))

# Abbreviated corporate forms as printed in lists: (医)〇〇会, (株)… (after NFKC).
_ABBREVIATED = re.compile(r"^\((医|社医|医社|医財|株|有|福|社福|一財|公財|一社|公社|独|学)\)")
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[・･\.,、。'\"「」『』()\[\]{}]")

KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
                "六": 6, "七": 7, "八": 8, "九": 9}
KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI_NUMBER = "[〇零一二三四五六七八九十百千]+"

PREFECTURE_PATTERN = re.compile(r"^(東京都|北海道|京都府|大阪府|[^\d\s]{2,3}県)")


def nfkc(text: object) -> str:
    """NFKC (full-width digits and letters to half-width, half-width kana to full-width), stripped.

    >>> nfkc("　ＡＢＣ１２３ｱｲｳ ")
    'ABC123アイウ'
    """
    if text is None:
        return ""
    return unicodedata.normalize("NFKC", str(text)).strip()


def kanji_to_int(text: str) -> int:
    """A kanji numeral as an integer: 三 → 3, 十五 → 15, 二百三 → 203, 一〇二 → 102.

    >>> kanji_to_int("二十三")
    23
    """
    if any(ch in KANJI_UNITS for ch in text):
        total, current = 0, 0
        for ch in text:
            if ch in KANJI_DIGITS:
                current = KANJI_DIGITS[ch]
            else:
                total += (current or 1) * KANJI_UNITS[ch]
                current = 0
        return total + current
    # Positional form (一〇二).
    return int("".join(str(KANJI_DIGITS[ch]) for ch in text))


def _variant_kana(text: str) -> str:
    # ケ/ヶ/ヵ are used interchangeably in place names (東ケ丘 / 東ヶ丘).
    return text.replace("ヶ", "ケ").replace("ヵ", "カ").replace("ケ", "ケ")


def normalise_name(name: object) -> str:
    """A comparison key for an institution or facility name.

    NFKC, corporate prefixes removed (with the corporation's own name when a space
    separates it from the institution's name), spaces and punctuation removed,
    ヶ → ケ, lower case.

    >>> normalise_name("社会医療法人　加納岩　山梨厚生病院")
    '山梨厚生病院'
    >>> normalise_name("医療法人ＡＢＣ内科")
    'abc内科'
    """
    text = _variant_kana(nfkc(name))
    abbreviated = _ABBREVIATED.match(text)
    prefix = abbreviated.group(0) if abbreviated else next(
        (p for p in CORPORATE_PREFIXES if text.startswith(p)), "")
    if prefix:
        parts = _SPACE.split(text[len(prefix):].strip())
        # 「医療法人社団　恵和会　宮の森病院」: the corporation's own name is the
        # first space-separated part; keep only what follows it.
        text = "".join(parts[1:]) if len(parts) > 1 else parts[0]
    text = _SPACE.sub("", text)
    text = _PUNCT.sub("", text)
    return text.lower()


def _kanji_before(marker: str, text: str) -> str:
    return re.sub(f"({_KANJI_NUMBER})(?={marker})", lambda m: str(kanji_to_int(m.group(1))), text)


def normalise_address(address: object) -> str:
    """A comparison key for an address: 「山梨県甲府市湯村三丁目１番８号　〇〇ビル」 → '甲府市湯村3-1-8'.

    NFKC; prefecture name removed; building names (方書, after a space that
    follows a number) dropped; kanji numerals before 丁目/番地/番/号 turned into
    digits; 丁目/番地/番/号/の between numbers turned into hyphens; all dashes
    unified; spaces removed; ヶ → ケ.

    >>> normalise_address("甲府市緑が丘１丁目５番１４号")
    '甲府市緑が丘1-5-14'
    >>> normalise_address("甲斐市竜王３０９１番地１")
    '甲斐市竜王3091-1'
    """
    text = _variant_kana(nfkc(address))
    text = re.split(r"(?<=\d)\s+", text, maxsplit=1)[0]      # drop 方書 (building, floor)
    text = _SPACE.sub("", text)
    text = PREFECTURE_PATTERN.sub("", text)
    for marker in ("丁目", "番地", "番", "号"):
        text = _kanji_before(marker, text)
    text = re.sub(r"[‐‑‒–—―−─━－]", "-", text)
    text = re.sub(r"(?<=\d)ー(?=\d)", "-", text)  # a long-vowel mark typed as a dash
    text = re.sub(r"(\d)丁目", r"\1-", text)
    text = re.sub(r"(\d)番地?", r"\1-", text)
    text = re.sub(r"(\d)号", r"\1", text)
    text = re.sub(r"(\d)の(?=\d)", r"\1-", text)
    text = re.sub(r"-{2,}", "-", text)
    return text.rstrip("-")
