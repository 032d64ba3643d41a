"""Time slots in the service's answers (issue 16): when an institution gives ① and ②, and which
slots a facility's agreements in force cover.

The codes, their order and the slotted roles are :mod:`matching.roles`'; the rules are the
library's, read here from the tables instead of a loaded region (an answer about a few rows
should not export the prefecture): an institution gives a role in its ``availability`` row's
slots, else in all four or none by its 24-hour flag (``Region.slots``); an agreement in force
gives its roles in its institution's row's slots, else in all four (``matching.status.slot_cover``),
and a slotted role is met only when a facility's agreements together give all four.
``tests/api/test_slots.py`` checks both against the library on the demo.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Availability
from matching.region import role_column
from matching.roles import ALL_SLOTS, SLOTTED, slot_mask, slots_of

_CHUNK = 900  # ids per IN (...) query: below SQLite's variable limit


def stored(session: Session, institution_ids: Iterable[str]) -> dict[tuple[str, str], int]:
    """The stored rows of these institutions: (institution, role) → slot mask."""
    ids = sorted(set(institution_ids))
    out = {}
    for k in range(0, len(ids), _CHUNK):
        for a in session.scalars(select(Availability).where(Availability.institution_id.in_(ids[k:k + _CHUNK]))):
            out[(a.institution_id, a.role)] = slot_mask(a.slots.split(";"))
    return out


def as_codes(masks: dict[str, int]) -> dict[str, list[str]]:
    """{role: mask} as the API writes it: every slotted role, its slot codes in order."""
    return {code: list(slots_of(masks.get(code, 0))) for code in SLOTTED}


def institution_slots(institution, rows: dict[tuple[str, str], int]) -> dict[str, list[str]]:
    """When the institution gives each slotted role: its row, else its flag (all four or none)."""
    iid = institution.institution_id
    return as_codes({code: rows.get((iid, code), ALL_SLOTS if getattr(institution, role_column(code)) else 0)
                     for code in SLOTTED})


def agreement_slots(partnerships, rows: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    """Per facility, per slotted role of its agreements in force: the union of the slots its
    partners give (a partner without a row gives the role around the clock, as without slots)."""
    out: dict[str, dict[str, int]] = {}
    for p in partnerships:
        roles = p.roles.split(";")
        for code in SLOTTED:
            if code in roles:
                have = out.setdefault(p.facility_id, {})
                have[code] = have.get(code, 0) | rows.get((p.institution_id, code), ALL_SLOTS)
    return out
