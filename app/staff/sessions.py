"""Staff sessions held on the server (filled in by issue 4 work)."""

from __future__ import annotations

from flask import Flask


def init_staff_sessions(app: Flask) -> None:
    """Set up the staff session cookie and server-side session checks on ``app``."""
