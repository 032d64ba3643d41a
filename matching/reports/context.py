"""What a printed report says about itself: title, region, dates, parameters and the deadline.

The creation date is the run date — ``SOURCE_DATE_EPOCH`` (the reproducible-builds
convention) or an explicit date when the output must not change between runs (tests,
re-prints), else today.  The data date is the date of the region's data: an
``as_of`` line in ``region.toml``/``import_report.json`` when the folder has one,
else the newest modification date of its CSV files.

>>> ctx = ReportContext.build(None, title="テスト", created=date(2026, 3, 31))
>>> ctx.days_left
365
>>> ctx.deadline_text
'2027年3月31日（経過措置の終了まで残り365日）'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

#: End of the 3-year transitional period of the obligation (令和9年3月31日).
DEADLINE = date(2027, 3, 31)

CREDIT_BOUNDARIES = "出典：国土数値情報（行政区域データ）（国土交通省）を加工して作成"


def run_date(explicit: date | str | None = None) -> date:
    """The report's creation date: ``explicit``, else ``SOURCE_DATE_EPOCH``, else today."""
    if isinstance(explicit, str):
        return date.fromisoformat(explicit)
    if explicit is not None:
        return explicit
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), tz=UTC).date()
    return date.today()


def data_date(source: Path | None) -> date | None:
    """The date of a region folder's data (``as_of`` if recorded, else the newest CSV's date)."""
    if source is None or not Path(source).is_dir():
        return None
    source = Path(source)
    for name in ("import_report.json",):
        p = source / name
        if p.is_file():
            try:
                value = json.loads(p.read_text(encoding="utf-8")).get("as_of")
                if value:
                    return date.fromisoformat(str(value)[:10])
            except (ValueError, AttributeError):
                pass
    stamps = [p.stat().st_mtime for p in source.glob("*.csv")]
    if not stamps:
        return None
    return datetime.fromtimestamp(max(stamps), tz=UTC).date()


#: The 47 prefectures by their JIS X 0401 code.
PREFECTURE_NAMES = dict(zip(
    [f"{k:02d}" for k in range(1, 48)],
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 "
    "新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 "
    "奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 "
    "熊本県 大分県 宮崎県 鹿児島県 沖縄県".split(), strict=True))


def region_name(region) -> str:
    """The region's name for titles: its prefecture(s) by the areas' codes, else the folder name.

    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> region_name(SimpleNamespace(areas=pd.DataFrame({"prefecture_code": ["03", "03"]}), source=None))
    '岩手県'
    """
    areas = getattr(region, "areas", None)
    if areas is not None and "prefecture_name" in areas.columns and areas["prefecture_name"].notna().any():
        return str(areas["prefecture_name"].dropna().iloc[0])
    if areas is not None and "prefecture_code" in areas.columns:
        codes = sorted({str(c).zfill(2) for c in areas["prefecture_code"].dropna()})
        names = [PREFECTURE_NAMES[c] for c in codes if c in PREFECTURE_NAMES]
        if names and len(names) <= 3:
            return "・".join(names)
        if names:
            return f"{names[0]}ほか{len(names) - 1}都道府県"
    source = getattr(region, "source", None)
    return source.name if source is not None else "地域"


@dataclass
class ReportContext:
    title: str
    region: str
    created: date
    data_date: date | None = None
    parameters: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def build(cls, region, params=None, title: str | None = None, created: date | str | None = None,
              data_as_of: date | str | None = None) -> ReportContext:
        name = region_name(region) if region is not None else "地域"
        if isinstance(data_as_of, str):
            data_as_of = date.fromisoformat(data_as_of)
        return cls(
            title=title or f"協力医療機関の確保状況とマッチング提案（{name}）",
            region=name,
            created=run_date(created),
            data_date=data_as_of or (data_date(region.source) if region is not None else None),
            parameters=parameter_lines(params) if params is not None else [],
        )

    @property
    def days_left(self) -> int:
        return (DEADLINE - self.created).days

    @property
    def deadline_text(self) -> str:
        d = self.days_left
        left = f"残り{d}日" if d >= 0 else f"{-d}日経過"
        return f"{DEADLINE.year}年{DEADLINE.month}月{DEADLINE.day}日（経過措置の終了まで{left}）"

    def lines(self) -> list[tuple[str, str]]:
        """The cover sheet as (label, value) rows."""
        out = [
            ("表題", self.title),
            ("地域", self.region),
            ("作成日", japanese_date(self.created)),
            ("データの時点", japanese_date(self.data_date) if self.data_date else "不明"),
            ("義務化の期限", self.deadline_text),
        ]
        return out + self.parameters

    def limits_text(self) -> str:
        return "；".join(f"{k}：{v}" for k, v in self.parameters)


def japanese_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def parameter_lines(params) -> list[tuple[str, str]]:
    """The run parameters a reader needs to judge the proposals, in Japanese."""
    from matching.vocabulary import FACILITY_TYPES, ROLE_ORDER

    lines = []
    for role in ROLE_ORDER:
        lim = params.limits.get(role)
        if lim is None:
            continue
        text = f"移動{lim.minutes:g}分以内" + (f"かつ直線{lim.km:g}km以内" if lim.km else "")
        lines.append((f"移動上限 {role.label_ja}", text))
    types = params.facility_types
    lines.append(("対象の施設種別", "全種別" if not types else "、".join(FACILITY_TYPES[t].short_ja for t in types)))
    lines.append(("年次報告のない施設（集計していない）",
                  "提案の対象に含める" if params.include_unreported else "提案の対象外（別に一覧）"))
    lines.append(("受入意向が未確認の医療機関", "候補に含める" if params.unknown_accepting else "候補に含めない"))
    lines.append(("移動時間の推計", f"直線距離×{params.travel.circuity:g}、時速{params.travel.speed_kmh:g}km"
                  if params.travel.road_network is None else "道路網による"))
    lines.append(("限界", "提案は候補であり、協定は施設と医療機関が合意して結ぶ。空き枠・受入意向は"
                          "データの時点の申告による。移動時間は推計。"))
    return lines
