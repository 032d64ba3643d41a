"""The scenario file format as Markdown, generated from the scenario models.

``docs/scenarios.md`` is :func:`markdown` (a test keeps them equal): every key of every table,
with its type, default and meaning, and examples.  A key added to a model without a line in
:data:`KEY_DOCS` fails the test, so the page cannot fall behind the code.

>>> "facilities_total_percent" in markdown()
True
"""

from __future__ import annotations

import types
import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from matching.contract.schema import FACILITIES, INSTITUTIONS
from matching.scenarios.schema import (
    CapacityChange,
    Growth,
    InstitutionSelector,
    NewFacility,
    NewInstitution,
    Scenario,
)

#: One line per key (model name, key).  The contract's columns are documented in the contract.
KEY_DOCS: dict[tuple[str, str], str] = {
    ("Scenario", "extends"): "Another scenario file this one builds on, relative to this file "
                             "(`extends = \"2040.toml\"`). Its changes come first; lists (`close`, "
                             "`capacity`, …) add up, `parameters` merge key by key, other keys override. "
                             "`name`, `label` and `description` are never inherited.",
    ("Scenario", "name"): "Identifier (default: the file name without `.toml`); names of compared scenarios "
                          "must differ.",
    ("Scenario", "label"): "Shown in reports and charts (default: `name`).",
    ("Scenario", "description"): "One sentence for the reader of the report.",
    ("Scenario", "parameters"): "Run parameters, the keys of `matching match --config` "
                                "(e.g. `[parameters.limits.visit]` `km = 25`), merged onto the base parameters.",
    ("Scenario", "close"): "Institutions that close: removed with their agreements in force.",
    ("Scenario", "stop_accepting"): "Institutions that keep their agreements but take no new partners.",
    ("Scenario", "start_accepting"): "Institutions that agree to take new partners.",
    ("Scenario", "capacity"): "Changes of spare capacity (see below).",
    ("Scenario", "new_institutions"): "Institutions that do not exist yet (the columns of institutions.csv).",
    ("Scenario", "growth"): "Demand growth: residents × factor.",
    ("Scenario", "new_facilities"): "Facilities that do not exist yet (the columns of facilities.csv).",
    ("InstitutionSelector", "ids"): "Explicit institution ids (unknown ids are an error naming them).",
    ("InstitutionSelector", "kind"): "`hospital` or `clinic`.",
    ("InstitutionSelector", "municipalities"): "市区町村 codes (5 digits, as in areas.csv).",
    ("InstitutionSelector", "secondary_areas"): "二次医療圏 codes (as in areas.csv).",
    ("InstitutionSelector", "designations"): "Any of these designation codes; `[]` = institutions with none.",
    ("InstitutionSelector", "share"): "Fraction of the selected institutions (0–1, rounded to whole "
                                      "institutions), picked by a stable hash of `seed` and the id.",
    ("InstitutionSelector", "seed"): "Seed of the stable pick (same file, same institutions).",
    ("CapacityChange", "facilities"): "Spare capacity in new partner facilities **becomes** this number.",
    ("CapacityChange", "residents"): "Spare capacity in residents **becomes** this number.",
    ("CapacityChange", "facilities_add"): "**Adds** this many partner facilities to the spare capacity "
                                          "(negative removes; never below 0).",
    ("CapacityChange", "residents_add"): "**Adds** this many residents to the spare capacity.",
    ("CapacityChange", "facilities_total_percent"): "Adds this percent of the **total** capacity: spare + "
                                                    "partner facilities of its agreements in force.",
    ("CapacityChange", "residents_total_percent"): "Adds this percent of the **total** capacity in residents: "
                                                   "spare + residents of its partner facilities.",
    ("CapacityChange", "facilities_percent"): "Scales the **spare** capacity by (1 + P/100); 0 stays 0.",
    ("CapacityChange", "residents_percent"): "Scales the **spare** capacity in residents by (1 + P/100).",
    ("Growth", "ids"): "Explicit facility ids.",
    ("Growth", "facility_types"): "Facility type codes (tokuyo, roken, …).",
    ("Growth", "municipalities"): "市区町村 codes.",
    ("Growth", "secondary_areas"): "二次医療圏 codes.",
    ("Growth", "factor"): "Residents × factor (unknown 定員 = the type's default first; several entries compound).",
}

TABLES = [
    ("Scenario", Scenario, "Top level", None),
    ("InstitutionSelector", InstitutionSelector,
     "`[[close]]`, `[[stop_accepting]]`, `[[start_accepting]]`: which institutions",
     "[[close]]\nkind = \"clinic\"\nsecondary_areas = [\"0307\"]\nshare = 0.3\nseed = 2040"),
    ("CapacityChange", CapacityChange,
     "`[[capacity]]`: the selector keys above, and per unit one of four changes",
     "[[capacity]]                      # +50 % of the total: a hospital with 0 spare and 10 partners gets +5\n"
     "kind = \"hospital\"\ndesignations = [\"zaibyo\"]\nfacilities_total_percent = 50\n\n"
     "[[capacity]]                      # +2 partner facilities each\nids = [\"I0001\", \"I0002\"]\n"
     "facilities_add = 2"),
    ("Growth", Growth, "`[[growth]]`: which facilities (nothing given = all) and the factor",
     "[[growth]]\nfacility_types = [\"tokuyo\", \"roken\"]\nfactor = 1.62"),
]


def _type(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return " or ".join(_type(a) for a in inner) + (" (optional)" if len(inner) < len(args) else "")
    if origin is list:
        return f"list of {_type(args[0])}" if args else "list"
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in args)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:
    if field.default_factory is not None:
        return f"`{field.default_factory()!r}`".replace("'", '"')
    if field.default is PydanticUndefined:
        return "required"
    if field.default is None:
        return "—"
    return f"`{field.default!r}`".replace("'", '"')


def documented_keys(model: type[BaseModel]) -> list[str]:
    return [k for k in model.model_fields if k != "source"]


def markdown() -> str:
    """The scenario format as Markdown (``docs/scenarios.md``)."""
    out = ["# Scenario files (what-if)", "",
           "Generated from `matching/scenarios/schema.py` by `matching.scenarios.docs.markdown()` "
           "(a test keeps this page current).", "",
           "A scenario is a TOML file of changes layered on a region for `matching whatif` and "
           "`matching report --scenario`. Every table is optional; an empty file is the region as it is. "
           "Changes apply in this order: `close`, `stop_accepting`/`start_accepting`, `capacity`, "
           "`new_institutions`, `growth`, `new_facilities`. Errors are in Japanese and name the file and the key; an unknown key is an error that lists the "
           "valid keys of its table; unknown ids, codes and designations are errors naming them.", "",
           "Every run writes what the scenario actually changed — institutions closed, willingness, "
           "spare capacity before and after, new institutions and facilities, residents — to "
           "`whatif_changes.csv` and the workbook's シナリオの変更内容 sheet.", "",
           "Write scenarios relative to the region — by 市区町村 or 二次医療圏 code, kind and designation — "
           "rather than by coordinates, so a file works for the prefecture it was written for without "
           "looking up points; only new institutions and facilities need a place.", "",
           "## Example", "", "```toml",
           'extends = "2040.toml"                 # the 2040 demand and closures, then:',
           'name = "2040_response"',
           'label = "2040年＋病院の協力拡大"',
           'description = "在支病などが受入れに応じ、受入枠（既存の協力先を含む総数）の5割分を新たに受ける"', "",
           "[[start_accepting]]",
           'kind = "hospital"',
           'designations = ["zaibyo", "koho_shien"]', "",
           "[[capacity]]",
           'kind = "hospital"',
           'designations = ["zaibyo", "koho_shien"]',
           "facilities_total_percent = 50", "```", ""]
    for name, model, heading, example in TABLES:
        out += [f"## {heading}", ""]
        if name == "CapacityChange":
            out += ["Spare capacity (空き枠) is what an institution can still take: new partner facilities "
                    "and their residents. Say which change you mean — the result is rounded to whole "
                    "numbers (halves up) and blank (unlimited) stays unlimited:", ""]
        out += ["| key | type | default | meaning |", "|---|---|---|---|"]
        keys = documented_keys(model)
        if name == "CapacityChange":
            keys = [k for k in keys if k not in InstitutionSelector.model_fields]
        for key in keys:
            f = model.model_fields[key]
            out.append(f"| `{key}` | {_type(f.annotation)} | {_default(f)} | {KEY_DOCS[(name, key)]} |")
        out.append("")
        if example:
            out += ["```toml", example, "```", ""]
    for heading, model, spec, idname in (
            ("`[[new_institutions]]`: the columns of institutions.csv", NewInstitution, INSTITUTIONS,
             "institution_id"),
            ("`[[new_facilities]]`: the columns of facilities.csv", NewFacility, FACILITIES, "facility_id")):
        out += [f"## {heading}", "", "`id` stands for the id column; role columns default from the "
                "designations; a new institution takes new partners unless `accepting = false`.", "",
                "| key | type | default | meaning |", "|---|---|---|---|"]
        docs = {c.name: c.doc for c in spec.columns}
        for key in documented_keys(model):
            f = model.model_fields[key]
            doc = docs.get(idname if key == "id" else key, "")
            out.append(f"| `{key}` | {_type(f.annotation)} | {_default(f)} | {doc.replace('|', '/')} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # python -m matching.scenarios.docs > docs/scenarios.md
    print(markdown(), end="")
