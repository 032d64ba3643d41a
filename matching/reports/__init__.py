"""Reports for prefecture regional meetings (地域医療構想調整会議): an Excel workbook
and a self-contained HTML report with an interactive map, in Japanese.

>>> from matching.reports import write_workbook, write_html          # doctest: +SKIP
>>> write_workbook("out/meeting.xlsx", region, result)                # doctest: +SKIP
>>> write_html("out/meeting.html", region, result)                    # doctest: +SKIP
"""

from matching.reports.html import render_html, write_html
from matching.reports.workbook import SHEETS, write_workbook

__all__ = ["SHEETS", "render_html", "write_html", "write_workbook"]
