"""Key rotation for the encrypted columns, and recomputing the blind indexes.

Every column whose type is ``EncryptedText`` (or a subclass) is found from the models' metadata, so a
column encrypted later is rotated without changes here. The work reads and writes the stored
ciphertexts directly (plain ``Text`` columns, no ORM objects), a batch of rows per transaction, so the
app keeps serving while it runs: each transaction holds its row locks only for one short batch.

A row changed by someone else between our read and our write must not be lost. Each UPDATE is
therefore a compare-and-set on the ciphertexts it replaces; when it matches nothing, the row is read
again and retried. Rotation does not bump ``version`` or ``updated_at``: the values mean the same,
and a colleague's form loaded before the rotation must still save.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, Row, Text, and_, column, delete, not_, or_, select, table, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TableClause

from app.models import ConsultationRequest, SurnameKey
from app.models.base import EncryptedText
from app.security.crypto import FORMAT, DecryptionError, KeyConfigError, Keyring, key_id_parts, keyring
from app.security.search_index import request_indexes, surname_keys

BATCH_SIZE = 200  # rows per transaction: short locks, few commits
ATTEMPTS = 3  # reads of a row that keeps changing under us before it is left for the next run
NOT_ENCRYPTED = "(not a ciphertext)"


@dataclass(frozen=True)
class EncryptedTable:
    """A table with encrypted columns: its primary key, each column's purpose, and a raw-text view of them."""

    name: str
    key: str
    purposes: dict[str, str]
    raw: TableClause


def encrypted_tables(metadata: MetaData) -> list[EncryptedTable]:
    """Every table with at least one encrypted column, from the models' metadata."""
    found: list[EncryptedTable] = []
    for model_table in metadata.sorted_tables:
        purposes = {c.name: c.type.purpose for c in model_table.columns if isinstance(c.type, EncryptedText)}
        if not purposes:
            continue
        (key,) = model_table.primary_key.columns  # every table here has a single-column key
        raw = table(model_table.name, column(key.name, key.type), *(column(name, Text()) for name in purposes))
        found.append(EncryptedTable(model_table.name, key.name, purposes, raw))
    return found


def _batches(session: Session, source: TableClause, key: str, names: Sequence[str],
             size: int) -> Iterator[Sequence[Row[Any]]]:
    """The rows of ``source`` in primary-key order, ``size`` at a time; each batch is read when asked for."""
    last: Any = None
    while True:
        query = select(source.c[key], *(source.c[name] for name in names)).order_by(source.c[key]).limit(size)
        if last is not None:
            query = query.where(source.c[key] > last)
        rows = session.execute(query).all()
        if not rows:
            return
        yield rows
        last = rows[-1]._mapping[key]


def key_id_of(value: str) -> str:
    """The id of the key a stored value is encrypted under, or ``NOT_ENCRYPTED``."""
    try:
        version, key_id, _ = key_id_parts(value)
    except DecryptionError:
        return NOT_ENCRYPTED
    return key_id if version == "v1" else NOT_ENCRYPTED


def key_counts(session: Session, tables: Sequence[EncryptedTable], size: int = BATCH_SIZE) -> Counter[str]:
    """How many stored values are under each key id."""
    counts: Counter[str] = Counter()
    for spec in tables:
        for rows in _batches(session, spec.raw, spec.key, list(spec.purposes), size):
            for row in rows:
                counts.update(key_id_of(value) for name, value in row._mapping.items()
                              if name != spec.key and value is not None)
        session.rollback()  # end the read transaction between tables
    return counts


def unknown_key_ids(session: Session, tables: Sequence[EncryptedTable], known: Sequence[str]) -> set[str]:
    """Key ids that stored values are encrypted under but ``known`` lacks (values that cannot be decrypted).

    One full scan per table when every value is readable; it stops at the first value under another
    key; each key found is then allowed and the scan goes on, so every missing key is named.
    """
    found: set[str] = set()
    for spec in tables:
        columns = [spec.raw.c[name] for name in spec.purposes]
        while True:
            prefixes = [f"{FORMAT}.{key_id}." for key_id in (*known, *sorted(found))]
            other = or_(*(and_(value.is_not(None), *(not_(value.startswith(prefix, autoescape=True))
                                                     for prefix in prefixes)) for value in columns))
            row = session.execute(select(*columns).where(other).limit(1)).first()
            new = {key_id_of(value) for value in row or () if value is not None} - set(known) - found
            if not new:
                break
            found |= new
            if NOT_ENCRYPTED in new:  # a plain value cannot be allowed by a prefix: stop scanning this table
                break
        session.rollback()  # end the read transaction between tables
    return found


@dataclass
class RotationReport:
    """What a rotation did: rows and values re-encrypted per table, and rows it could not finish."""

    rows: Counter[str] = field(default_factory=Counter)
    values: Counter[str] = field(default_factory=Counter)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (table, key) of values that do not decrypt
    busy: list[tuple[str, str]] = field(default_factory=list)  # (table, key) of rows that kept changing


def _read_row(session: Session, spec: EncryptedTable, key_value: Any) -> Row[Any] | None:
    raw = spec.raw
    return session.execute(
        select(raw.c[spec.key], *(raw.c[name] for name in spec.purposes)).where(raw.c[spec.key] == key_value)
    ).first()


def _rotate_row(session: Session, ring: Keyring, spec: EncryptedTable, row: Row[Any] | None,
                report: RotationReport) -> None:
    key_value = row._mapping[spec.key] if row is not None else None
    for _ in range(ATTEMPTS):
        if row is None:
            return  # deleted meanwhile (an expired draft, say): nothing to rotate
        stale = {name: row._mapping[name] for name in spec.purposes
                 if row._mapping[name] is not None and key_id_of(row._mapping[name]) != ring.newest_id}
        if not stale:
            return
        try:
            fresh = {name: ring.encrypt(ring.decrypt(old, spec.purposes[name]), spec.purposes[name])
                     for name, old in stale.items()}
        except (DecryptionError, KeyConfigError):
            report.unreadable.append((spec.name, str(key_value)))
            return
        raw = spec.raw
        result = session.execute(
            update(raw)
            .where(raw.c[spec.key] == key_value, *(raw.c[name] == old for name, old in stale.items()))
            .values(fresh)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            report.rows[spec.name] += 1
            report.values[spec.name] += len(fresh)
            return
        row = _read_row(session, spec, key_value)  # changed since we read it: start again from what is there
    report.busy.append((spec.name, str(key_value)))


def rotate(session: Session, ring: Keyring, tables: Sequence[EncryptedTable],
           size: int = BATCH_SIZE) -> RotationReport:
    """Re-encrypt under the newest key every value that is under an older one; commit once per batch."""
    report = RotationReport()
    for spec in tables:
        for rows in _batches(session, spec.raw, spec.key, list(spec.purposes), size):
            for row in rows:
                _rotate_row(session, ring, spec, row, report)
            session.commit()
    return report


@dataclass
class ReindexReport:
    """What recomputing the blind indexes did."""

    updated: int = 0
    surname_keys: int = 0  # requests whose surname search keys were rewritten
    unreadable: list[str] = field(default_factory=list)  # request ids whose details do not decrypt
    busy: list[str] = field(default_factory=list)


_SOURCES = ("phone", "email", "last_name")
_INDEXES = ("phone_index", "email_index", "last_name_index")
_requests = table("consultation_request", column("id"), *(column(name, Text()) for name in (*_SOURCES, *_INDEXES)))


def _purposes() -> dict[str, str]:
    purposes: dict[str, str] = {}
    for name in _SOURCES:
        column_type = ConsultationRequest.__table__.c[name].type
        if not isinstance(column_type, EncryptedText):
            raise TypeError(f"consultation_request.{name} is not encrypted")
        purposes[name] = column_type.purpose
    return purposes


def _reindex_row(session: Session, row: Row[Any] | None, purposes: dict[str, str], report: ReindexReport) -> None:
    request_id = row.id if row is not None else None
    for _ in range(ATTEMPTS):
        if row is None:
            return
        stored = row._mapping
        try:
            plain = {name: None if stored[name] is None else keyring().decrypt(stored[name], purposes[name])
                     for name in _SOURCES}
        except (DecryptionError, KeyConfigError):
            report.unreadable.append(str(request_id))
            return
        wanted = request_indexes(phone=plain["phone"], email=plain["email"], last_name=plain["last_name"])
        _reindex_surname(session, request_id, plain["last_name"] or "", report)
        if all(stored[name] == wanted[name] for name in _INDEXES):
            return
        # Compare-and-set on the details the indexes are computed from.
        unchanged = [_requests.c[name].is_(None) if stored[name] is None else _requests.c[name] == stored[name]
                     for name in _SOURCES]
        result = session.execute(update(_requests).where(_requests.c.id == request_id, *unchanged).values(wanted))
        if result.rowcount == 1:  # type: ignore[attr-defined]
            report.updated += 1
            return
        row = session.execute(select(_requests).where(_requests.c.id == request_id)).first()
    report.busy.append(str(request_id))


def _reindex_surname(session: Session, request_id: int, last_name: str, report: ReindexReport) -> None:
    """Make the request's surname search keys those of its last name under the current index key."""
    wanted = surname_keys(last_name)
    stored = set(session.scalars(select(SurnameKey.digest).where(SurnameKey.request_id == request_id)))
    if stored == wanted:
        return
    rank, created = session.execute(select(ConsultationRequest.category_rank, ConsultationRequest.created_at)
                                    .where(ConsultationRequest.id == request_id)).one()
    session.execute(delete(SurnameKey).where(SurnameKey.request_id == request_id))
    session.add_all(SurnameKey(request_id=request_id, digest=digest, category_rank=rank, created_at=created)
                    for digest in wanted)
    session.flush()
    report.surname_keys += 1


def reindex(session: Session, size: int = BATCH_SIZE) -> ReindexReport:
    """Recompute every request's blind indexes under the configured BLIND_INDEX_KEY; commit once per batch."""
    report, purposes = ReindexReport(), _purposes()
    for rows in _batches(session, _requests, "id", [*_SOURCES, *_INDEXES], size):
        for row in rows:
            _reindex_row(session, row, purposes, report)
        session.commit()
    return report
