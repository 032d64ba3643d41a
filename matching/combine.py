"""One region folder from several: prefectures imported one by one (each with its own 施設基準
list, say) put together, so that a run for one of them can take partners across the border
(広域, issue 13 item 8: ``matching match COMBINED --prefecture 19``).

The contract's files are concatenated as text (their cells stay exactly as written); a table
whose header differs between folders is refused, as are ids found in two folders and a
municipality listed twice with different rows.  The result covers clinics only where every
folder did (``region_scope.json``), and it is loaded strictly before it is kept.

>>> combine([], "x")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
ValueError: at least two region folders are needed
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from matching.contract import load_region
from matching.contract.scope import RegionScope

#: The tables concatenated, with the columns that must be unique across folders.
TABLES = {"areas.csv": None, "facilities.csv": "facility_id", "institutions.csv": "institution_id",
          "partnerships.csv": None, "availability.csv": None}


def combine(folders: list[str | Path], out: str | Path) -> Path:
    """Write ``out`` as the union of ``folders`` (region folders); returns ``out``.

    Raises ValueError (Japanese first, then English) when they cannot be put together."""
    folders = [Path(f) for f in folders]
    if len(folders) < 2:
        raise ValueError("at least two region folders are needed")
    out = Path(out)
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
        stage = Path(tmp) / "region"
        stage.mkdir()
        for name, key in TABLES.items():
            header, seen, rows = None, {}, []
            present = [f for f in folders if (f / name).exists()]
            if not present:
                continue
            for f in present:
                lines = (f / name).read_text(encoding="utf-8-sig").splitlines(keepends=True)
                if not lines:
                    continue
                if header is not None and lines[0].strip() != header.strip():
                    raise ValueError(f"{f / name} の列が {present[0] / name} と異なります / columns differ")
                header = lines[0] if header is None else header
                for line in lines[1:]:
                    if not line.strip():
                        continue
                    first = line.split(",", 1)[0]
                    if name == "areas.csv" and first in seen:
                        if seen[first].strip() != line.strip():
                            raise ValueError(f"市区町村 {first} が {seen[first + '@']} と {f} で異なります / "
                                             f"municipality {first} differs between folders")
                        continue  # the same municipality in both: once
                    if key is not None and first in seen:
                        raise ValueError(f"ID {first}（{name}）が {seen[first + '@']} と {f} の両方にあります / "
                                         f"duplicate id {first}")
                    seen[first], seen[first + "@"] = line, str(f)
                    rows.append(line if line.endswith("\n") else line + "\n")
            (stage / name).write_text((header if header.endswith("\n") else header + "\n") + "".join(rows),
                                      encoding="utf-8")
        scopes = [RegionScope.read(f) for f in folders]
        clinics = all(s.clinics_loaded for s in scopes)
        RegionScope(clinics_loaded=clinics, note=next((s.note for s in scopes if not s.clinics_loaded), "")
                    if not clinics else "").write(stage)
        load_region(stage, strict=True)  # the combined folder satisfies the contract
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(stage), str(out))
    return out
