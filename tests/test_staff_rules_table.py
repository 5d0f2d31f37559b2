"""The staff side's rules written out as tables (issue 22), so a one-line change to the code fails a test.

Every table here is typed out, never read from the code it checks: the workflow's transitions, and which
role may make which POST.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.casework.work import InvalidChange, StaleRequest, assign, change_status, log_contact
from app.extensions import db
from app.models import ConsultationRequest, StaffUser
from tests.factories import login, make_staff, seed_request
from tests.journey import csrf_token

STATUSES = ("new", "in_progress", "scheduled", "closed")
# The workflow as the front desk was told it works: new -> in progress -> scheduled -> closed, closing early,
# rescheduling back to in progress, and reopening a closed request.
ALLOWED = {
    ("new", "in_progress"), ("new", "closed"),
    ("in_progress", "scheduled"), ("in_progress", "closed"),
    ("scheduled", "in_progress"), ("scheduled", "closed"),
    ("closed", "in_progress"),
}
NOW = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


def _request_in(app: Flask, status: str) -> str:
    reference = seed_request(app)
    with app.app_context():
        request = db.session.scalars(select(ConsultationRequest).filter_by(reference=reference)).one()
        request.status, request.is_open = status, status != "closed"
        request.outcome = "no_response" if status == "closed" else None
        db.session.commit()
    return reference


def _load(reference: str) -> ConsultationRequest:
    return db.session.scalars(select(ConsultationRequest).filter_by(reference=reference)).one()


@pytest.mark.parametrize(("start", "to"), list(itertools.product(STATUSES, STATUSES)))
def test_every_status_transition_is_allowed_or_refused_as_the_table_says(app: Flask, start: str, to: str) -> None:
    reference = _request_in(app, start)
    actor = make_staff(app, "frontdesk")
    with app.app_context():
        request, staff = _load(reference), db.session.get(StaffUser, actor["id"])
        move = {"scheduled_for": NOW + timedelta(days=3)} if to == "scheduled" else {}
        move |= {"outcome": "consult_booked"} if to == "closed" else {}
        if (start, to) in ALLOWED:
            change_status(request, to, actor=staff, now=NOW, expected_version=request.version, **move)
            db.session.commit()
            assert (_load(reference).status, _load(reference).is_open) == (to, to != "closed")
        else:
            with pytest.raises(InvalidChange):
                change_status(request, to, actor=staff, now=NOW, expected_version=request.version, **move)
            db.session.rollback()
            assert _load(reference).status == start


def test_reopening_clears_the_old_outcome(app: Flask) -> None:
    reference = _request_in(app, "closed")
    actor = make_staff(app, "frontdesk")
    with app.app_context():
        request, staff = _load(reference), db.session.get(StaffUser, actor["id"])
        assert request.outcome == "no_response"
        change_status(request, "in_progress", actor=staff, now=NOW, expected_version=request.version)
        db.session.commit()
        assert _load(reference).outcome is None


@pytest.mark.parametrize("action", ["assign", "contact"])
def test_a_stale_version_is_refused_on_assign_and_contact(app: Flask, action: str) -> None:
    reference = seed_request(app)
    actor = make_staff(app, "frontdesk")
    with app.app_context():
        request, staff = _load(reference), db.session.get(StaffUser, actor["id"])
        stale = request.version - 1
        with pytest.raises(StaleRequest):
            if action == "assign":
                assign(request, staff, actor=staff, now=NOW, expected_version=stale)
            else:
                log_contact(request, method="phone", outcome="reached", note=None, actor=staff, now=NOW,
                            expected_version=stale)
        db.session.rollback()
        assert (_load(reference).assignee_id, _load(reference).status, len(_load(reference).events)) == (
            None, "new", 1)


def test_assigning_to_a_disabled_account_is_refused(app: Flask) -> None:
    reference = seed_request(app)
    actor, gone = make_staff(app, "frontdesk"), make_staff(app, "frontdesk")
    with app.app_context():
        db.session.get(StaffUser, gone["id"]).active = False
        db.session.commit()
        request = _load(reference)
        with pytest.raises(InvalidChange):
            assign(request, db.session.get(StaffUser, gone["id"]), actor=db.session.get(StaffUser, actor["id"]),
                   now=NOW, expected_version=request.version)
        db.session.rollback()
        assert _load(reference).assignee_id is None


# Which role may make which staff POST, typed out. A refused POST is a 403 and changes nothing it guards.
ROLES = ("frontdesk", "clinician", "admin")
POSTS: dict[str, tuple[str, ...]] = {
    "/staff/requests/{ref}/assign": ("frontdesk", "admin"),
    "/staff/requests/{ref}/contact": ("frontdesk", "admin"),
    "/staff/requests/{ref}/status": ("frontdesk", "admin"),
    "/staff/requests/{ref}/note": ("frontdesk", "clinician", "admin"),
    "/staff/requests/{ref}/assign-to-me": ("frontdesk", "admin"),
    "/staff/requests/{ref}/callback": ("frontdesk", "admin"),
    "/staff/requests/{ref}/emergency": ("frontdesk", "admin"),
    "/staff/requests/{ref}/message": ("frontdesk", "admin"),
    "/staff/requests/{ref}/documents-link": ("frontdesk", "admin"),
    "/staff/requests/{ref}/documents/{doc}/review": ("frontdesk", "clinician", "admin"),
    "/staff/requests/{ref}/book": ("frontdesk", "admin"),
    "/staff/requests/{ref}/booking/cancel": ("frontdesk", "admin"),
    "/staff/requests/{ref}/booking-link": ("frontdesk", "admin"),
    "/staff/admin/schedule/locations": ("admin",),
    "/staff/admin/schedule/hours": ("admin",),
    "/staff/admin/schedule/exceptions": ("admin",),
    "/staff/admin/schedule/locations/1/close": ("admin",),
    "/staff/admin/schedule/locations/1/open": ("admin",),
    "/staff/admin/schedule/hours/1/remove": ("admin",),
    "/staff/admin/schedule/exceptions/1/remove": ("admin",),
    "/staff/admin/accounts": ("admin",),
    "/staff/admin/accounts/{other}/disable": ("admin",),
    "/staff/admin/accounts/{other}/enable": ("admin",),
    "/staff/admin/accounts/{other}/unlock": ("admin",),
    "/staff/admin/accounts/{other}/end-sessions": ("admin",),
}
GETS: dict[str, tuple[str, ...]] = {
    "/staff/requests.csv": ("frontdesk", "admin"),
    "/staff/requests.fhir.json": ("frontdesk", "admin"),
    "/staff/requests/{ref}/fhir.json": ("frontdesk", "admin"),
    "/staff/admin/audit": ("admin",),
    "/staff/admin/outbox": ("admin",),
    "/staff/messages": ("frontdesk", "clinician", "admin"),
    "/staff/admin/schedule": ("admin",),
    "/staff/day": ("frontdesk", "clinician", "admin"),
}


def _signed_in(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    login(client, make_staff(app, role))
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", sorted(POSTS))
def test_each_staff_post_is_refused_to_the_roles_not_in_the_table(app: Flask, role: str, path: str) -> None:
    reference, other = seed_request(app), make_staff(app, "frontdesk")
    client = _signed_in(app, role)
    token = csrf_token(client.get("/staff/requests").text)
    url = path.format(ref=reference, other=other["id"], doc=1)
    response = client.post(url, data={"csrf_token": token})
    if role in POSTS[path]:
        assert response.status_code != 403, (role, url)
    else:
        assert response.status_code == 403, (role, url)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", sorted(GETS))
def test_each_staff_download_and_admin_page_is_refused_to_the_roles_not_in_the_table(
    app: Flask, role: str, path: str
) -> None:
    reference = seed_request(app)
    client = _signed_in(app, role)
    response = client.get(path.format(ref=reference))
    assert (response.status_code == 200) == (role in GETS[path]), (role, path, response.status_code)
    if role not in GETS[path]:
        assert response.status_code == 403


def test_every_work_post_on_a_request_is_in_the_table(app: Flask) -> None:
    """A new POST on a request cannot slip in without its roles typed out above."""
    posts = {rule.rule.replace("<reference>", "{ref}").replace("<int:document_id>", "{doc}")
             for rule in app.url_map.iter_rules()
             if "POST" in (rule.methods or ()) and rule.rule.startswith("/staff/requests/<reference>/")}
    assert posts == {path for path in POSTS if path.startswith("/staff/requests/{ref}/")}
