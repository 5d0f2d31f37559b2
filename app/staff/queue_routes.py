"""The work queue page."""

from __future__ import annotations

from app.staff import bp
from app.staff.access import READ_REQUESTS, roles_required


@bp.get("/requests")
@roles_required(*READ_REQUESTS)
def queue() -> str:
    """Placeholder."""
    return "queue"
