"""The anonymous daily count of emergency screens (spec section 3, E1): a day and a number, nothing else."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from app.models import EmergencyScreenCount
from app.platform.database import dialect_insert


def count_emergency_screen(session: Session, day: date) -> None:
    """Add one emergency screen to ``day`` (a day in the clinic's time zone), in the caller's transaction.

    One statement that adds the day or counts it up, so two patients at once never lose a count.
    """
    insert = dialect_insert(session)(EmergencyScreenCount).values(day=day, count=1)
    session.execute(insert.on_conflict_do_update(index_elements=[EmergencyScreenCount.day],
                                                 set_={"count": EmergencyScreenCount.count + 1}))
