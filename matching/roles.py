"""How roles are encoded as indices, bits and keys: the one place that says so.

The roles themselves — their codes, order, marks and Japanese labels — are the
vocabulary's (:data:`matching.vocabulary.ROLE_ORDER`).  This module derives from
that order everything the fast paths work with:

* **index** ``k`` — role ``ROLE_ORDER[k]`` (① 0, ② 1, ③ 2): ``Instance.role``, cost columns;
* **bit** ``1 << k`` and **masks** (sets of roles as ints, ``0 … N_MASKS - 1``):
  status, candidates, the closed form and proposals;
* **(facility, role) keys** ``facility * N_ROLES + index`` (:func:`fr_key`): the
  model's "one institution per role" groups and the phantom bound;
* **blocks** — role sets one institution can take as one agreement, and the
  **partitions** of a mask into blocks (the closed form's patterns);
* **columns** — the ``institutions.csv`` column saying a role is offered around the clock.

Status, candidates, the optimiser (instance, reductions, closed form, model, greedy),
proposals and the verifier read these names and never spell out ``3``, ``8`` or
``("consult", "visit", "admit")``.  A fourth role (or, later, a time-slot bit) is a
change here and in the vocabulary, not a hunt: ``tests/test_roles.py`` checks that no
other module hard-codes the encoding.

>>> N_ROLES, N_MASKS, CODES
(3, 8, ('consult', 'visit', 'admit'))
>>> mask_of({Role.CONSULT, Role.ADMIT}), [r.value for r in roles_of(5)]
(5, ['consult', 'admit'])
>>> BLOCKS                                   # ①②, ①③, ②③, ①②③
(3, 5, 6, 7)
>>> PARTITIONS[7]                           # {①②③}, {①③}{②}, {①②}{③}, {①}{②③}, {①}{②}{③}
[(7,), (5, 2), (3, 4), (1, 6), (1, 2, 4)]
>>> fr_split(fr_key(4, INDEX[Role.VISIT]))    # facility 4, role ②
(4, 1)
"""

from __future__ import annotations

import numpy as np

from matching.vocabulary import ROLE_ORDER, Role

#: Number of roles; a role's index is its position in ``ROLE_ORDER``.
N_ROLES: int = len(ROLE_ORDER)
#: Role codes in index order (the contract's ``role`` values).
CODES: tuple[str, ...] = tuple(r.value for r in ROLE_ORDER)
#: Role (or its code: ``Role`` is a ``StrEnum``) → index.
INDEX: dict[Role, int] = {r: k for k, r in enumerate(ROLE_ORDER)}
#: Role code → index (plain ``str`` keys, for ``Series.map``).
INDEX_OF_CODE: dict[str, int] = {r.value: k for k, r in enumerate(ROLE_ORDER)}
#: Role → bit.
BIT: dict[Role, int] = {r: 1 << k for k, r in enumerate(ROLE_ORDER)}
#: Role code → bit (plain ``str`` keys, for ``Series.map``).
BIT_OF_CODE: dict[str, int] = {r.value: 1 << k for k, r in enumerate(ROLE_ORDER)}
#: Number of role masks (every subset of the roles); masks are ``range(N_MASKS)``.
N_MASKS: int = 1 << N_ROLES
#: The mask holding every role.
ALL_MASK: int = N_MASKS - 1
#: Number of roles in each mask (indexed by mask).
POPCOUNT: np.ndarray = np.array([bin(m).count("1") for m in range(N_MASKS)])

#: The ``institutions.csv`` column that says whether a role is offered around the clock.
COLUMNS: dict[Role, str] = {Role.CONSULT: "consult_24h", Role.VISIT: "visit_24h", Role.ADMIT: "admit"}


def column(role: Role) -> str:
    """The ``institutions.csv`` column of ``role`` (see :data:`COLUMNS`)."""
    return COLUMNS[role]


def mask_of(roles) -> int:
    """A collection of roles (or role codes) as a mask; anything else is ignored.

    >>> mask_of(["visit", "admit"]), mask_of(()), mask_of(ROLE_ORDER) == ALL_MASK
    (6, 0, True)
    """
    return sum(BIT[r] for r in ROLE_ORDER if r in roles)


def roles_of(mask: int) -> tuple[Role, ...]:
    """The roles of ``mask``, in ``ROLE_ORDER``."""
    return tuple(r for r in ROLE_ORDER if mask & BIT[r])


def indices_of(mask: int) -> tuple[int, ...]:
    """The role indices of ``mask``, ascending."""
    return tuple(k for k in range(N_ROLES) if mask >> k & 1)


#: Every role set, indexed by its mask.
ROLE_SETS: tuple[frozenset[Role], ...] = tuple(frozenset(roles_of(m)) for m in range(N_MASKS))

#: Role sets that one institution can take as one agreement (①②, ①③, ②③, ①②③): with
#: cut candidate lists the nearest institutions offering each of them are kept too,
#: so a cut list never hides the partner that would save an agreement.
BLOCKS: tuple[int, ...] = tuple(m for m in range(1, N_MASKS) if m & (m - 1))


def fr_key(facility, index):
    """The (facility, role) key ``facility * N_ROLES + index`` (ints or integer arrays)."""
    return facility * N_ROLES + index


def fr_split(k):
    """``(facility, index)`` of an :func:`fr_key` (ints or integer arrays)."""
    return k // N_ROLES, k % N_ROLES


def fr_facility(k):
    """The facility of an :func:`fr_key` (ints or integer arrays)."""
    return k // N_ROLES


def _partitions(mask: int) -> list[tuple[int, ...]]:
    """All partitions of ``mask`` into non-empty blocks (masks), the block holding the
    lowest role first."""
    if mask == 0:
        return [()]
    low = mask & -mask
    rest = mask ^ low
    out = []
    sub = rest
    while True:  # the block holding the lowest role, with any subset of the others
        block = low | sub
        out += [(block,) + p for p in _partitions(rest ^ sub)]
        if sub == 0:
            break
        sub = (sub - 1) & rest
    return out


#: Every mask's partitions into blocks, each served by one institution (the closed form's patterns).
PARTITIONS: dict[int, list[tuple[int, ...]]] = {m: _partitions(m) for m in range(N_MASKS)}


# -- time slots (issue #16) -----------------------------------------------------------
# ① and ② may be given in part of the week only (``availability.csv``): a role of a
# facility is met when the union of the slots its partners give for it is all four.
# ③ stays yes/no: it is given in every slot or not at all.

#: Slot codes in bit order (the contract's ``slots`` values).
SLOT_CODES: tuple[str, ...] = ("wd_day", "wd_night", "hol_day", "hol_night")
#: What users see.
SLOT_LABELS_JA: dict[str, str] = {"wd_day": "平日日中", "wd_night": "平日夜間",
                                  "hol_day": "休日日中", "hol_night": "休日夜間"}
#: Slot code → bit.
SLOT_BIT: dict[str, int] = {s: 1 << k for k, s in enumerate(SLOT_CODES)}
#: Number of slots; slot sets are masks ``0 … ALL_SLOTS``.
N_SLOTS: int = len(SLOT_CODES)
#: Every slot: round-the-clock cover (常時).
ALL_SLOTS: int = (1 << N_SLOTS) - 1
#: Roles that may be given in part of the week (codes): ① consult and ② visit.
SLOTTED: tuple[str, ...] = tuple(r.value for r in ROLE_ORDER if r is not Role.ADMIT)


def slot_mask(slots) -> int:
    """A collection of slot codes as a mask (unknown codes are ignored).

    >>> slot_mask(["wd_day", "hol_night"]), slot_mask(SLOT_CODES) == ALL_SLOTS
    (9, True)
    """
    return sum(SLOT_BIT[s] for s in SLOT_CODES if s in slots)


def slots_of(mask: int) -> tuple[str, ...]:
    """The slot codes of ``mask``, in bit order."""
    return tuple(s for s in SLOT_CODES if int(mask) >> SLOT_CODES.index(s) & 1)


def format_slots(mask: int) -> str:
    """A slot mask as the contract writes it (``;``-separated codes)."""
    return ";".join(slots_of(mask))


def slots_ja(mask: int) -> str:
    """A slot mask in Japanese (``平日日中・休日夜間``)."""
    return "・".join(SLOT_LABELS_JA[s] for s in slots_of(mask))
