"""The work queue: filters from the query string, one ``select()``, keyset pages of 50.

The search text is the exception: it is often a patient's name or phone number, so it never goes in a
URL (access logs, browser history, Referer headers). The console keeps it in the staff session and the
query string carries only ``search=<id>``; ``parse_filters`` is given a lookup for those ids.

Order: emergencies first, then likely, possible, unlikely; oldest first within each. Each filter
combination is served by an index whose columns are the filter, then (category_rank, created_at, id).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session, joinedload

from app.casework.status import STATUSES
from app.intake.reference import normalise_reference
from app.models import CATEGORY_RANK, ConsultationRequest, RequestStatusCount
from app.security.search_index import last_name_index, phone_index

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATUS_CHOICES = ("open", "all", *STATUSES)


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows; every field round-trips through the query string, the search text by its id."""

    status: str = "open"
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
        status=status, category=category, assignee=assignee,
        submitted_from=filter_day(args.get("from", ""), "From", errors),
        submitted_to=filter_day(args.get("to", ""), "To", errors),
        q=q, search=search if q else "", after=after, errors=tuple(errors),
    )


def encode_cursor(request: ConsultationRequest) -> str:
    """The position just after ``request`` in queue order."""
    micros = (request.created_at - EPOCH) // timedelta(microseconds=1)  # exact: no float rounding
    return f"{request.category_rank}.{micros}.{request.id}"


def decode_cursor(cursor: str) -> tuple[int, datetime, int] | None:
    """(rank, created_at, id) from a cursor, or None if it is not one."""
    match = re.fullmatch(r"(\d)\.(\d{1,17})\.(\d{1,9})", cursor, re.ASCII)
    if not match:
        return None
    try:
        created = EPOCH + timedelta(microseconds=int(match.group(2)))
    except OverflowError:  # beyond the year 9999: not a cursor this app wrote
        return None
    return int(match.group(1)), created, int(match.group(3))


def search_condition(q: str, region: str) -> object:
    """Reference, phone (any format, matched in E.164) or last name (case-insensitive exact).

    Phone and last name are stored encrypted, so they are matched through their blind indexes.
    """
    reference = normalise_reference(q)
    if reference:
        return ConsultationRequest.reference == reference
    if sum(ch.isdigit() for ch in q) >= 7:
        try:
            number = phonenumbers.parse(q, region)
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            e164 = q
        return ConsultationRequest.phone_index == phone_index(e164)
    return ConsultationRequest.last_name_index == last_name_index(q)


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def build_query(
    filters: QueueFilters, *, staff_id: int, tz: ZoneInfo, region: str
) -> Select[tuple[ConsultationRequest]]:
    """One select for the filtered queue, in queue order (without the page limit)."""
    query = select(ConsultationRequest)
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
    if filters.q:
        query = query.where(search_condition(filters.q, region))  # type: ignore[arg-type]
    return query.order_by(
        ConsultationRequest.category_rank, ConsultationRequest.created_at, ConsultationRequest.id
    )


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue and the cursor of the next, if there is one."""

    rows: list[ConsultationRequest]
    next_cursor: str | None


def fetch_page(session: Session, filters: QueueFilters, *, staff_id: int, tz: ZoneInfo, region: str) -> QueuePage:
    """The page of the queue that starts after ``filters.after``."""
    query = build_query(filters, staff_id=staff_id, tz=tz, region=region)
    position = decode_cursor(filters.after) if filters.after else None
    if position:
        key = tuple_(ConsultationRequest.category_rank, ConsultationRequest.created_at, ConsultationRequest.id)
        query = query.where(key > tuple_(*position))
    rows = list(session.scalars(query.options(joinedload(ConsultationRequest.assignee)).limit(PAGE_SIZE + 1)))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return QueuePage(rows, encode_cursor(rows[-1]) if more and rows else None)


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
