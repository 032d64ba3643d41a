"""Capacity invariants: an institution's spare capacity never falls below what accepted proposals
hold — in total (``capacity_facilities``, ``capacity_residents``) and per role
(``capacity_{unit}_{role}``, the data contract's per-role columns).

What is held in total is kept on the institution (``reserved_*``, changed atomically when a
proposal is accepted); what is held per role is the sum over its accepted proposals that include
the role.  One check serves every path that changes either side: accepting a proposal,
``PUT /institutions/{id}`` and imports.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Institution, Proposal
from matching.contract.schema import INSTITUTIONS, capacity_column, column
from matching.vocabulary import ROLE_ORDER, Role

UNITS = {"facilities": "施設", "residents": "人"}
#: Every capacity column: the totals, then per role.
COLUMNS = [f"capacity_{unit}" for unit in UNITS] + [capacity_column(u, r) for r in ROLE_ORDER for u in UNITS]


def held(session: Session, institution: Institution) -> dict[str, int]:
    """What accepted proposals hold, per capacity column."""
    out = {"capacity_facilities": institution.reserved_facilities,
           "capacity_residents": institution.reserved_residents}
    for p in session.scalars(select(Proposal).where(Proposal.institution_id == institution.institution_id,
                                                    Proposal.state == "accepted")):
        for role in {Role(r) for r in p.roles.split(";") if r}:
            for unit, amount in (("facilities", int(p.reserved_facility)), ("residents", p.reserved_residents)):
                key = capacity_column(unit, role)
                out[key] = out.get(key, 0) + amount
    return out


def shortfalls(institution_id: str, capacities: Mapping[str, int | None], holding: Mapping[str, int]) -> list[dict]:
    """Each capacity below what is held: column, value, held, and a Japanese sentence."""
    out = []
    for name in COLUMNS:
        value, amount = capacities.get(name), holding.get(name, 0)
        if value is not None and value == value and int(value) < amount:
            unit = UNITS[name.split("_")[1]]
            out.append({"institution_id": institution_id, "column": name, "value": int(value), "held": amount,
                        "message": f"医療機関 {institution_id} の{column(INSTITUTIONS, name).label_ja} {int(value)} は"
                                   f"承諾済みの提案で確保済みの {amount}{unit}を下回ります"})
    return out
