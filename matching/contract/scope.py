"""What a region folder covers: ``region_scope.json`` (optional).

A region imported without the 施設基準 list has the hospitals of the 病床機能報告 and no
clinics.  Its facilities' ①② may then be missing only because the clinics that give them are
not in the data; nothing may call them proven missing.  The folder says so in one small file:

    {"clinics_loaded": false, "note": "施設基準の…（診療所は未取込）…"}

Without the file a region is complete (clinics included), as every region was before.  The
loader reads it into ``Region.scope``; status, explanations and reports read
``region.scope.clinics_loaded``.

>>> RegionScope().clinics_loaded, RegionScope.from_dict({"clinics_loaded": False}).clinics_loaded
(True, False)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

SCOPE_FILE = "region_scope.json"


@dataclass(frozen=True)
class RegionScope:
    """``clinics_loaded``: the region's institutions include its clinics (default true);
    ``note``: a sentence for people, in Japanese, said by every command that loads the region."""

    clinics_loaded: bool = True
    note: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> RegionScope:
        value = data.get("clinics_loaded", True)
        if not isinstance(value, bool):
            raise ValueError(f"clinics_loaded must be true or false, not {value!r}")
        return cls(clinics_loaded=value, note=str(data.get("note", "") or ""))

    @classmethod
    def read(cls, folder: str | Path) -> RegionScope:
        """The scope of a region folder (complete when the file is absent).

        Raises ValueError when the file is not a JSON object with a boolean ``clinics_loaded``."""
        path = Path(folder) / SCOPE_FILE
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{SCOPE_FILE}: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{SCOPE_FILE}: expected an object such as {{\"clinics_loaded\": false}}")
        return cls.from_dict(data)

    def write(self, folder: str | Path) -> None:
        """Write the file for an incomplete region; remove it for a complete one."""
        path = Path(folder) / SCOPE_FILE
        if self.clinics_loaded and not self.note:
            path.unlink(missing_ok=True)
            return
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
