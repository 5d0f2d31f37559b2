"""Answers in progress, held on the server and found by an unguessable token in the patient's cookie.

The cookie carries only the token; the database stores only the token's SHA-256. A draft expires after
a period without activity. Functions take the SQLAlchemy session explicitly: no Flask import.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, select, update
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.interfaces import ORMOption

from app.database import draft_write_durability
from app.driver_select import DriverSelect
from app.driver_write import DriverWrite, InTransaction
from app.models import ConsultationRequest, Draft, Screening
from app.screening.questions import drop_inapplicable
from app.workflow import StoredRequest

TOKEN_BYTES = 32  # 256 bits: not guessable, not enumerable
_DRAFTS = Draft.__table__


def hash_token(token: str) -> str:
    """The key a token is stored under."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_draft(session: Session, now: datetime) -> tuple[str, Draft]:
    """Create an empty draft; return the token for the cookie and the new row."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    draft = Draft(token_hash=hash_token(token), answers={}, contact={}, created_at=now, updated_at=now)
    session.add(draft)
    return token, draft


def _plausible(token: object) -> bool:
    """Whether ``token`` (from a cookie) is worth looking up at all."""
    return bool(token) and isinstance(token, str) and len(token) <= 128


def find_draft(
    session: Session, token: str | None, now: datetime, idle: timedelta, options: Sequence[ORMOption] = ()
) -> Draft | None:
    """The live draft for ``token``, or None when there is none or it has expired (and is removed).

    ``options``: loader options for what the caller reads (e.g. the screening joined in, the contact deferred).
    """
    if not _plausible(token):
        return None
    draft = session.get(Draft, hash_token(str(token)), options=list(options))
    if draft is None:
        return None
    if now - draft.updated_at > idle:
        session.delete(draft)
        return None
    return draft


# A question page's GET: the answers and the time of the last activity, nothing else of the row.
_ANSWERS = select(Draft.answers, Draft.updated_at).where(Draft.token_hash == bindparam("key"))
_ANSWERS_ON_DRIVER = DriverSelect(_ANSWERS)


def find_answers(
    session: Session | scoped_session[Session], token: str | None, now: datetime, idle: timedelta,
    engine: Engine | None = None,
) -> dict[str, Any] | None:
    """The live draft's answers for ``token``, or None: ``find_draft`` then ``touch``, for pages that show them.

    Reads only the answers and the time of the last activity: loading the whole row through the ORM also
    decrypted the contact details and built an object only to read one attribute (about 15% of a question
    page's GET). The read runs on the driver's cursor (``DriverSelect``: SQLAlchemy's per-execution work was
    most of what remained) of ``engine`` or the session's, unless ``session`` is inside a transaction, whose
    changes only its own connection sees. ``engine``: the session's own, given so that a scoped session not
    yet begun in this scope is not made just to be asked for it. An expired draft is removed and a live one
    touched through ``session``, as with ``find_draft`` and ``touch``; the caller commits.
    """
    found = _live_answers(session, token, now, idle, engine)
    if found is None:
        return None
    key, answers, updated_at = found
    if now - updated_at >= TOUCH_EVERY:
        session.execute(update(Draft).where(Draft.token_hash == key).values(updated_at=now))
    return answers


def answers_for_saving(
    session: Session | scoped_session[Session], token: str | None, now: datetime, idle: timedelta,
    engine: Engine | None = None,
) -> dict[str, Any] | None:
    """``find_answers`` for a page that is about to save (``save_page_answers`` records the activity then).

    Writes nothing for a live draft, so the save's transaction is the first and can choose its durability.
    """
    found = _live_answers(session, token, now, idle, engine)
    return None if found is None else found[1]


def _live_answers(
    session: Session | scoped_session[Session], token: str | None, now: datetime, idle: timedelta,
    engine: Engine | None,
) -> tuple[str, dict[str, Any], datetime] | None:
    """(key, answers, last activity) of the live draft for ``token``; an expired one is deleted: None."""
    if not _plausible(token):
        return None
    key = hash_token(str(token))
    if isinstance(session, scoped_session) and not session.registry.has() and engine is not None:
        bind: object = engine  # no session in this scope yet, so no transaction
    else:
        current = session() if isinstance(session, scoped_session) else session  # e.g. Flask-SQLAlchemy's
        bind = None if current.in_transaction() else current.get_bind()
    if isinstance(bind, Engine):
        row = _ANSWERS_ON_DRIVER.first(bind, key=key)
    else:
        row = session.execute(_ANSWERS, {"key": key}).first()
    if row is None:
        return None
    answers, updated_at = row
    if now - updated_at > idle:
        session.execute(delete(Draft).where(Draft.token_hash == key))
        return None
    return key, dict(answers or {}), updated_at


@dataclass(frozen=True)
class ReadyToSend:
    """A live draft with its result, as the send of a consultation request reads it."""

    key: str  # the draft's key (the hash of the cookie's token)
    contact: dict[str, Any]  # the contact details typed so far (decrypted)
    screening_id: int
    category: str
    score: int
    stated_age: Any  # the screening's answer to the age question, to check the date of birth against
    request: StoredRequest | None  # the request already stored for the screening, if it was sent


def ready_to_send(draft: Draft, screening: Screening) -> ReadyToSend:
    """``draft`` and its ``screening``, loaded through the session, as the send reads them."""
    stored = None if screening.request is None else StoredRequest.of(screening.request)
    return ReadyToSend(draft.token_hash, dict(draft.contact), screening.id, screening.category, screening.score,
                       screening.answers.get("age"), stored)


def find_ready_to_send(engine: Engine, token: str | None, now: datetime, idle: timedelta) -> ReadyToSend | None:
    """The live draft for ``token`` with its screening and any request of it, in one read on the driver.

    None when there is no such draft, it has no screening yet, or it has expired: the caller then takes the
    session's path (``find_draft``), which removes an expired draft and tells the patient. Loading the draft, the
    screening and the request through the ORM cost a send 0.7 ms, a quarter of it; this read needs none of it.
    Writes nothing: the send that follows records the activity.
    """
    if not _plausible(token):
        return None
    key = hash_token(str(token))
    row = _READY_TO_SEND.first(engine, key=key)
    if row is None:
        return None
    contact, updated_at, screening_id, category, score, answers, request_id, *request = row
    if now - updated_at > idle:
        return None
    stored = None if request_id is None else StoredRequest(request_id, *request)
    return ReadyToSend(key, dict(contact or {}), screening_id, category, score, (answers or {}).get("age"), stored)


_SCREENINGS = Screening.__table__
_REQUESTS = ConsultationRequest.__table__
_READY_TO_SEND = DriverSelect(
    select(_DRAFTS.c.contact, _DRAFTS.c.updated_at, _SCREENINGS.c.id, _SCREENINGS.c.category, _SCREENINGS.c.score,
           _SCREENINGS.c.answers, _REQUESTS.c.id, _REQUESTS.c.reference, _REQUESTS.c.category, _REQUESTS.c.created_at)
    .select_from(_DRAFTS.join(_SCREENINGS, _DRAFTS.c.screening_id == _SCREENINGS.c.id)
                 .outerjoin(_REQUESTS, _REQUESTS.c.screening_id == _SCREENINGS.c.id))
    .where(_DRAFTS.c.token_hash == bindparam("key"))
)


def merge_answers(before: Mapping[str, Any], page_answers: Mapping[str, Any]) -> dict[str, Any]:
    """The draft's answers with one page's merged in and the answers that no longer apply dropped."""
    return drop_inapplicable({**before, **page_answers})


def save_answers(draft: Draft, page_answers: Mapping[str, Any], now: datetime) -> None:
    """Merge one page's answers into the draft and drop answers that no longer apply.

    Any change means the stored screening no longer matches, so the link to it is cleared and the
    patient must check their answers again before seeing a result.
    """
    merged = merge_answers(draft.answers, page_answers)
    if merged != draft.answers:
        draft.answers = merged
        draft.screening_id = None
    draft.updated_at = now


# A question page's POST: the merged answers (the screening then no longer matches) or, when they are the same,
# only the time of the activity.
_SAVE_ANSWERS = DriverWrite(
    update(_DRAFTS)
    .where(_DRAFTS.c.token_hash == bindparam("key"))
    .values(
        answers=bindparam("merged", type_=_DRAFTS.c.answers.type),
        screening_id=None,
        updated_at=bindparam("now", type_=_DRAFTS.c.updated_at.type),
    )
)
_SAVE_ACTIVITY = DriverWrite(
    update(_DRAFTS)
    .where(_DRAFTS.c.token_hash == bindparam("key"))
    .values(updated_at=bindparam("now", type_=_DRAFTS.c.updated_at.type))
)


def save_page_answers(
    engine: Engine, token: str, before: Mapping[str, Any], page_answers: Mapping[str, Any], now: datetime
) -> dict[str, Any] | None:
    """``save_answers`` for the stored draft of ``token`` whose answers were ``before``: one UPDATE, committed.

    No Draft object is loaded and no session transaction is used: the ORM's load and unit of work were about a
    third of a question page's POST, and the session's transaction and commit much of the rest
    (``app.driver_write``). The UPDATE is a transaction of its own, on SQLite without an fsync
    (``draft_write_durability``: it saves a draft and nothing else). Returns the merged answers, or None when
    the draft is no longer there (it expired or was removed since it was read). Like the ORM save it replaces
    the answers read before: two tabs saving at once keep the last.
    """
    merged = merge_answers(before, page_answers)
    key = hash_token(token)
    if merged != before:
        matched = _SAVE_ANSWERS.run(engine, draft_write_durability, key=key, merged=merged, now=now)
    else:
        matched = _SAVE_ACTIVITY.run(engine, draft_write_durability, key=key, now=now)
    return merged if matched else None


def save_contact(draft: Draft, contact: Mapping[str, Any], now: datetime) -> None:
    """Keep the contact details typed so far (JSON-ready values) until the request is sent.

    They are stored encrypted (``Draft.contact`` is an EncryptedJSON column). A new dict is assigned every
    time: changes made inside the stored dict would not be noticed and saved.
    """
    draft.contact = dict(contact)
    draft.updated_at = now


def clear_contact(connection: Connection, key: str, now: datetime) -> None:
    """Forget the copy of the contact details in the draft stored under ``key`` (the request now holds them).

    One UPDATE compiled once, in ``connection``'s transaction (the send's); it records the activity too.
    Through the ORM's unit of work, the flush of this one row cost a send about 0.3 ms.
    """
    _CLEAR_CONTACT.execute(connection, key=key, contact={}, now=now)


_CLEAR_CONTACT = InTransaction(
    update(_DRAFTS)
    .where(_DRAFTS.c.token_hash == bindparam("key"))
    .values(contact=bindparam("contact", type_=_DRAFTS.c.contact.type),
            updated_at=bindparam("now", type_=_DRAFTS.c.updated_at.type))
)

TOUCH_EVERY = timedelta(minutes=1)


def touch(draft: Draft, now: datetime) -> None:
    """Record activity so the idle timer restarts (at most once a minute, to spare writes on reads)."""
    if now - draft.updated_at >= TOUCH_EVERY:
        draft.updated_at = now


def purge_expired(session: Session, now: datetime, idle: timedelta) -> int:
    """Delete drafts idle for longer than ``idle``; return how many were removed."""
    result = session.execute(delete(Draft).where(Draft.updated_at < now - idle))
    return int(getattr(result, "rowcount", 0) or 0)
