"""The MILD self-screen web application: ``create_app`` builds it in named steps."""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from config import Config, config_from_env

if TYPE_CHECKING:  # Flask is imported when an app is built, so importing a core package never loads it
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_class: type[Config] | None = None, **overrides: object) -> Flask:
    """Build the application from a configuration class and optional overrides (used by tests)."""
    from flask import Flask

    from app.platform.clinic import Clinic
    from app.platform.clinic_content import load_content
    from app.security.accounts import use_password_profile

    config_class = config_class or config_from_env()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(overrides.get("INSTANCE_PATH") or config_class.INSTANCE_PATH),
    )
    app.config.from_object(config_class)
    app.config.update(overrides)
    check_config(app)
    # Owner only: the folder holds the development database, backups and lock files.
    Path(app.instance_path).mkdir(mode=0o700, parents=True, exist_ok=True)
    app.extensions["clinic"] = Clinic.from_config(app.config)
    app.extensions["clinic_content"] = load_content(app.config.get("CLINIC_CONTENT_DIR"), ("en", "es"))
    if not app.extensions["clinic"].hours_es:
        app.logger.warning("CLINIC_HOURS_ES is not set: Spanish pages leave out the opening hours")
    configure_encryption(app)
    use_password_profile(str(app.config["PASSWORD_HASH_PROFILE"]))

    from app.web.uploads import allow_document_uploads

    allow_document_uploads(app)  # before the extensions: the CSRF check reads the form
    register_extensions(app)
    register_security(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_context(app)
    return app


def check_config(app: Flask) -> None:
    """Refuse to start on a fatal setting (in production: every unsafe one); log the others as warnings."""
    from app.platform.settings_check import ConfigurationError, check_settings

    findings = check_settings(app.config, production=bool(app.config.get("REFUSE_UNSAFE_SETTINGS")))
    fatal = [finding for finding in findings if finding.fatal]
    if fatal:
        raise ConfigurationError(fatal)
    for finding in findings:
        app.logger.warning("%s", finding.message)
    if not app.config.get("ONCALL_EMAIL") and not app.testing:
        app.logger.warning("ONCALL_EMAIL is not set: nobody is alerted at once when a patient's answers are an "
                           "emergency; such requests wait at the top of the call list")


def configure_encryption(app: Flask) -> None:
    """Install the data keys for the encrypted columns."""
    from app.security.crypto import Keyring, configure
    from config import DEV_DATA_KEYS, DEV_INDEX_KEY

    # Production's keys were checked by check_config (missing or development keys refuse to start there).
    data_keys, index_key = app.config["DATA_ENCRYPTION_KEYS"], app.config["BLIND_INDEX_KEY"]
    keyring = Keyring.from_specs(data_keys or DEV_DATA_KEYS, index_key or DEV_INDEX_KEY)
    app.extensions["keyring"] = keyring
    configure(keyring)


def register_security(app: Flask) -> None:
    """Security headers, staff sessions held on the server, and rate limits."""
    from app.staff.sessions import init_staff_sessions
    from app.web.security import init_security

    init_security(app)
    init_staff_sessions(app)


def register_extensions(app: Flask) -> None:
    """Bind the extension objects to this app."""
    from app import models  # noqa: F401  (registers the tables on the metadata)
    from app.extensions import csrf, db, limiter, login_manager, migrate
    from app.security.log_privacy import redact_database_rows
    from app.web.i18n import init_i18n

    choose_engine_options(app)
    db.init_app(app)
    configure_database(app)
    redact_database_rows()  # SQLAlchemy's DEBUG log would show decrypted patient details
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    # Flask-Login's own context processor loads the user for every template, patient pages included: there
    # its "strong" session protection found no staff identity in the patient cookie, rewrote the cookie and
    # cleared a remember cookie on every page. register_template_context gives templates the lazy proxy.
    login_manager.init_app(app, add_context_processor=False)
    limiter.init_app(app)
    init_i18n(app)  # Flask-Babel: patient pages in English or Spanish


def choose_engine_options(app: Flask) -> None:
    """``pool_pre_ping`` on PostgreSQL (a restart or failover ends pooled connections), off on SQLite (nothing
    outside this process can end a connection to a file)."""
    from sqlalchemy import make_url

    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_pre_ping", make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "sqlite")
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def configure_database(app: Flask) -> None:
    """SQLite: WAL, busy timeout, synchronous=FULL, foreign keys, BEGIN IMMEDIATE at the first write.

    Before this process first opens a SQLite file it creates the file readable by its owner only (its -wal and
    -shm take the same mode) and takes a shared run lock that it keeps while it lives: `flask restore` refuses
    while any process has the database open. A command that never touches the database creates neither.
    """
    from app.extensions import db
    from app.platform.database import configure_sqlite
    from app.platform.restore import hold_run_lock

    guard = threading.Lock()

    def before_first_connection() -> None:
        with guard:
            if "run_lock" in app.extensions:
                return
            run_lock = hold_run_lock(app.config["SQLALCHEMY_DATABASE_URI"])
            app.extensions["run_lock"] = run_lock
            if run_lock is not None:
                weakref.finalize(app, os.close, run_lock)  # an app built and dropped (tests) lets go of its lock

    with app.app_context():
        configure_sqlite(db.engine, busy_timeout=float(app.config.get("SQLITE_BUSY_TIMEOUT", 15)),
                         before_first_connection=before_first_connection)


def register_blueprints(app: Flask) -> None:
    """Mount the patient questionnaire, the staff console, the health check and the public FHIR definition."""
    from app.public import bp as public_bp
    from app.staff import bp as staff_bp
    from app.web.fhir_routes import bp as fhir_bp
    from app.web.health import bp as health_bp
    from app.web.text_webhooks import bp as text_webhooks_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(fhir_bp)
    app.register_blueprint(text_webhooks_bp)


STAFF_TITLES = {400: "That could not be used", 403: "You do not have access", 404: "Page not found",
                405: "That did not work", 413: "What you sent was too long", 429: "Too many tries",
                500: "Something went wrong"}
STAFF_DETAILS = {400: "Go back, reload the page and try again.", 405: "Go back, reload the page and try again.",
                 413: "Shorten what you typed and try again.", 429: "Wait a few minutes, then try again.",
                 500: "Nothing you did caused this. Try again in a minute; if it keeps happening, tell an "
                      "administrator."}


def register_errorhandlers(app: Flask) -> None:
    """Friendly pages for HTTP errors; anything unexpected still gets a calm page, not a traceback."""
    from flask import render_template, request
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    from app.platform.i18n_marker import N_
    from app.security.crypto import KeyConfigError

    titles = {  # English message ids; error.html shows them in the patient's language
        400: N_("Sorry, we could not use what you sent"),
        404: N_("Page not found"),
        405: N_("Sorry, that did not work"),
        413: N_("What you sent was too long"),
        429: N_("Please wait a few minutes"),
        500: N_("Sorry, there is a problem with the service"),
    }
    default_title = N_("Sorry, there is a problem")

    def render_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        if code == 429 and request.endpoint == "public.request_check":  # too many requests sent: call instead
            return render_template("public/request_limit.html"), 429
        if request.path.startswith("/staff/"):  # staff keep their console: its bar, their name, a way back
            return render_template("staff/error.html", code=code, title=STAFF_TITLES.get(code, "Something went wrong"),
                                   detail=STAFF_DETAILS.get(code, "Go back and try again.")), code
        return render_template("error.html", code=code, titles=titles, default_title=default_title), code

    app.register_error_handler(HTTPException, render_error)

    def missing_key(error: KeyConfigError) -> tuple[str, int]:
        # A row under a key this server lacks (a restore, or a key dropped too early): say so, not "error".
        app.logger.error("a stored value needs an encryption key this server does not have (%s); flask check-config "
                         "lists the missing keys", error)
        if request.path.startswith("/staff/"):
            return render_template("staff/error.html", code=503, title="This record cannot be opened",
                                   detail="It is encrypted with a key this server does not have. Tell an "
                                          "administrator: `flask check-config` names the missing key."), 503
        return render_template("error.html", code=500, titles=titles, default_title=default_title), 503

    app.register_error_handler(KeyConfigError, missing_key)

    def refused_form(error: CSRFError) -> tuple[str, int]:
        # Why, for the operator (Flask-WTF's reason and the page; never the form's values); what to do, for the user.
        app.logger.warning("form refused on %s %s: %s", request.method, request.path, error.description)
        if request.path.startswith("/staff/"):
            return render_template("staff/error.html", code=400, title="That form had expired",
                                   detail="Nothing was changed. Reload the page to get a fresh form, then try "
                                          "again."), 400
        back = request.path if _has_get_route(app, request.path) else None
        return render_template("public/form_refused.html", back=back), 400

    app.register_error_handler(CSRFError, refused_form)


def _has_get_route(app: Flask, path: str) -> bool:
    """Whether ``path`` is also a page (so a refused form can send the patient back to it)."""
    from werkzeug.exceptions import HTTPException

    try:
        app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:
        return False
    return True


def register_commands(app: Flask) -> None:
    """Add the ``flask screening``, ``flask drafts``, ``flask outbox`` and ``flask staff`` command groups."""
    from app.cli.export import export_cli
    from app.cli.keys import keys_cli
    from app.cli.maintenance import backup_command, purge_command, restore_command
    from app.cli.settings import check_config_command, secret_key_command
    from app.cli.staff import staff_cli
    from app.cli.tools import drafts_cli, outbox_cli, screening_cli
    from app.cli.worker import worker_command

    app.cli.add_command(screening_cli)
    app.cli.add_command(drafts_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(purge_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(check_config_command)
    app.cli.add_command(secret_key_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(export_cli)


def register_template_context(app: Flask) -> None:
    """Make the clinic's details, and the signed-in member of staff, available to every template."""
    from flask_login import current_user

    from app.web.messenger import texting_on

    @app.context_processor
    def inject_clinic() -> dict[str, object]:
        # current_user is Flask-Login's proxy: the user is loaded only when a (staff) template reads it.
        return {"clinic": app.extensions["clinic"], "clinic_content": app.extensions["clinic_content"],
                "current_user": current_user, "texting": texting_on(app.config)}
