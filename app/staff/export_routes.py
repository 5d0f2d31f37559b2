"""CSV export of the filtered queue."""

from __future__ import annotations

from app.staff import bp
from app.staff.access import EXPORT, roles_required


@bp.get("/requests.csv")
@roles_required(*EXPORT)
def export_csv() -> str:
    """Placeholder until the export is built."""
    return "export"
