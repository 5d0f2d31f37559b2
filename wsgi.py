"""Entry point for ``flask --app wsgi`` and for gunicorn (``wsgi:app``).

With unsafe settings the web server refuses to start (``ConfigurationError``, one line per problem); the
``flask`` command instead gets an app with only the tools that fix settings (app/cli/settings.py).
"""

import click

from app import create_app
from app.platform.settings_check import ConfigurationError

try:
    app = create_app()
except ConfigurationError as error:
    if click.get_current_context(silent=True) is None:  # not the flask command: a server, or a plain import
        raise
    from app.cli.settings import settings_app

    app = settings_app(error)
