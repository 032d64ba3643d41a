"""Charts of what-if runs as matplotlib figures (PNG), with Japanese labels.

No global state is touched: figures are built with the object API (no pyplot,
no backend switch, so a notebook keeps its own backend), and the Japanese font
(IPAexGothic, shipped by the ``matplotlib-fontja`` package) is registered and
used only inside :func:`japanese_font`.  Without that package, text falls back
to matplotlib's default font.

>>> fig = sweep_figure(table, "limits.visit.km")          # doctest: +SKIP
>>> save_png(fig, "out/sweep.png")                          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FONT_NAME = "IPAexGothic"
COLORS = {"obligated": "#1f5fa8", "all": "#7aa6d6", "agreements": "#d9822b"}


@contextlib.contextmanager
def japanese_font():
    """Use a Japanese font while building and saving a figure (if one is installed)."""
    family = ["DejaVu Sans"]
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is not None and spec.submodule_search_locations:
        ttf = Path(list(spec.submodule_search_locations)[0]) / "fonts" / "ipaexg.ttf"
        if ttf.exists():
            from matplotlib import font_manager

            if FONT_NAME not in {f.name for f in font_manager.fontManager.ttflist}:
                font_manager.fontManager.addfont(str(ttf))
            family = [FONT_NAME, "DejaVu Sans"]
    with matplotlib.rc_context({"font.family": family, "axes.unicode_minus": False,
                                "svg.hashsalt": "matching", "figure.dpi": 100}):
        yield


def comparison_figure(summary: pd.DataFrame) -> Figure:
    """Bars per scenario: facilities with all requirements met after the proposals,
    obligated and all, and the new agreements needed."""
    with japanese_font():
        fig = Figure(figsize=(max(8, 1.6 * len(summary)), 4.8))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        x = range(len(summary))
        w = 0.38
        ax.bar([k - w / 2 for k in x], summary["obligated_all_met_after"], w, color=COLORS["obligated"],
               label="全要件充足（義務施設）")
        ax.bar([k + w / 2 for k in x], summary["all_met_after"], w, color=COLORS["all"],
               label="全要件充足（全施設）")
        for k, (a, b) in enumerate(zip(summary["obligated_all_met_after"], summary["all_met_after"], strict=True)):
            ax.annotate(str(a), (k - w / 2, a), ha="center", va="bottom", fontsize=8)
            ax.annotate(str(b), (k + w / 2, b), ha="center", va="bottom", fontsize=8)
        # Long labels wrap; with many scenarios they are also turned so they never overlap.
        many = len(summary) >= 5
        ax.set_xticks(list(x), [wrap_label(s, 8 if many else 12) for s in summary["label"]], fontsize=8,
                      rotation=30 if many else 0, ha="right" if many else "center")
        ax.set_ylim(0, max(1, summary["all_met_after"].max()) * 1.15)
        ax.set_ylabel("施設数（提案がすべて合意された場合）")
        ax2 = ax.twinx()
        ax2.plot(list(x), summary["new_agreements"], "o--", color=COLORS["agreements"], label="新規協定数")
        ax2.set_ylabel("新規協定数")
        ax2.set_ylim(0, max(1, summary["new_agreements"].max()) * 1.25)
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(handles, labels, loc="lower left", fontsize=8)
        ax.set_title("シナリオ比較：提案後の全要件充足施設数と必要な新規協定数")
        fig.tight_layout()
    return fig


def sweep_figure(table: pd.DataFrame, parameter: str) -> Figure:
    """Lines over the swept values: facilities with all requirements met (obligated / all)
    and the new agreements needed."""
    with japanese_font():
        fig = Figure(figsize=(7, 4.2))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        v = table["value"].astype(float)
        ax.plot(v, table["all_met_after"], "o-", color=COLORS["all"], label="全要件充足（全施設）")
        ax.plot(v, table["obligated_all_met_after"], "s-", color=COLORS["obligated"],
                label="全要件充足（義務施設）")
        ax.set_xlabel(parameter_label(parameter))
        ax.set_ylabel("施設数（提案後）")
        ax2 = ax.twinx()
        ax2.plot(v, table["new_agreements"], "^--", color=COLORS["agreements"], label="新規協定数")
        ax2.set_ylabel("新規協定数")
        # Counts are compared: both axes start at zero, so a change of 3 looks like 3.
        ax.set_ylim(0, max(1, table["all_met_after"].max()) * 1.1)
        ax2.set_ylim(0, max(1, table["new_agreements"].max()) * 1.25)
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(handles, labels, loc="lower right", fontsize=8)
        ax.set_title(f"感度分析：{parameter_label(parameter)}")
        ax.grid(alpha=0.3)
        fig.tight_layout()
    return fig


def wrap_label(text: str, width: int) -> str:
    """Break a label into lines of at most ``width`` characters (Japanese has no spaces)."""
    text = str(text)
    return "\n".join(text[k:k + width] for k in range(0, len(text), width)) or text


def parameter_label(path: str) -> str:
    """A Japanese label for a parameter path: ``limits.visit.km`` → ``②診療（往診・常時）の上限（直線km）``."""
    from matching.vocabulary import Role

    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "limits" and parts[1] in {r.value for r in Role}:
        unit = {"km": "直線km", "minutes": "移動時間・分"}.get(parts[2], parts[2])
        return f"{Role(parts[1]).label_ja}の上限（{unit}）"
    return {"travel.speed_kmh": "移動速度（km/h）", "travel.circuity": "迂回係数"}.get(path, path)


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write a figure as PNG (no timestamp in the metadata, so the bytes are reproducible)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with japanese_font():
        fig.savefig(path, format="png", metadata={"Software": None})
    return path
