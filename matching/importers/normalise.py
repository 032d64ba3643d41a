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

import neologdn

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

#: The 47 prefectures, exactly: a prefix is removed only when it is one of them (a pattern such as
#: ``[^\d\s]{2,3}県`` would eat town names that contain 県 — 長野市県, 松本市県).
PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)

#: Old (旧字体) and variant kanji forms seen in place and institution names → the form in common use.
#: NFKC leaves these alone (they are distinct characters, not compatibility forms).
KANJI_VARIANTS: dict[str, str] = {
    "髙": "高", "﨑": "崎", "嵜": "崎", "崎": "崎", "邊": "辺", "邉": "辺", "澤": "沢", "濱": "浜", "廣": "広",
    "德": "徳", "惠": "恵", "櫻": "桜", "國": "国", "會": "会", "齋": "斎", "齊": "斉", "龍": "竜",
    "瀨": "瀬", "關": "関", "當": "当", "藏": "蔵", "壽": "寿", "驛": "駅", "縣": "県", "圓": "円",
    "曾": "曽", "塚": "塚", "槇": "槙", "淵": "渕", "舘": "館", "冨": "富", "嶋": "島", "峯": "峰",
    "横": "横", "黑": "黒", "條": "条", "來": "来", "豐": "豊", "萬": "万", "與": "与", "榮": "栄",
}
_KANJI_TABLE = str.maketrans(KANJI_VARIANTS)


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
    # ケ/ヶ/ヵ/ゖ (all read ga/ka in place names) are used interchangeably (駒ケ根 / 駒ヶ根), and so
    # are 之 and ノ (塩之沢 / 塩ノ沢).
    return (text.replace("ヶ", "ケ").replace("ヵ", "ケ").replace("ゖ", "ケ").replace("ゕ", "ケ")
            .replace("之", "ノ"))


def japanese_key(text: object) -> str:
    """The common comparison form behind every key: NFKC, neologdn (spaces between Japanese
    words, hyphen and long-vowel variants, tildes), ケ/ヶ/ヵ and 之/ノ unified, old kanji forms
    (髙, 﨑, 邊, 澤 …) replaced by the forms in common use.

    >>> japanese_key("駒ヶ根市") == japanese_key("駒ケ根市") == "駒ケ根市"
    True
    >>> japanese_key("髙　嶋 医院"), japanese_key("ｻ－ﾋﾞｽ")
    ('高島医院', 'サービス')
    """
    # neologdn first: it reads a full-width ー/－ after katakana as a long vowel, which NFKC would
    # have turned into an ASCII hyphen.
    text = nfkc(neologdn.normalize("" if text is None else str(text)))
    return _variant_kana(text).translate(_KANJI_TABLE)


def strip_prefecture(text: str) -> str:
    """``text`` without a leading prefecture name (only one of the 47 real ones).

    >>> strip_prefecture("長野県長野市大字県町593"), strip_prefecture("長野市県町593")
    ('長野市大字県町593', '長野市県町593')
    """
    for pref in PREFECTURES:
        if text.startswith(pref):
            return text[len(pref):]
    return text


def normalise_name(name: object) -> str:
    """A comparison key for an institution or facility name.

    :func:`japanese_key`, corporate prefixes removed (with the corporation's own name when a space
    separates it from the institution's name), spaces and punctuation removed,
    ヶ → ケ, lower case.

    >>> normalise_name("社会医療法人　加納岩　山梨厚生病院")
    '山梨厚生病院'
    >>> normalise_name("医療法人ＡＢＣ内科")
    'abc内科'
    """
    # Spaces matter for the corporate prefix (which part is the corporation's own name), so the
    # full key (which removes spaces between Japanese words) comes after.
    text = _variant_kana(nfkc(name)).translate(_KANJI_TABLE)
    abbreviated = _ABBREVIATED.match(text)
    prefix = abbreviated.group(0) if abbreviated else next(
        (p for p in CORPORATE_PREFIXES if text.startswith(p)), "")
    if prefix:
        parts = _SPACE.split(text[len(prefix):].strip())
        # 「医療法人社団　恵和会　宮の森病院」: the corporation's own name is the
        # first space-separated part; keep only what follows it.
        text = "".join(parts[1:]) if len(parts) > 1 else parts[0]
    text = _SPACE.sub("", japanese_key(text))
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
    text = _variant_kana(nfkc(address)).translate(_KANJI_TABLE)
    text = re.split(r"(?<=\d)\s+", text, maxsplit=1)[0]      # drop 方書 (building, floor)
    text = japanese_key(text)
    text = _SPACE.sub("", text)
    text = strip_prefecture(text)
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
