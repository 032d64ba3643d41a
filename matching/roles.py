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
