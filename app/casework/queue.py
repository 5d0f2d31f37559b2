"""The call list: filters from the query string, one filtered ``select()``, keyset pages of 50.

The search text is the exception: it is often a patient's name or phone number, so it never goes in a
URL (access logs, browser history, Referer headers). The console keeps it in the staff session and the
query string carries only ``search=<id>``; ``parse_filters`` is given a lookup for those ids.

Order: emergencies first; then new requests past the clinic's callback promise (overdue), likely before
possible before unlikely; then the rest by category. Oldest first within each. Overdue is "sent at or
before a cutoff" (app/platform/working_time.py turns the promise into that moment), so each of these
seven segments is one range of an index whose columns are the filter, then (category_rank, created_at,
id): a page reads at most seven short index ranges, whatever the size of the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import ColumnElement, Select, and_, false, or_, select, tuple_
from sqlalchemy.orm import Session, joinedload, load_only, selectinload

from app.casework.status import STATUSES
from app.intake.reference import normalise_reference
from app.models import CATEGORY_RANK, ConsultationRequest, RequestStatusCount, Screening, SurnameKey
from app.security.search_index import phone_index, surname_query_key

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATUS_CHOICES = ("open", "all", *STATUSES)
VIEWS = ("", "due")  # the whole call list, or only what is due now (call-backs whose time came, overdue)
RANKS = sorted(set(CATEGORY_RANK.values()))
EMERGENCY_RANK = CATEGORY_RANK["emergency"]


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows; every field round-trips through the query string, the search text by its id."""

    status: str = "open"
    view: str = ""  # "" or "due"
    category: str = ""
    assignee: str = ""  # "", "me", "none" or a staff id
    submitted_from: date | None = None
    submitted_to: date | None = None
    q: str = ""  # the search text: never put in a URL
    search: str = ""  # the id the search text is kept under, which is what the query string carries
    after: str = ""  # keyset cursor
    errors: tuple[str, ...] = field(default=(), compare=False)

    def to_args(self, **changes: object) -> dict[str, str]:
        """Query-string arguments for these filters (with ``changes``), leaving out the defaults."""
        values = replace(self, **changes)  # type: ignore[arg-type]
        args = {
            "status": values.status if values.status != "open" else "",
            "view": values.view,
            "category": values.category,
            "assignee": values.assignee,
            "from": values.submitted_from.isoformat() if values.submitted_from else "",
            "to": values.submitted_to.isoformat() if values.submitted_to else "",
            "search": values.search if values.q else "",
            "after": values.after,
        }
        return {key: value for key, value in args.items() if value}


# Filter dates outside these are refused with a message: no request is older than the first, and the day
# after 9999-12-31 does not exist (it gave a 500).
FIRST_FILTER_DAY, LAST_FILTER_DAY = date(2000, 1, 1), date(2099, 12, 31)
MAX_ID_DIGITS = 9  # staff ids and cursors' ids: far above any real count, far below a 64-bit overflow


def filter_day(text: str, label: str, errors: list[str]) -> date | None:
    """A filter date from ``text`` (YYYY-MM-DD, 2000 to 2099), or None with a message added to ``errors``."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors.append(f"{label} must be a date like 2026-11-24")
        return None
    if not FIRST_FILTER_DAY <= day <= LAST_FILTER_DAY:
        errors.append(f"{label} must be a date between {FIRST_FILTER_DAY.year} and {LAST_FILTER_DAY.year}")
        return None
    return day


def plain_id(text: str) -> bool:
    """Whether ``text`` is a row id as this app writes one: ASCII digits only, and not absurdly long."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS


def _no_stored_search(search_id: str) -> str | None:
    return None


def parse_filters(
    args: Mapping[str, str], stored_search: Callable[[str], str | None] = _no_stored_search
) -> QueueFilters:
    """Read filters from query-string arguments; anything unusable is dropped with a message, never a 500.

    ``stored_search`` returns the search text kept under an id, or None when there is none (any more).
    """
    errors: list[str] = []
    search = args.get("search", "")[:32]
    q = (stored_search(search) or "").strip()[:100] if search else ""
    if search and not q:
        errors.append("That search has ended (searches are kept until you sign out); search again")
    if "q" in args:  # an old bookmark: say why it no longer searches rather than silently show everything
        errors.append("Search text in the web address is ignored; type it in the search box")
    status = args.get("status", "") or "open"
    if status not in STATUS_CHOICES:
        errors.append("Unknown status filter; showing open requests")
        status = "open"
    view = args.get("view", "")
    if view not in VIEWS:
        errors.append("Unknown view; showing the whole call list")
        view = ""
    category = args.get("category", "")
    if category and category not in CATEGORY_RANK:
        errors.append("Unknown category filter; showing every category")
        category = ""
    assignee = args.get("assignee", "")
    if assignee and assignee not in ("me", "none") and not plain_id(assignee):
        errors.append("Unknown assignee filter; showing everyone's requests")
        assignee = ""
    after = args.get("after", "")
    if after and decode_cursor(after) is None:
        errors.append("That page link is out of date; showing the first page")
        after = ""
    return QueueFilters(
        status=status, view=view, category=category, assignee=assignee,
        submitted_from=filter_day(args.get("from", ""), "From", errors),
        submitted_to=filter_day(args.get("to", ""), "To", errors),
        q=q, search=search if q else "", after=after, errors=tuple(errors),
    )


@dataclass(frozen=True)
class Cursor:
    """A position in the call list: after this row of this segment, with the overdue cutoff the list was read with.

    The cutoff travels with the cursor, so a request that falls overdue while someone pages is neither
    skipped nor shown twice.
    """

    segment: int
    created_at: datetime
    id: int
    overdue_before: datetime

    def encode(self) -> str:
        """The cursor as the query string carries it."""
        return f"{self.segment}.{_micros(self.created_at)}.{self.id}.{_micros(self.overdue_before)}"


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)  # exact: no float rounding


def decode_cursor(cursor: str) -> Cursor | None:
    """The position a cursor names, or None if it is not one this app wrote."""
    match = re.fullmatch(r"(\d)\.(\d{1,17})\.(\d{1,9})\.(\d{1,17})", cursor, re.ASCII)
    if not match:
        return None
    try:
        created = EPOCH + timedelta(microseconds=int(match.group(2)))
        cutoff = EPOCH + timedelta(microseconds=int(match.group(4)))
    except OverflowError:  # beyond the year 9999
        return None
    return Cursor(int(match.group(1)), created, int(match.group(3)), cutoff)


def _looks_like_phone(q: str) -> bool:
    return sum(ch.isdigit() for ch in q) >= 7


def name_search_key(q: str) -> str | None:
    """The surname blind index a search text is looked up by; None when it is a reference or a phone number."""
    if normalise_reference(q) or _looks_like_phone(q):
        return None
    return surname_query_key(q)


def search_condition(q: str, region: str) -> object:
    """Reference, phone (any format, matched in E.164) or last name (whole, or any one of its words).

    Phone and last name are stored encrypted, so they are matched through their blind indexes; a name is
    compared without accents, case or apostrophes ("hernandez" finds "Hernández García").
    """
    reference = normalise_reference(q)
    if reference:
        return ConsultationRequest.reference == reference
    if _looks_like_phone(q):
        try:
            number = phonenumbers.parse(q, region)
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            e164 = q
        return ConsultationRequest.phone_index == phone_index(e164)
    key = name_search_key(q)
    if key is None:  # nothing left to search by once accents, case and apostrophes are gone
        return false()
    return ConsultationRequest.id.in_(select(SurnameKey.request_id).where(SurnameKey.digest == key))


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def overdue_condition(overdue_before: datetime) -> ColumnElement[bool]:
    """New (nobody has tried to call yet) and sent at or before the cutoff: the callback promise is broken."""
    return and_(ConsultationRequest.status == "new", ConsultationRequest.created_at <= overdue_before)


def due_now_condition(now: datetime, overdue_before: datetime) -> ColumnElement[bool]:
    """What to call now: a call-back time that has come, a new emergency, or an overdue request."""
    return and_(ConsultationRequest.is_open.is_(True), or_(
        ConsultationRequest.callback_at <= now,
        and_(ConsultationRequest.status == "new", ConsultationRequest.category_rank == EMERGENCY_RANK),
        overdue_condition(overdue_before),
    ))


def build_query(
    filters: QueueFilters, *, staff_id: int, tz: ZoneInfo, region: str,
    now: datetime | None = None, overdue_before: datetime | None = None, with_search: bool = True,
) -> Select[tuple[ConsultationRequest]]:
    """One select for the filtered queue in category order (the exports' order; the page adds overdue first).

    The "due" view needs ``now`` and ``overdue_before``. ``with_search=False`` leaves the search text's own
    condition to the caller (the page reads a name search from ``surname_key``).
    """
    query = select(ConsultationRequest)
    if filters.view == "due":
        if now is None or overdue_before is None:
            raise ValueError("the due view needs the time and the overdue cutoff")
        query = query.where(due_now_condition(now, overdue_before))
    status = "all" if filters.q and filters.status == "open" else filters.status  # a search looks everywhere
    if status == "open":
        query = query.where(ConsultationRequest.is_open.is_(True))
    elif status != "all":
        query = query.where(ConsultationRequest.status == status)
    if filters.category:
        query = query.where(ConsultationRequest.category_rank == CATEGORY_RANK[filters.category])
    if filters.assignee == "me":
        query = query.where(ConsultationRequest.assignee_id == staff_id)
    elif filters.assignee == "none":
        query = query.where(ConsultationRequest.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(ConsultationRequest.assignee_id == int(filters.assignee))
    if filters.submitted_from:
        query = query.where(ConsultationRequest.created_at >= _day_start(filters.submitted_from, tz))
    if filters.submitted_to:
        query = query.where(ConsultationRequest.created_at < _day_start(filters.submitted_to + timedelta(days=1), tz))
    if filters.q and with_search:
        query = query.where(search_condition(filters.q, region))  # type: ignore[arg-type]
    return query.order_by(
        ConsultationRequest.category_rank, ConsultationRequest.created_at, ConsultationRequest.id
    )


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue and the cursor of the next, if there is one."""

    rows: list[ConsultationRequest]
    next_cursor: str | None


def _ranks(filters: QueueFilters) -> list[int]:
    """The category ranks the filters let through, in queue order."""
    return [r for r in RANKS if not filters.category or r == CATEGORY_RANK[filters.category]]


def segments(filters: QueueFilters, overdue_before: datetime) -> list[tuple[int, ColumnElement[bool]]]:
    """The call list's parts in order, each (number, condition): emergencies, overdue by category, the rest."""
    rank, wanted = ConsultationRequest.category_rank, _ranks(filters)
    # Only new requests can be overdue: a view of other statuses has no overdue part.
    overdue_applies = filters.status in ("open", "new", "all") or bool(filters.q)
    parts: list[tuple[int, ColumnElement[bool]]] = []
    if EMERGENCY_RANK in wanted:
        parts.append((0, rank == EMERGENCY_RANK))
    others = [r for r in wanted if r != EMERGENCY_RANK]
    if overdue_applies:
        parts += [(r, and_(rank == r, overdue_condition(overdue_before))) for r in others]
        parts += [(len(RANKS) - 1 + r, and_(rank == r, ~overdue_condition(overdue_before))) for r in others]
    else:
        parts += [(len(RANKS) - 1 + r, rank == r) for r in others]
    return parts


def fetch_page(session: Session, filters: QueueFilters, *, staff_id: int, tz: ZoneInfo, region: str,
               now: datetime, overdue_before: datetime) -> QueuePage:
    """The page of the call list that starts after ``filters.after``: segment by segment, 50 rows at most.

    A name search walks ``surname_key``'s index (digest, category, time) instead: one short range per
    category, in queue order, whatever the number of requests with that name. It lists by category only
    (no overdue part): whoever searches is looking for one patient.
    """
    position = decode_cursor(filters.after) if filters.after else None
    if position:
        overdue_before = position.overdue_before
    name_key = name_search_key(filters.q) if filters.q else None
    query = build_query(filters, staff_id=staff_id, tz=tz, region=region, now=now, overdue_before=overdue_before,
                        with_search=name_key is None)
    # The assessments (for the review flags) come in one query for the page's rows: joined into each segment's
    # query, PostgreSQL joined them to every candidate row before its top-N sort (19,000 buffer reads at 1M).
    query = query.order_by(None).options(
        joinedload(ConsultationRequest.assignee),
        selectinload(ConsultationRequest.screening).options(load_only(Screening.assessment)),
    )
    rank, created, row_id = ConsultationRequest.category_rank, ConsultationRequest.created_at, ConsultationRequest.id
    parts = segments(filters, overdue_before)
    if name_key is not None:
        query = query.join(SurnameKey, SurnameKey.request_id == ConsultationRequest.id).where(
            SurnameKey.digest == name_key)
        rank, created, row_id = SurnameKey.category_rank, SurnameKey.created_at, SurnameKey.request_id
        parts = [(0 if r == EMERGENCY_RANK else len(RANKS) - 1 + r, rank == r) for r in _ranks(filters)]
    rows: list[tuple[int, ConsultationRequest]] = []
    for number, condition in parts:
        if position and number < position.segment:
            continue
        part = query.where(condition).order_by(created, row_id)
        if position and number == position.segment:
            part = part.where(tuple_(created, row_id) > tuple_(position.created_at, position.id))
        rows += [(number, row) for row in session.scalars(part.limit(PAGE_SIZE + 1 - len(rows)))]
        if len(rows) > PAGE_SIZE:
            break
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    cursor = None
    if more and rows:
        number, last = rows[-1]
        cursor = Cursor(number, last.created_at, last.id, overdue_before).encode()
    return QueuePage([row for _, row in rows], cursor)


def status_counts(session: Session) -> dict[str, int]:
    """How many requests are in each status: four rows kept by the database's triggers, not a count of them all."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in session.execute(select(RequestStatusCount.status, RequestStatusCount.requests)):
        counts[status] = count
    return counts


def waited(since: datetime, now: datetime) -> str:
    """How long a request has waited, in words a caller can scan: '45 min', '3 h 20 min', '2 d 4 h'."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"
