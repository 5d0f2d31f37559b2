"""Administration: staff accounts and the audit log (admins only)."""

from __future__ import annotations

from app.staff import bp
from app.staff.access import ADMINISTER, roles_required


@bp.get("/admin/accounts")
@roles_required(*ADMINISTER)
def accounts() -> str:
    """Placeholder until the accounts page is built."""
    return "accounts"


@bp.get("/admin/audit")
@roles_required(*ADMINISTER)
def audit_log() -> str:
    """Placeholder until the audit log page is built."""
    return "audit"
