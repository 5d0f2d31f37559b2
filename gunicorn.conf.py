"""Gunicorn settings for ``make serve`` (production serving); every value here is deliberate.

Run as ``gunicorn --config gunicorn.conf.py`` (the Makefile does, after migrating; deploy/mild-web.service in
production). The app reads its own configuration (``FLASK_CONFIG``, ``SECRET_KEY``, ``DATABASE_URL`` ...) from the
environment, or from the settings file named by ``MILD_ENV_FILE``.

Upgrades and changed settings take effect with a graceful reload (``kill -HUP`` the master, ``systemctl reload
mild-web``): new workers load the app, re-reading the settings file, while the old ones finish the requests
they have. That is why the master never imports the app (``preload_app`` is off): a worker forked from a master
that had imported it would keep the old code and settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

if os.environ.get("MILD_ENV_FILE", "").strip():  # the same file the app reads: WEB_CONCURRENCY, PORT
    from dotenv import load_dotenv

    load_dotenv(os.environ["MILD_ENV_FILE"].strip(), override=True, interpolate=False)

wsgi_app = "wsgi:app"

# Sync workers, one request each: the app is short database work, and processes keep one worker's
# crash or memory from touching another. WEB_CONCURRENCY is the usual variable for this.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Loopback only: TLS and the public address belong to the reverse proxy in front.
bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"

# A request that takes longer than this is stuck (SQLite's busy timeout is 15 s): the worker is replaced.
# A long download that keeps sending (the CSV export of years of requests) is not stuck: post_fork wraps the
# app so that each chunk it sends resets this timer (at most once a second). A stream that stops sending for
# 30 s is still killed.
timeout = 30
# On restart, requests in flight (a patient's submission) get this long to finish.
graceful_timeout = 30
# Seconds an idle keep-alive connection from the proxy is held (used by the async worker types).
keepalive = 5

# Access log: time, method, path, status, bytes, duration. The path only (%(U)s): never the request
# line (%(r)s) or query string (%(q)s), which can carry identifiers; no client address, referrer or
# user agent either (an IP address is a HIPAA identifier, and a referrer holds a full URL).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'

# Proxy headers are the app's business alone: app/web/security.py trusts X-Forwarded-For/-Proto/-Host from
# exactly TRUSTED_PROXY_COUNT proxies (ProxyFix). Gunicorn would otherwise also honour X-Forwarded-Proto
# and friends from 127.0.0.1, or from whatever the FORWARDED_ALLOW_IPS variable says, which would mark
# requests as HTTPS even with TRUSTED_PROXY_COUNT=0. Set here, in the checked-in file, so the
# environment cannot switch it on.
forwarded_allow_ips = ""  # no address: gunicorn trusts no proxy header itself
secure_scheme_headers: dict[str, str] = {}

# Gunicorn's control socket (one fixed path under $HOME) is not used; two servers would fight over it.
control_socket_disable = True

# The app is loaded by each worker, never by the master (see above); no database connection crosses a fork.
preload_app = False


def _refuse_unsafe_settings() -> None:
    """Check the settings in a process of its own; an unsafe one stops gunicorn with the list of what to fix.

    A RuntimeError from a server hook is what gunicorn prints as one "Error:" and exits 1 on; without this,
    every worker would fail to boot with a traceback.
    """
    completed = subprocess.run([sys.executable, "-m", "app.platform.settings_check"],
                               capture_output=True, text=True, check=False, cwd=os.path.dirname(__file__))
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr.strip() or f"the settings check failed (exit {completed.returncode})")


def on_starting(server: Any) -> None:
    """Before the master starts: refuse unsafe settings."""
    _refuse_unsafe_settings()


def on_reload(server: Any) -> None:
    """On a graceful reload (HUP): re-read the settings file for the master's own values, and check them.

    If the new settings are unsafe the reload goes on with them anyway (gunicorn cannot cancel it) and the new
    workers refuse to boot; the check here puts the reason in the log first. Run `flask check-config` before a
    reload.
    """
    try:
        _refuse_unsafe_settings()
    except RuntimeError as error:
        server.log.error("%s", error)


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker: wrap this worker's app so a streamed response tells the master it is alive.

    Then look for rows under keys this server lacks, in the background, so a wrong DATA_ENCRYPTION_KEYS is in the
    log at start rather than at the first staff page.
    """
    worker.app.callable = StreamHeartbeat(worker.app.wsgi(), worker.notify)
    from app.web.health import scan_keys_soon
    from wsgi import app  # loaded just above by worker.app.wsgi()

    scan_keys_soon(app)


class StreamHeartbeat:
    """WSGI middleware: while a response body is being sent, call ``notify`` (the worker's heartbeat).

    A sync worker only signals the master between requests, so any response longer than ``timeout`` (a
    million-row CSV export takes minutes) was killed halfway. Bodies that are a list, or a file sent by
    sendfile, pass through untouched.
    """

    def __init__(self, app: Any, notify: Any, every: float = 1.0) -> None:
        self.app, self.notify, self.every = app, notify, every

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = self.app(environ, start_response)
        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(body, list | tuple) or (wrapper is not None and isinstance(body, wrapper)):
            return body
        return _Beating(body, self.notify, self.every)


class _Beating:
    """A response body that calls ``notify`` at most every ``every`` seconds while it is iterated."""

    def __init__(self, body: Any, notify: Any, every: float) -> None:
        self.body, self.notify, self.every = body, notify, every

    def __iter__(self) -> Any:
        import time

        last = time.monotonic()
        for chunk in self.body:
            if time.monotonic() - last >= self.every:
                self.notify()
                last = time.monotonic()
            yield chunk

    def close(self) -> None:
        """Close the wrapped body (Flask's teardown runs from there)."""
        close = getattr(self.body, "close", None)
        if close is not None:
            close()
