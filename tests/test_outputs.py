"""matching.outputs: the files written for people — workbook cells, the background write."""

import os

import openpyxl
import pandas as pd

from matching import outputs
from matching.optimise.run import match


def _cells(path, sheet):
    ws = openpyxl.load_workbook(path)[sheet]
    return [[c.value for c in row] for row in ws.iter_rows()]


def _all_cells(path):
    """Every sheet's values (read-only: one pass over the file)."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    finally:
        wb.close()


def test_workbook_cells_keep_their_type_and_formulas_stay_text(tmp_path):
    df = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "病院", None], "n": [1, -2, 3],
                       "km": [1.5, float("nan"), 0.0], "ok": [True, False, True], "=h": ["-1", "+x", "@y"]})
    outputs.write_tables_workbook(tmp_path / "b.xlsx", {"表": df})
    rows = _cells(tmp_path / "b.xlsx", "表")
    assert rows[0] == ["name", "n", "km", "ok", "'=h"]
    assert rows[1] == ["'=HYPERLINK(\"x\")", 1, 1.5, True, "'-1"]
    assert rows[2] == ["病院", -2, None, False, "'+x"]
    assert rows[3] == [None, 3, 0, True, "'@y"]
    wb = openpyxl.load_workbook(tmp_path / "b.xlsx")
    ws = wb["表"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E4"
    assert ws["A1"].font.b and not ws["A2"].font.b
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def _write_unless_child(path, parent):
    """Fails in a forked child, works in the parent: the fallback must write the file."""
    if os.getpid() != parent:
        raise SystemExit(3)
    path.write_text("written by the parent")


def test_pending_write_falls_back_to_this_process_when_the_child_fails(tmp_path):
    target = tmp_path / "f.txt"
    pending = outputs.Pending(_write_unless_child, (target, os.getpid()), background=True)
    pending.wait()
    assert target.read_text() == "written by the parent"
    pending.wait()  # a second wait is harmless


def test_background_workbook_equals_the_one_written_inline(demo_region, tmp_path, monkeypatch):
    result = match(demo_region)
    inline, background = tmp_path / "inline", tmp_path / "background"
    inline.mkdir(), background.mkdir()
    _, pending = outputs.write_match_outputs(inline, demo_region, result, {}, "ja")
    pending.wait()
    monkeypatch.setattr(outputs, "BACKGROUND_WORKBOOK_ROWS", 1)
    names, pending = outputs.write_match_outputs(background, demo_region, result, {}, "ja")
    assert pending._child is not None  # really in a second process
    pending.wait()
    assert sorted(names) == sorted(p.name for p in background.iterdir())
    want = _all_cells(inline / "proposals.xlsx")
    assert list(want) == ["提案", "未充足", "代替候補"] and len(want["提案"]) == len(result.proposals) + 1
    assert _all_cells(background / "proposals.xlsx") == want
    for name in ("proposals.csv", "unmatched.csv", "alternatives.csv"):
        assert (inline / name).read_bytes() == (background / name).read_bytes()
