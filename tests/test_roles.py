"""The role encoding (``matching.roles``) is defined once, and what it defines is consistent.

Indices, bits, masks, (facility, role) keys, blocks, partitions and the
institutions.csv columns all come from ``vocabulary.ROLE_ORDER`` through one
module; no other module spells the encoding out (a fourth role, or time-slot
bits, is then a change in one place).
"""

from __future__ import annotations

import io
import re
import tokenize
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from matching import region, roles
from matching.contract.schema import INSTITUTIONS
from matching.vocabulary import ROLE_ORDER, Role, format_roles

MATCHING = Path(roles.__file__).parent


def _bell(n: int) -> int:
    """Number of partitions of an n-element set."""
    row = [1]
    for _ in range(n):
        nxt = [row[-1]]
        for v in row:
            nxt.append(nxt[-1] + v)
        row = nxt
    return row[0]


def test_indices_bits_and_codes_follow_the_vocabulary_order():
    assert roles.N_ROLES == len(ROLE_ORDER) == len(Role)
    assert roles.CODES == tuple(r.value for r in ROLE_ORDER)
    assert roles.N_MASKS == 1 << roles.N_ROLES and roles.ALL_MASK == roles.N_MASKS - 1
    for k, r in enumerate(ROLE_ORDER):
        assert roles.INDEX[r] == roles.INDEX_OF_CODE[r.value] == k
        assert roles.BIT[r] == roles.BIT_OF_CODE[r.value] == 1 << k
        assert roles.roles_of(roles.BIT[r]) == (r,)
    # Bits are distinct single bits that together make ALL_MASK.
    assert sum(roles.BIT.values()) == roles.ALL_MASK


@pytest.mark.parametrize("mask", range(1 << len(ROLE_ORDER)))
def test_masks_round_trip_with_role_sets(mask):
    rs = roles.roles_of(mask)
    assert list(rs) == [r for r in ROLE_ORDER if r in rs]            # in vocabulary order
    assert roles.mask_of(rs) == mask
    assert roles.mask_of([r.value for r in rs]) == mask               # codes work as well
    assert roles.ROLE_SETS[mask] == frozenset(rs)
    assert roles.POPCOUNT[mask] == len(rs)
    assert roles.indices_of(mask) == tuple(roles.INDEX[r] for r in rs)


def test_every_role_set_has_one_mask():
    sets = [frozenset(c) for n in range(len(ROLE_ORDER) + 1) for c in combinations(ROLE_ORDER, n)]
    assert sorted(roles.mask_of(s) for s in sets) == list(range(roles.N_MASKS))
    assert roles.mask_of({"unknown", Role.VISIT}) == roles.BIT[Role.VISIT]  # other values ignored


def test_blocks_are_the_role_sets_of_several_roles():
    assert roles.BLOCKS == tuple(m for m in range(roles.N_MASKS) if roles.POPCOUNT[m] >= 2)
    assert [format_roles(roles.ROLE_SETS[m]) for m in roles.BLOCKS] == [
        "consult;visit", "consult;admit", "visit;admit", "consult;visit;admit"]


def _is_partition(mask: int, blocks: tuple[int, ...]) -> bool:
    union = 0
    for b in blocks:
        if b == 0 or union & b:
            return False
        union |= b
    return union == mask


@pytest.mark.parametrize("mask", range(1 << len(ROLE_ORDER)))
def test_partitions_cover_every_mask(mask):
    parts = roles.PARTITIONS[mask]
    assert all(_is_partition(mask, p) for p in parts)
    assert len({frozenset(p) for p in parts}) == len(parts) == _bell(bin(mask).count("1"))


def test_partitions_are_generic_in_the_number_of_roles():
    # What a fourth bit would give: 15 patterns for four roles, all distinct partitions.
    parts = roles._partitions(0b1111)
    assert len({frozenset(p) for p in parts}) == len(parts) == _bell(4) == 15
    assert all(_is_partition(0b1111, p) for p in parts)


def test_facility_role_keys_round_trip():
    fac = np.array([0, 0, 5, 123456])
    idx = np.array([0, roles.N_ROLES - 1, 1, 2])
    k = roles.fr_key(fac, idx)
    assert len(set(k.tolist())) == len(k)
    f, r = roles.fr_split(k)
    assert f.tolist() == fac.tolist() and r.tolist() == idx.tolist()
    assert roles.fr_facility(k).tolist() == fac.tolist()
    assert roles.fr_split(roles.fr_key(7, 2)) == (7, 2)


def test_role_columns_are_institution_columns_of_the_contract():
    assert set(roles.COLUMNS) == set(ROLE_ORDER)
    names = {col.name for col in INSTITUTIONS.columns}
    assert set(roles.COLUMNS.values()) <= names
    assert [roles.column(r) for r in ROLE_ORDER] == ["consult_24h", "visit_24h", "admit"]
    # The old names stay importable from region (the service imports them).
    assert region.ROLE_COLUMNS is roles.COLUMNS and region.role_column is roles.column


# Ways of spelling out the encoding that belong in matching/roles.py only.
HARD_CODED = [
    (re.compile(r"range\(\s*(1\s*,\s*)?8\s*\)"), "range over the 8 role masks"),
    (re.compile(r"\*\s*3\s*\+|//\s*3\b|%\s*3\b"), "facility × 3 + role keys"),
    (re.compile(r"""\(\s*["']consult["']\s*,\s*["']visit["']\s*,\s*["']admit["']\s*\)"""), "the role literal"),
    (re.compile(r"""["']consult["']\s*:\s*["']consult_24h["']"""), "the role ↔ column map"),
    (re.compile(r"1\s*<<\s*\w+\s+for\s+\w+\s*,\s*\w+\s+in\s+enumerate\(\s*ROLE_ORDER"), "role bits"),
    (re.compile(r"enumerate\(\s*ROLE_ORDER\s*\)"), "role indices"),
]


#: Modules whose 3s and literals are not roles.
NOT_ROLES = {
    "reports/svg.py": "three legend entries per row",
    "demo/iwate.py": "writes the demo's CSV files (column names, role codes)",
    "demo/national.py": "writes the synthetic CSV files",
}


def test_no_other_module_spells_out_the_encoding():
    offenders = []
    for path in sorted(MATCHING.rglob("*.py")):
        if path.name == "roles.py" or path.relative_to(MATCHING).as_posix() in NOT_ROLES:
            continue
        code = path.read_text(encoding="utf-8")
        for pattern, what in HARD_CODED:
            for m in pattern.finditer(code):
                line = code.count("\n", 0, m.start()) + 1
                text = code.splitlines()[line - 1]
                if text.lstrip().startswith((">>>", "...", "#")) or "``" in text:
                    continue  # examples and prose
                offenders.append(f"{path.relative_to(MATCHING.parent)}:{line}: {what}: {text.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("module", ["optimise/instance.py", "optimise/closed_form.py", "optimise/reduce.py"])
def test_the_optimisers_array_code_has_no_role_count(module):
    """No literal 3 (roles) or 8 (masks) in the array code of the optimiser."""
    code = (MATCHING / module).read_text(encoding="utf-8")
    numbers = [tok for tok in tokenize.generate_tokens(io.StringIO(code).readline)
               if tok.type == tokenize.NUMBER and tok.string in ("3", "8", "7", "4")]
    assert not numbers, [(t.start[0], t.line.strip()) for t in numbers]
