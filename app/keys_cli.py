"""``flask keys``: manage the data encryption keys (filled in by issue 4 work)."""

from __future__ import annotations

from flask.cli import AppGroup

keys_cli = AppGroup("keys", help="Data encryption keys.")
