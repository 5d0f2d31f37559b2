"""Two-factor sign-in: each member of staff sets it up for themselves; an admin can reset it."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.casework.audit import record
from app.extensions import db
from app.models import ROLES, StaffUser, utcnow
from app.security.staff_sessions import end_sessions
from app.security.two_factor import (
    enable,
    enrolment_secret,
    grouped,
    is_enabled,
    provisioning_uri,
    qr_svg,
    reset,
    unused_recovery_codes,
)
from app.staff import bp
from app.staff.access import ADMINISTER, client_ip, roles_required
from app.staff.forms import AccountActionForm, EnrolForm

ENROL_REFUSED = "That code is not right. Check the app shows this account, then enter the code it shows now."


@bp.route("/account/two-factor", methods=["GET", "POST"])
@roles_required(*ROLES)
def two_factor() -> str | tuple[str, int]:
    """Set up two-factor sign-in: a QR code (and the key as text); a valid code turns it on and shows recovery codes."""
    user: StaffUser = current_user._get_current_object()
    if is_enabled(user):
        return render_template("staff/two_factor.html", enabled=True,
                               recovery_left=unused_recovery_codes(db.session, user))
    secret = enrolment_secret(user)  # the same secret until it is confirmed, so a reload keeps the QR code
    form = EnrolForm()
    if form.validate_on_submit():
        now = utcnow()
        codes = enable(db.session, user, form.code.data or "", now)
        if codes is not None:
            record(db.session, "two_factor_enabled", now=now, staff_id=user.id, ip=client_ip(),
                   target_type="staff_user", target_id=user.id)
            db.session.commit()
            return render_template("staff/recovery_codes.html", codes=codes)  # shown this once, never stored
        form.code.errors.append(ENROL_REFUSED)
    db.session.commit()  # the enrolment secret
    uri = provisioning_uri(secret, user.email, current_app.extensions["clinic"].name)
    # Safe markup: segno draws the address as path geometry; the only text in the SVG is our fixed title.
    qr = Markup(qr_svg(uri))  # noqa: S704
    page = render_template("staff/two_factor.html", enabled=False, form=form, qr=qr, secret=grouped(secret))
    return (page, 400) if form.is_submitted() else page


@bp.post("/admin/accounts/<int:user_id>/reset-two-factor")
@roles_required(*ADMINISTER)
def account_reset_two_factor(user_id: int) -> Response:
    """Turn someone's two-factor sign-in off (a lost phone); their sessions end, and they set it up again."""
    user = db.get_or_404(StaffUser, user_id)
    if not AccountActionForm().validate_on_submit():
        abort(400)
    if user.id == current_user.id:
        flash("You cannot reset your own two-factor sign-in. Ask another administrator.", "error")
        return redirect(url_for("staff.accounts"), code=303)
    now = utcnow()
    reset(db.session, user, now)
    ended = end_sessions(db.session, user.id, "admin", now)
    record(db.session, "two_factor_reset", now=now, staff_id=current_user.id, ip=client_ip(),
           target_type="staff_user", target_id=user.id, detail={"sessions": ended})
    db.session.commit()
    flash(f"Two-factor sign-in is off for {user.name}. They sign in with their password and set it up again.",
          "success")
    return redirect(url_for("staff.accounts"), code=303)
