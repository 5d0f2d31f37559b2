"""The baseline of the performance bench: the smallest Flask app, served by the same gunicorn configuration.

Every throughput figure of ``bench/perf.py`` is divided by this app's, measured in the same run on the same
machine, so the ratios compare across machines: they say how close a page comes to the framework's ceiling.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    """Hello, World!"""
    return "Hello, World!"
