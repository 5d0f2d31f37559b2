"""CSV export of the filtered queue."""

from __future__ import annotations

from flask import Response as FlaskResponse
from flask import current_app, flash, redirect, request, stream_with_context, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.casework.audit import record
from app.casework.queue import QueueFilters, build_query, parse_filters
from app.exports.csv_export import export_filename, stream_csv
from app.exports.rows import audit_detail
from app.extensions import db
from app.models import utcnow
from app.staff import bp
from app.staff.access import EXPORT, client_ip, from_this_site, roles_required
from app.staff.queue_routes import stored_search

# The queue's filters, the search by the id its text is kept under in the session (app/staff/queue_routes.py).
# Its page cursor ("after") is left out: an export is the whole filtered queue, not the page someone happened
# to be looking at. "q" is read only so that search text in the URL (an old link) is refused, not ignored.
FILTER_ARGS = ("status", "view", "category", "assignee", "from", "to", "search", "q")


def export_filters() -> QueueFilters | Response:
    """The queue's filters for an export, or a redirect to the queue when one of them cannot be used."""
    args = {key: value for key, value in request.args.items() if key in FILTER_ARGS}
    filters = parse_filters(args, stored_search)
    if filters.errors:  # the queue drops an unusable filter; an export would then hold more than was asked for
        flash("Nothing was exported because a filter could not be used. Check the filters and export again.", "error")
        args.pop("q", None)  # never carry search text into another URL
        return redirect(url_for("staff.queue", **args), code=303)  # the queue explains each bad filter
    return filters


@bp.get("/requests.csv")
@roles_required(*EXPORT)
@from_this_site
def export_csv() -> Response:
    """Every request matching the queue's filters, streamed as CSV; audited before the first byte."""
    filters = export_filters()
    if not isinstance(filters, QueueFilters):
        return filters
    clinic = current_app.extensions["clinic"]
    now = utcnow()
    query = build_query(filters, staff_id=current_user.id, tz=clinic.timezone, region=clinic.phone_region,
                        now=now, overdue_before=clinic.overdue_cutoff(now))
    record(db.session, "export", now=now, staff_id=current_user.id, ip=client_ip(), detail=audit_detail(filters))
    db.session.commit()  # before streaming: an abandoned or failed download is still on record
    return FlaskResponse(
        stream_with_context(stream_csv(db.session, query, clinic.timezone)),
        mimetype="text/csv",  # Flask adds "; charset=utf-8"
        headers={
            "Content-Disposition": f'attachment; filename="{export_filename(now, clinic.timezone)}"',
            "Cache-Control": "no-store",  # patient data: never kept by the browser or a proxy
            "X-Content-Type-Options": "nosniff",
        },
    )
