"""The database tables (SQLAlchemy 2 ORM).

The columns of areas, facilities, institutions, partnerships and availability are not written
here: they come from the data contract (``matching/contract/schema.py``, see
:func:`contract_columns`), so a column added there reaches the database (with an
Alembic migration in ``api/migrations/versions/``).  What is declared here is
what only the service holds: reservations, and the coordinators' workflow (runs,
proposals, forbidden pairs, users and the audit log).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    false as sa_false,
)
from sqlalchemy import (
    true as sa_true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column

from matching.contract.schema import RECORDS, FileSpec


def now() -> datetime:
    return datetime.now(UTC)


#: The table of each contract file ("areas.csv" → "areas").
TABLES = {spec.name: table for table, spec in RECORDS.items()}


def contract_columns(spec: FileSpec, *, keyed: bool = True, ondelete: str | None = None,
                     indexed: tuple[str, ...] = ()) -> dict[str, MappedColumn]:
    """One database column per column of a contract file.

    Types follow the column's parser (text and codes: ``String`` of the contract's length;
    code lists are stored as their ``;``-separated text), ``NULL`` where a blank cell is
    allowed, a foreign key where the contract names a reference (indexed, ``ondelete``),
    the contract's id columns as primary key when ``keyed``.
    """
    out = {}
    for col in spec.columns:
        vt = col.type
        if vt.kind in ("text", "digits", "code", "codes"):
            sql_type = String(col.db_length or vt.max_length)
        else:
            sql_type = {"float": Float, "int": Integer, "bool": Boolean}[vt.kind]()
        args: list = []
        if col.references:
            file, target = col.references.rsplit(".", 1)
            args.append(ForeignKey(f"{TABLES[file]}.{target}", ondelete=ondelete))
        kw: dict = {"nullable": vt.nullable}
        if keyed and col.name in spec.id_columns:
            kw["primary_key"] = True
        elif col.references or col.name in indexed:
            kw["index"] = True
        if vt.kind == "codes":
            kw["default"] = ""
        out[col.name] = mapped_column(sql_type, *args, **kw)
    return out


class Base(DeclarativeBase):
    def __init_subclass__(cls, contract: FileSpec | None = None, keyed: bool = True,
                          ondelete: str | None = None, indexed: tuple[str, ...] = (), **kw) -> None:
        """``class X(Base, contract=FILE)``: the table's columns from the data contract (see
        :func:`contract_columns`) besides those declared in the class."""
        if contract is not None:
            for name, column in contract_columns(contract, keyed=keyed, ondelete=ondelete, indexed=indexed).items():
                setattr(cls, name, column)
        super().__init_subclass__(**kw)


class Area(Base, contract=RECORDS["areas"], indexed=("secondary_area_code", "prefecture_code")):
    __tablename__ = "areas"


class Facility(Base, contract=RECORDS["facilities"], indexed=("facility_type",)):
    __tablename__ = "facilities"
    # A facility created by a municipal coordinator, or imported at a place outside its
    # municipality, waits for a prefecture's confirmation; until then it is not matched and no
    # proposal for it may reserve capacity (api.placement).
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    unconfirmed_reason: Mapped[str] = mapped_column(Text, default="", server_default="")


class Institution(Base, contract=RECORDS["institutions"]):
    __tablename__ = "institutions"
    # Held by accepted (not yet contracted) proposals; checked and changed atomically.
    reserved_facilities: Mapped[int] = mapped_column(Integer, default=0)
    reserved_residents: Mapped[int] = mapped_column(Integer, default=0)


class Partnership(Base, contract=RECORDS["partnerships"], keyed=False, ondelete="CASCADE"):
    __tablename__ = "partnerships"
    __table_args__ = (UniqueConstraint("facility_id", "institution_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)


class Availability(Base, contract=RECORDS["availability"], ondelete="CASCADE"):
    """When an institution gives ① or ② (``availability.csv``, issue 16): one row per institution
    and role, the slots as the contract's ``;``-separated codes.  An institution without a row
    keeps its yes/no flag (``Region.slots``); deleting the institution deletes its rows."""

    __tablename__ = "availability"


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))  # admin | prefecture | municipal
    prefecture_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    municipality_code: Mapped[str | None] = mapped_column(String(5), nullable=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    #: Optional: the token is refused from this moment on (401).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Last request made with the token (updated at most once a minute).
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def aware(t: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every time stored here is UTC."""
    return t if t is None or t.tzinfo is not None else t.replace(tzinfo=UTC)


class MatchRun(Base):
    __tablename__ = "match_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    prefecture_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    municipality_code: Mapped[str | None] = mapped_column(String(5), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed|cancelled
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    #: How many times a worker has started it (a run interrupted by server stops is resumed, within limits).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Set by ``POST /runs/{id}/cancel`` on a running run; the worker stops at its next step.
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    message: Mapped[str] = mapped_column(Text, default="")
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    facility_ids: Mapped[list | None] = mapped_column(JSON, nullable=True)
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)


#: Where a proposal comes from: a match run, or a coordinator's hand (``POST /proposals``, no run).
ORIGINS = ("run", "manual")


class Proposal(Base):
    __tablename__ = "proposals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The run that proposed it; None for a hand-made proposal (``origin`` manual).
    run_id: Mapped[int | None] = mapped_column(ForeignKey("match_runs.id", ondelete="CASCADE"), index=True,
                                               nullable=True)
    #: ``run`` or ``manual`` (``ORIGINS``): a hand-made proposal is carried into every later run of its
    #: facility as a pinned pair while it is open (proposed or contacted; api.jobs).
    origin: Mapped[str] = mapped_column(String(16), default="run", server_default="run")
    facility_id: Mapped[str] = mapped_column(ForeignKey("facilities.facility_id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.institution_id", ondelete="CASCADE"), index=True)
    roles: Mapped[str] = mapped_column(String(40))
    distance_km: Mapped[float] = mapped_column(Float)
    travel_minutes: Mapped[float] = mapped_column(Float)
    extends_existing: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation: Mapped[str] = mapped_column(Text, default="")
    #: The travel limit holds only for part of a point's uncertainty (a municipal office).
    location_uncertain: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # proposed → contacted → accepted → contracted, or → declined; superseded by a re-run
    state: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    decline_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    reserved_residents: Mapped[int] = mapped_column(Integer, default=0)
    reserved_facility: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The slots the institution gives per slotted role of the proposal, as the run saw them
    #: ({"consult": ["wd_day", …]}; ``matching.roles``); None for proposals of runs before 0009.
    slots: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class ProposalContact(Base):
    """The contact log of a proposal: who was reached when, and what was said (連絡記録)."""

    __tablename__ = "proposal_contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    contact_date: Mapped[date] = mapped_column(Date)
    person: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class UnmatchedRole(Base):
    __tablename__ = "unmatched_roles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("match_runs.id", ondelete="CASCADE"), index=True)
    facility_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    fix: Mapped[str] = mapped_column(Text, default="")
    #: "Nobody in range" may be wrong: a point is only its municipal office (matching.explain).
    location_uncertain: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class ForbiddenPair(Base):
    """A pair an institution declined: never proposed again."""

    __tablename__ = "forbidden_pairs"
    __table_args__ = (UniqueConstraint("facility_id", "institution_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    facility_id: Mapped[str] = mapped_column(ForeignKey("facilities.facility_id", ondelete="CASCADE"))
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.institution_id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text, default="")


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(128))
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class DataVersion(Base):
    """One row counting committed changes to the region's data (``api.dataversion``): what is
    computed from the data (the status table) is cached per version, in every server process."""

    __tablename__ = "data_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
