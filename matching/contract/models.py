"""Pydantic fields derived from the data contract (:mod:`matching.contract.schema`).

The service's request and response bodies (``api/schemas.py``) and the scenario
models (``matching/scenarios/schema.py``) build their record models from
:func:`record_fields`, so a column added to the contract reaches both with the
same type, bounds and codes as the CSV loader.

>>> from pydantic import create_model
>>> from matching.contract.schema import AREAS
>>> Area = create_model("Area", **record_fields(AREAS))
>>> Area(municipality_code="03201", municipality_name="盛岡市", secondary_area_code="0301",
...      secondary_area_name="盛岡", prefecture_code="03").prefecture_code
'03'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from matching.contract.columns import ValueType
from matching.contract.schema import Column, FileSpec


def _check_code(vt: ValueType):
    def check(value):
        if value is not None and value not in vt.choices:
            raise ValueError(f"unknown {vt.what} {value!r}; expected one of {', '.join(vt.choices)}")
        return value

    return AfterValidator(check)


def _check_codes(vt: ValueType):
    def check(value):
        unknown = [v for v in value or () if v not in vt.choices]
        if unknown:
            raise ValueError(f"unknown {vt.what}(s) {unknown}; expected {sorted(vt.choices)}")
        return value

    return AfterValidator(check)


def field(col: Column, *, optional: bool = False, stored: bool = False) -> tuple[Any, Any]:
    """``(type, FieldInfo)`` of one column for :func:`pydantic.create_model`.

    ``optional``: every field may be left out (a PATCH body).  ``stored``: the record as the
    service's database holds it (a response body): plain types without bounds, code lists
    as the ``;``-separated text of the CSV file.
    """
    vt = col.type
    meta: dict[str, Any] = {"description": col.doc}
    if col.label_ja:
        meta["title"] = col.label_ja
    kind = vt.kind
    if stored:
        t: Any = {"text": str, "digits": str, "code": str, "codes": str,
                  "float": float, "int": int, "bool": bool}[kind]
    elif kind == "text":
        t = str
        meta.update(min_length=vt.min_length or None, max_length=vt.max_length, pattern=col.api_pattern)
    elif kind == "digits":
        t = str
        meta["pattern"] = rf"^[0-9]{{{vt.max_length}}}$"
    elif kind in ("float", "int"):
        t = float if kind == "float" else int
        meta.update(ge=vt.minimum, le=vt.maximum)
    elif kind == "bool":
        t = bool
    elif kind == "code":
        t = Annotated[str, _check_code(vt)]
        meta["json_schema_extra"] = {"enum": list(vt.choices)}
    elif kind == "codes":
        t = Annotated[list[Annotated[str, Field(json_schema_extra={"enum": list(vt.choices)})]], _check_codes(vt)]
    else:  # pragma: no cover - a new parser kind must be given a type here
        raise ValueError(f"{col.name}: no field type for {kind!r}")
    meta = {k: v for k, v in meta.items() if v is not None}
    if optional:
        return t | None, Field(default=None, **meta)
    if stored:
        return (t | None if vt.nullable else t), Field(**meta)
    if col.default is not None:
        return t, Field(default=col.default, **meta)
    if vt.nullable:
        return t | None, Field(default=None, **meta)
    if kind == "codes":
        return t, Field(default_factory=list, **meta)
    return t, Field(**meta)


def record_fields(spec: FileSpec, *, only: Iterable[str] | None = None, exclude: Iterable[str] = (),
                  optional: bool = False, stored: bool = False, rename: Mapping[str, str] | None = None,
                  overrides: Mapping[str, tuple[Any, Any]] | None = None) -> dict[str, tuple[Any, Any]]:
    """The fields of a record (one per contract column, in the contract's order) for ``create_model``.

    ``only``/``exclude`` pick columns, ``rename`` gives a field another name (scenario files say
    ``id``), ``overrides`` replaces a field's definition where a layer is deliberately stricter
    (an agreement made through the API must secure at least one role).
    """
    wanted = None if only is None else set(only)
    skip = set(exclude)
    rename = rename or {}
    overrides = overrides or {}
    out = {}
    for col in spec.columns:
        if (wanted is not None and col.name not in wanted) or col.name in skip:
            continue
        out[rename.get(col.name, col.name)] = overrides.get(col.name) or field(col, optional=optional, stored=stored)
    return out
