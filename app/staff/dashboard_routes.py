"""The clinic dashboard: weekly numbers for the last 12 weeks and for a chosen date range. Aggregates only."""

from __future__ import annotations

from flask import current_app, render_template, request

from app.casework.dashboard import collect, parse_range, period, recent_weeks
from app.casework.dashboard_page import range_figures, weekly_figures
from app.extensions import db
from app.models import utcnow
from app.staff import bp
from app.staff.access import VIEW_DASHBOARD, roles_required


@bp.get("/dashboard")
@roles_required(*VIEW_DASHBOARD)
def dashboard() -> tuple[str, int]:
    """Screenings, requests, categories, waits and statuses; a bad date range is explained, never a 500."""
    tz = current_app.extensions["clinic"].timezone
    today = utcnow().astimezone(tz).date()
    weeks = recent_weeks(today, tz)
    chosen = parse_range(request.args, weeks[0].first_day, today)
    [in_range] = collect(db.session, [period(chosen.first_day, chosen.last_day, tz)])
    key_figures, range_charts = range_figures(in_range)
    page = render_template("staff/dashboard.html", weekly=weekly_figures(collect(db.session, weeks)),
                           chosen=chosen, key_figures=key_figures, range_charts=range_charts, weeks=weeks)
    return page, 400 if chosen.errors else 200
