"""Administration: staff accounts and the audit log (admins only). The audit log is read-only here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app.casework.audit import record
from app.casework.queue import filter_day, plain_id
from app.extensions import db
from app.models import AUDIT_ACTIONS, AuditEvent, ConsultationRequest, StaffUser, utcnow
from app.security.accounts import AccountError, create_staff, is_locked, set_active
from app.security.staff_sessions import end_sessions, live_session_counts
from app.security.two_factor import is_enabled
from app.staff import bp
from app.staff.access import ADMINISTER, client_ip, roles_required
from app.staff.forms import ROLE_LABELS, AccountActionForm, AccountForm
from app.staff.sessions import limits

AUDIT_PAGE_SIZE = 100


# --- accounts ---------------------------------------------------------------------------------------

def _accounts_page(form: AccountForm, status: int = 200) -> tuple[str, int]:
    people = db.session.scalars(select(StaffUser).order_by(StaffUser.active.desc(), StaffUser.name)).all()
    live = live_session_counts(db.session, utcnow(), limits())
    now = utcnow()
    return render_template("staff/accounts.html", form=form, people=people, roles=ROLE_LABELS, live=live,
                           two_factor=is_enabled, locked=lambda person: is_locked(person, now)), status


def _audit_account(action: str, user: StaffUser, now: datetime, **detail: object) -> None:
    record(db.session, action, now=now, staff_id=current_user.id, ip=client_ip(),
           target_type="staff_user", target_id=user.id, detail=dict(detail))


@bp.route("/admin/accounts", methods=["GET", "POST"])
@roles_required(*ADMINISTER)
def accounts() -> tuple[str, int] | Response:
    """Every account, and the form to add one; a refused account shows why, next to the form."""
    form = AccountForm()
    if not form.validate_on_submit():
        return _accounts_page(form, 400 if form.is_submitted() else 200)
    now = utcnow()
    try:
        user = create_staff(db.session, form.email.data or "", form.name.data or "", form.role.data or "",
                            form.password.data or "", now)
        db.session.flush()  # the new id for the audit row; a same-email race with another admin fails here
    except (AccountError, IntegrityError) as exc:
        db.session.rollback()
        message = str(exc) if isinstance(exc, AccountError) else "An account for that email already exists"
        form.form_errors.append(message)
        return _accounts_page(form, 400)
    _audit_account("account_create", user, now, role=user.role)
    db.session.commit()
    flash(f"Account created for {user.name} ({user.email}). Give them the first password in person.", "success")
    return redirect(url_for("staff.accounts"), code=303)


def _change_active(user_id: int, active: bool) -> Response:
    """Enable or disable one account and audit it in the same transaction; never one's own disable."""
    user = db.get_or_404(StaffUser, user_id)
    if not AccountActionForm().validate_on_submit():
        abort(400)
    if not active and user.id == current_user.id:
        flash("You cannot disable your own account. Ask another administrator if it needs to be disabled.", "error")
        return redirect(url_for("staff.accounts"), code=303)
    if user.active != active:
        now = utcnow()
        set_active(user, active, now)
        detail = {} if active else {"sessions_ended": end_sessions(db.session, user.id, "disabled", now)}
        _audit_account("account_enable" if active else "account_disable", user, now, **detail)
        db.session.commit()
    flash(f"{user.name} can {'now' if active else 'no longer'} sign in.", "success")
    return redirect(url_for("staff.accounts"), code=303)


@bp.post("/admin/accounts/<int:user_id>/disable")
@roles_required(*ADMINISTER)
def account_disable(user_id: int) -> Response:
    """Disable an account: it can no longer sign in, and a session it already has stops working."""
    return _change_active(user_id, active=False)


@bp.post("/admin/accounts/<int:user_id>/enable")
@roles_required(*ADMINISTER)
def account_enable(user_id: int) -> Response:
    """Enable a disabled account again."""
    return _change_active(user_id, active=True)


# --- the audit log ----------------------------------------------------------------------------------
# Plain helpers with no Flask in them, so they can move to app/casework/audit.py as they are.

@dataclass(frozen=True)
class AuditFilters:
    """What the audit log shows; every field round-trips through the query string."""

    staff: str = ""  # a staff id
    action: str = ""
    day_from: date | None = None  # clinic dates, both ends included
    day_to: date | None = None
    before: str = ""  # keyset cursor: rows with a smaller id
    errors: tuple[str, ...] = field(default=(), compare=False)

    def to_args(self, **changes: object) -> dict[str, str]:
        """Query-string arguments for these filters (with ``changes``), leaving out the blanks."""
        values = replace(self, **changes)  # type: ignore[arg-type]
        args = {"staff": values.staff, "action": values.action,
                "from": values.day_from.isoformat() if values.day_from else "",
                "to": values.day_to.isoformat() if values.day_to else "", "before": values.before}
        return {key: value for key, value in args.items() if value}


def parse_audit_filters(args: Mapping[str, str]) -> AuditFilters:
    """Read the filters; anything unusable is dropped with a message, never a 500."""
    errors: list[str] = []

    staff, action, before = args.get("staff", ""), args.get("action", ""), args.get("before", "")
    if staff and not plain_id(staff):
        errors.append("Unknown staff filter; showing everyone")
        staff = ""
    if action and action not in AUDIT_ACTIONS:
        errors.append("Unknown action filter; showing every action")
        action = ""
    if before and not plain_id(before):
        errors.append("That page link is out of date; showing the newest entries")
        before = ""
    return AuditFilters(staff=staff, action=action, day_from=filter_day(args.get("from", ""), "From", errors),
                        day_to=filter_day(args.get("to", ""), "To", errors), before=before, errors=tuple(errors))


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def audit_query(filters: AuditFilters, tz: ZoneInfo) -> Select[Any]:
    """Audit rows with their staff account, newest first, from the cursor on (without the page limit)."""
    query = select(AuditEvent, StaffUser).outerjoin(StaffUser, StaffUser.id == AuditEvent.staff_id)
    if filters.staff:
        query = query.where(AuditEvent.staff_id == int(filters.staff))
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.day_from:
        query = query.where(AuditEvent.at >= _day_start(filters.day_from, tz))
    if filters.day_to:
        query = query.where(AuditEvent.at < _day_start(filters.day_to + timedelta(days=1), tz))
    if filters.before:
        query = query.where(AuditEvent.id < int(filters.before))
    return query.order_by(AuditEvent.id.desc())


def request_references(session: Session, events: list[AuditEvent]) -> dict[str, str]:
    """{target_id: reference} for the consultation requests these rows point at (one query)."""
    ids = {int(e.target_id) for e in events
           if e.target_type == "consultation_request" and e.target_id and e.target_id.isdigit()}
    if not ids:
        return {}
    found = session.execute(select(ConsultationRequest.id, ConsultationRequest.reference)
                               .where(ConsultationRequest.id.in_(ids)))
    return {str(row_id): reference for row_id, reference in found}


@bp.get("/admin/system")
@roles_required(*ADMINISTER)
def system() -> str:
    """The readiness checks in words, and the newest verified backup (when, which file, how big)."""
    from app.platform.readiness import last_backup
    from app.web.health import collect_readiness

    result = collect_readiness(current_app._get_current_object())  # type: ignore[attr-defined]
    newest = last_backup(db.session)
    record(db.session, "view_system", now=utcnow(), staff_id=current_user.id, ip=client_ip())
    db.session.commit()
    return render_template("staff/system.html", result=result, backup=newest, now=utcnow())


AUDIT_FILTER_ARGS = ("action", "staff", "from", "to", "before")  # what the audit row of a view keeps


@bp.get("/admin/audit")
@roles_required(*ADMINISTER)
def audit_log() -> str:
    """Who did what, newest first, 100 to a page; filters in the query string. Nothing here changes a row."""
    filters = parse_audit_filters(request.args)
    tz = current_app.extensions["clinic"].timezone
    rows = db.session.execute(audit_query(filters, tz).limit(AUDIT_PAGE_SIZE + 1)).tuples().all()
    more, rows = len(rows) > AUDIT_PAGE_SIZE, rows[:AUDIT_PAGE_SIZE]
    people = db.session.scalars(select(StaffUser).order_by(StaffUser.name)).all()
    # Reading the log (who looked at which request) is recorded too, after the rows are read: the page shows
    # the log as it stood when opened, and this row from the next view on.
    record(db.session, "view_audit", now=utcnow(), staff_id=current_user.id, ip=client_ip(),
           detail={key: value[:40] for key, value in request.args.items() if key in AUDIT_FILTER_ARGS})
    db.session.commit()
    return render_template(
        "staff/audit.html", rows=rows, filters=filters, actions=AUDIT_ACTIONS, people=people,
        names={str(person.id): person.name for person in people},
        next_before=str(rows[-1][0].id) if more else None,
        references=request_references(db.session, [event for event, _ in rows]),
        # The request page is built separately; until it exists, references are shown without a link.
        link_requests="staff.request_detail" in current_app.view_functions,
    )
