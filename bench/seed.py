"""Bulk loader: consultation requests (with their screenings) as the app itself would have stored them.

Realistic rows, fast: every contact detail is encrypted with the app's own column types (AES-256-GCM under
the configured keys, bound to its column) and every blind index computed with ``app/security/search_index.py``, so
the app reads, searches and exports them like any other; the rows are then written with executemany in
batches of ``BATCH``, bypassing the ORM (whose per-object bookkeeping would dominate). Ids are given
explicitly and PostgreSQL's sequences moved past them afterwards.

The shape of the data: submissions spread evenly over seven years up to now; a request older than 60 days
is closed (but one in 200 was never closed), newer ones are new, in progress, scheduled or closed; answers
are the spec's base case with a few answers changed, so the categories mix as in a real queue; last names
come from 200 common names, so a name search at 1,000,000 rows finds about 5,000 requests.
"""

from __future__ import annotations

import multiprocessing
import random
import signal
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text, column, func, insert, select, table, text
from sqlalchemy.orm import Session

from app.casework.status import OUTCOMES
from app.intake.contact import CHOICES
from app.intake.reference import new_reference
from app.models import CATEGORY_RANK, ConsultationRequest, Screening
from app.models.base import UTCDateTime
from app.screening.questions import QUESTIONS, Kind
from app.screening.rules import assess
from app.screening.validation import InvalidAnswers
from app.security.search_index import request_indexes, surname_keys
from bench.patient_client import ANSWERS

BATCH = 5000
YEARS = 7
SEARCHED_NAME = "Garcia"  # one of LAST_NAMES: the bench's name search
LAST_NAMES = (
    "Garcia", "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
)
LAST_NAMES = LAST_NAMES + tuple(f"{name}-{suffix}" for suffix in ("Ortiz", "Reyes", "Cruz") for name in LAST_NAMES)
FIRST_NAMES = ("Maria", "James", "Linda", "Robert", "Patricia", "John", "Barbara", "Michael", "Elizabeth",
               "William", "Susan", "David", "Jennifer", "Richard", "Carmen", "Jose", "Dorothy", "Charles")
MESSAGES = ("Please call after 10.", "Mornings are best; I have hearing aids, please speak up.",
            "My daughter helps me with appointments.", "Can I get an appointment on a Tuesday?")

_REQUEST_COLUMNS = {
    "id": Integer(), "reference": String(), "screening_id": Integer(), "status": String(), "is_open": Boolean(),
    "category": String(), "category_rank": Integer(), "score": Integer(),
    "first_name": Text(), "last_name": Text(), "date_of_birth": Text(), "phone": Text(), "email": Text(),
    "phone_index": String(), "email_index": String(), "last_name_index": String(),
    "preferred_contact": String(), "best_time": String(), "preferred_language": String(),
    "screen_language": String(), "insurance": String(), "message": Text(), "consent_contact": Boolean(),
    "duplicate_of_id": Integer(), "assignee_id": Integer(), "scheduled_for": UTCDateTime(), "outcome": String(),
    "created_at": UTCDateTime(), "updated_at": UTCDateTime(), "version": Integer(),
}
_SCREENING_COLUMNS = {
    "id": Integer(), "answers": JSON(), "assessment": JSON(), "category": String(), "score": Integer(),
    "cook_score": Integer(), "rule_version": String(), "created_at": UTCDateTime(),
}
# Plain column types: the ciphertexts are made here, so the encrypted types must not encrypt them again.
REQUESTS = table("consultation_request", *(column(name, kind) for name, kind in _REQUEST_COLUMNS.items()))
SCREENINGS = table("screening", *(column(name, kind) for name, kind in _SCREENING_COLUMNS.items()))
SURNAME_KEYS = table("surname_key", column("request_id", Integer()), column("digest", String()),
                     column("category_rank", Integer()), column("created_at", UTCDateTime()))


def answer_variants(rng: random.Random, count: int = 400) -> list[dict[str, Any]]:
    """Valid answer sets: the base case with up to four answers changed; each with its stored assessment."""
    variants = []
    while len(variants) < count:
        answers = dict(ANSWERS)
        for question in rng.sample(QUESTIONS, rng.randint(0, 4)):
            if question.kind is Kind.INTEGER:
                answers[question.field] = rng.randint(question.minimum or 0, question.maximum or 0)
            elif question.kind is Kind.MULTI:
                answers[question.field] = [rng.choice(question.codes)]
            else:
                answers[question.field] = rng.choice(question.codes)
        try:
            assessment = assess(answers)
        except InvalidAnswers:
            continue
        if not assessment.complete:  # safety answers alone (2026.2): shown to the patient, never stored
            continue
        variants.append({"answers": answers, "assessment": assessment.to_dict(),
                         "category": assessment.category.value, "score": assessment.score,
                         "cook_score": assessment.cook_score, "rule_version": assessment.rule_version})
    return variants


def _encryptor(name: str) -> Any:
    return getattr(ConsultationRequest.__table__.c, name).type.process_bind_param  # the column's own cipher


def _status(rng: random.Random, age: timedelta) -> tuple[str, str | None]:
    if age > timedelta(days=60):
        return ("closed", rng.choice(OUTCOMES)) if rng.random() > 0.005 else ("in_progress", None)
    status = rng.choices(("new", "in_progress", "scheduled", "closed"), (35, 30, 20, 15))[0]
    return status, rng.choice(OUTCOMES) if status == "closed" else None


def rows(count: int, first_id: int, first_screening_id: int, staff_id: int, now: datetime, position: int = 0,
         total: int = 0, seed: int = 7) -> Iterator[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:
    """``count`` (screening, request, surname keys) rows, created evenly over the last ``YEARS`` years.

    In arrival order, as a clinic's database holds them: these rows are numbers ``position`` onwards of the
    ``total`` being loaded, and each is created in its own slot of the span, so ids grow with the time of
    creation. (Random times would scatter the queue order, and so every keyset read, over the whole file.)
    """
    rng = random.Random(seed + first_id)  # noqa: S311 - made-up test data, not secrets
    total = total or count
    variants = answer_variants(rng)
    encrypt = {name: _encryptor(name) for name in
               ("first_name", "last_name", "date_of_birth", "phone", "email", "message")}
    choices = {name: tuple(option.code for option in options) for name, options in CHOICES.items()}
    span = timedelta(days=365 * YEARS)
    for n in range(count):
        created = now - span + span * ((position + n + rng.random()) / total)
        variant = rng.choice(variants)
        last, first = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
        phone = f"+1{rng.choice((415, 510, 650, 707, 916))}{rng.randint(2000000, 9999999)}"
        email = f"{first}.{last}{rng.randint(1, 999)}@example.com".lower() if rng.random() < 0.6 else None
        message = rng.choice(MESSAGES) if rng.random() < 0.4 else None
        status, outcome = _status(rng, now - created)
        screening = {"id": first_screening_id + n, "created_at": created, **variant}
        request = {
            "id": first_id + n, "reference": new_reference(), "screening_id": first_screening_id + n,
            "status": status, "is_open": status != "closed", "category": variant["category"],
            "category_rank": CATEGORY_RANK[variant["category"]], "score": variant["score"],
            "first_name": encrypt["first_name"](first, None), "last_name": encrypt["last_name"](last, None),
            "date_of_birth": encrypt["date_of_birth"](date(1930, 1, 1) + timedelta(days=rng.randint(0, 16000)), None),
            "phone": encrypt["phone"](phone, None), "email": encrypt["email"](email, None),
            **request_indexes(phone=phone, email=email, last_name=last),
            **{name: rng.choice(codes) for name, codes in choices.items()},
            "screen_language": "es" if rng.random() < 0.1 else "en",
            "message": encrypt["message"](message, None), "consent_contact": True, "duplicate_of_id": None,
            "assignee_id": None if status == "new" else staff_id,
            "scheduled_for": created + timedelta(days=14) if status == "scheduled" else None,
            "outcome": outcome, "created_at": created,
            "updated_at": min(now, created + timedelta(days=rng.randint(0, 30))), "version": 1,
        }
        keys = [{"request_id": first_id + n, "digest": key, "category_rank": request["category_rank"],
                 "created_at": created} for key in surname_keys(last)]
        yield screening, request, keys


Batch = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def _batch(job: tuple[int, int, int, int, datetime, int, int]) -> Batch:
    """One batch of rows (run in a worker process: encryption is most of the work)."""
    made = list(rows(*job))
    return ([screening for screening, _, _ in made], [request for _, request, _ in made],
            [key for _, _, keys in made for key in keys])


def load(session: Session, count: int, staff_id: int, processes: int = 2) -> int:
    """Add ``count`` requests (and screenings) to the database; return how many requests it then holds.

    ``processes`` worker processes make the rows (forked: they inherit the configured keyring) while this
    one writes the previous batch.
    """
    first_id = (session.scalar(select(func.max(ConsultationRequest.id))) or 0) + 1
    first_screening_id = (session.scalar(select(func.max(Screening.id))) or 0) + 1
    references = set(session.scalars(select(ConsultationRequest.reference)))
    now = datetime.now(UTC)
    jobs = [(min(BATCH, count - done), first_id + done, first_screening_id + done, staff_id, now, done, count)
            for done in range(0, count, BATCH)]
    with multiprocessing.get_context("fork").Pool(processes, initializer=_quiet_on_sigterm) as pool:
        for screenings, requests, keys in pool.imap(_batch, jobs):
            for request in requests:
                while request["reference"] in references:  # a clash is rare (30**8), but the index refuses it
                    request["reference"] = new_reference()
                references.add(request["reference"])
            _write(session, screenings, requests, keys)
    if session.get_bind().dialect.name == "postgresql":
        for name in ("screening", "consultation_request"):
            session.execute(select(func.setval(func.pg_get_serial_sequence(name, "id"),
                                               select(func.max(column("id"))).select_from(table(name))
                                               .scalar_subquery())))
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        # What autovacuum does in the minutes after such a load: planner statistics and the visibility map for the
        # new rows. Done here, at once, so that it does not run during the measurements that follow: after a
        # 300,000-row load with only ANALYZE, autovacuum began 14 s later and vacuumed both tables for 22 s
        # (throttled by its cost delay); this takes about 2 s. VACUUM cannot run inside a transaction.
        with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE) screening, consultation_request, surname_key"))
    return session.scalar(select(func.count()).select_from(ConsultationRequest)) or 0


def _quiet_on_sigterm() -> None:
    """In a pool worker: end on SIGTERM as a process normally does.

    A fork inherits its parent's handlers, and bench/perf.py turns SIGTERM into KeyboardInterrupt so that its own
    cleanup runs; the pool stops its workers with SIGTERM, and each would print that interrupt's traceback.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _write(session: Session, screenings: list[dict[str, Any]], requests: list[dict[str, Any]],
           keys: list[dict[str, Any]]) -> None:
    if requests:
        session.execute(insert(SCREENINGS), screenings)
        session.execute(insert(REQUESTS), requests)
        session.execute(insert(SURNAME_KEYS), keys)
        session.commit()
