"""HTTP security: response headers and rate limits on patient POSTs (filled in by issue 4 work)."""

from __future__ import annotations

from flask import Flask


def init_security(app: Flask) -> None:
    """Register the security headers and limits on ``app``."""
