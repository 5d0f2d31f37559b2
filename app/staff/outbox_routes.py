"""The email outbox, for admins: what was sent, what is waiting, what failed."""

from __future__ import annotations

from app.staff import bp
from app.staff.access import ADMINISTER, roles_required


@bp.get("/admin/outbox")
@roles_required(*ADMINISTER)
def outbox() -> str:
    """Placeholder until the outbox page is built."""
    return "outbox"
