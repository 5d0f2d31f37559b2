"""A pooled PostgreSQL connection checked for life without a round trip to the server.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` on every checkout; with psycopg (not in autocommit) that is
a ``BEGIN`` and a ``SELECT 1``, two round trips before each request's first query, and the server's share of
a questionnaire page view was mostly those (bench/cpu_split.py). What the ping is for here is a connection
the server has ended: a restart, a failover, ``pg_terminate_backend``, an idle timeout. In each case the
server closes the socket (after a FATAL message), so the idle connection's socket turns readable: it has
data or end-of-file waiting, which an idle connection between queries never has. A zero-timeout ``poll``
of the socket sees that in microseconds, without a round trip.

SQLAlchemy's own hook for this is the pool's ``checkout`` event: raising ``DisconnectionError`` there makes
the pool discard that connection and take a fresh one, the same recovery as a failed pre-ping ("Disconnect
Handling - Pessimistic" in its pooling documentation). A connection with anything waiting is discarded even
when the waiting message is harmless (an asynchronous notice): a reconnect is cheaper than reading it.

What it does not see, and the ping would not either in time: a server that vanished without closing the
socket (host down, network cut); the statement then fails as it would have after a ping hanging for TCP's
timeout. No Flask import.
"""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import Engine, event, make_url
from sqlalchemy.exc import DisconnectionError

# Anything waiting to read, the peer's hang-up, or an error on the socket.
_NOT_IDLE = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR | select.POLLNVAL


def connection_looks_ended(dbapi_connection: Any) -> bool:
    """Whether an idle psycopg connection has been ended by the server (or by the driver) while in the pool."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    poller = select.poll()
    try:
        poller.register(dbapi_connection.pgconn.socket, _NOT_IDLE)
    except Exception:  # no usable socket (libpq says the connection is bad): as good as ended
        return True
    return bool(poller.poll(0))


def _check_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if connection_looks_ended(dbapi_connection):
        raise DisconnectionError("the server ended this pooled connection")


def install_liveness_check(engine: Engine) -> bool:
    """Check each connection ``engine``'s pool hands out, if it is psycopg's; return whether it was installed.

    The engine is then created without ``pool_pre_ping`` (``engine_options``), which this replaces.
    """
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return False
    event.listen(engine, "checkout", _check_on_checkout)
    return True


def engine_options(database_url: str, options: dict[str, object]) -> dict[str, object]:
    """The engine ``options`` for ``database_url``, without ``pool_pre_ping`` where it serves nothing.

    psycopg: the socket check replaces it. SQLite: a connection is a handle on a file in this process, which
    nothing outside can end, so its ``SELECT 1`` never fails (about 0.6% of a step POST's samples under wrk).
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" or (
        url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg"
    ):
        return {**options, "pool_pre_ping": False}
    return options
