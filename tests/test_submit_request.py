"""submit_request on both databases: one request per screening whoever sends first, no lost row."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.intake import workflow
from app.intake.contact import ContactDetails
from app.intake.workflow import REFERENCE_ATTEMPTS, ReferenceSpaceExhausted, StoredRequest, submit_request
from app.models import ConsultationRequest, RequestEvent, Screening, utcnow
from tests.factories import new_screening, seed_request

DETAILS = ContactDetails(first_name="Ana", last_name="García", date_of_birth=date(1954, 4, 3),
                         phone="+14155550177", email="ana@example.com", preferred_contact="email", best_time="morning",
                         preferred_language="es", insurance="medicare", message="Mañana, por favor",
                         consent_contact=True)


def stored_screening(app: Flask) -> int:
    """A committed screening without a request; its id."""
    with app.app_context():
        screening = new_screening()
        db.session.add(screening)
        db.session.commit()
        return screening.id


def counts(app: Flask) -> tuple[int, int]:
    """How many requests and timeline events are stored."""
    with app.app_context():
        return (int(db.session.scalar(select(func.count()).select_from(ConsultationRequest)) or 0),
                int(db.session.scalar(select(func.count()).select_from(RequestEvent)) or 0))


def test_a_new_request_is_stored_as_given_with_its_event(app: Flask) -> None:
    screening_id = stored_screening(app)
    with app.app_context():
        screening = db.session.get(Screening, screening_id)
        assert screening is not None
        now = utcnow()
        stored, new = submit_request(db.session, screening, DETAILS, now, language="es")
        db.session.commit()
        assert new is True
        request = db.session.get(ConsultationRequest, stored.id)
        assert request is not None
        assert stored == StoredRequest(request.id, request.reference, "likely", now)
        assert {name: getattr(request, name) for name in asdict(DETAILS)} == asdict(DETAILS)  # decrypted as written
        assert (request.status, request.is_open, request.category_rank, request.version) == ("new", True, 1, 1)
        assert (request.screen_language, request.created_at, request.updated_at) == ("es", now, now)
        assert [(e.kind, e.status_to, e.data, e.staff_id) for e in request.events] == [("submitted", "new", {}, None)]
        assert screening.request is request  # the session's stale "no request" was expired


def test_a_send_that_loses_the_race_returns_the_winners_request(app: Flask) -> None:
    """Two workers loaded the screening before either stored its request: the second gets the first's."""
    screening_id = stored_screening(app)
    with app.app_context():
        late = db.session.get(Screening, screening_id)
        assert late is not None and late.request is None  # loaded before the other send
        with app.app_context():  # another session, as another worker's
            early = db.session.get(Screening, screening_id)
            assert early is not None
            first, first_new = submit_request(db.session, early, DETAILS, utcnow())
            db.session.commit()
        second, second_new = submit_request(db.session, late, DETAILS, utcnow())
        db.session.commit()
        assert (first_new, second_new) == (True, False)
        assert second == first
        assert late.request is not None and late.request.reference == first.reference
    assert counts(app) == (1, 1)


def test_a_repeat_in_the_same_session_returns_the_stored_request(app: Flask) -> None:
    screening_id = stored_screening(app)
    with app.app_context():
        screening = db.session.get(Screening, screening_id)
        assert screening is not None
        first, _ = submit_request(db.session, screening, DETAILS, utcnow())
        again, new = submit_request(db.session, screening, DETAILS, utcnow())  # before the commit
        db.session.commit()
        assert (again, new) == (first, False)
    assert counts(app) == (1, 1)


def test_when_every_reference_collides_nothing_is_stored_and_the_transaction_goes_on(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = seed_request(app)
    drawn: list[str] = []

    def always_taken() -> str:
        drawn.append(taken)
        return taken

    monkeypatch.setattr(workflow, "new_reference", always_taken)
    screening_id = stored_screening(app)
    with app.app_context():
        screening = db.session.get(Screening, screening_id)
        assert screening is not None
        with pytest.raises(ReferenceSpaceExhausted):
            submit_request(db.session, screening, DETAILS, utcnow())
        # No statement failed, so the transaction is still usable (PostgreSQL would refuse one after an error).
        assert db.session.scalar(select(func.count()).select_from(ConsultationRequest)) == 1
        db.session.commit()
    assert len(drawn) == REFERENCE_ATTEMPTS
    assert counts(app) == (1, 1)


def test_a_request_with_a_screening_made_in_the_same_transaction(app: Flask) -> None:
    with app.app_context():
        screening = new_screening()
        db.session.add(screening)  # not flushed: it has no id yet
        stored, new = submit_request(db.session, screening, DETAILS, utcnow())
        db.session.commit()
        assert new and db.session.get(ConsultationRequest, stored.id).screening_id == screening.id  # type: ignore[union-attr]
