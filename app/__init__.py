"""The MILD self-screen web application: ``create_app`` builds it in named steps."""

from __future__ import annotations

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

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(config_class or config_from_env())
    app.config.update(overrides)
    check_config(app)
    Path(app.instance_path).mkdir(exist_ok=True)
    app.extensions["clinic"] = Clinic.from_config(app.config)
    app.extensions["clinic_content"] = load_content(app.config.get("CLINIC_CONTENT_DIR"), ("en", "es"))
    if not app.extensions["clinic"].hours_es:
        app.logger.warning("CLINIC_HOURS_ES is not set: Spanish pages leave out the opening hours")
    if not app.config.get("ONCALL_EMAIL") and not app.testing:
        app.logger.warning("ONCALL_EMAIL is not set: nobody is alerted at once when a patient's answers are an "
                           "emergency; such requests wait at the top of the call list")
    configure_encryption(app)
    use_password_profile(str(app.config["PASSWORD_HASH_PROFILE"]))

    register_extensions(app)
    register_security(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_context(app)
    return app


def check_config(app: Flask) -> None:
    """Refuse to start without a secret key: it signs the session cookie and the CSRF tokens."""
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set; production has no default key")
    if app.config.get("MAIL_REQUIRE_SERVER") and app.config.get("MAIL_INTAKE_ADDRESS") and not app.config.get(
        "MAIL_SERVER"
    ):
        # Otherwise intake emails would only be written to the log and marked sent.
        raise RuntimeError("MAIL_SERVER must be set when MAIL_INTAKE_ADDRESS is set in production")
    if app.config.get("REQUIRE_REAL_KEYS") and app.config.get("PASSWORD_HASH_PROFILE") == "CHEAPEST":
        raise RuntimeError("PASSWORD_HASH_PROFILE=CHEAPEST is for tests only; unset it in production")
    workers = int(app.config.get("WEB_CONCURRENCY") or 1)
    if workers > 1 and str(app.config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://"):
        app.logger.warning(
            "RATELIMIT_STORAGE_URI is memory:// with WEB_CONCURRENCY=%d workers: each worker keeps its own "
            "counts, so every rate limit (patient posts, staff sign-in) is %d times what it says. "
            "Set RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 (see README, RATELIMIT_STORAGE_URI).", workers, workers)


def configure_encryption(app: Flask) -> None:
    """Install the data keys for the encrypted columns; production refuses the public development keys."""
    from app.security.crypto import Keyring, configure
    from config import DEV_DATA_KEYS, DEV_INDEX_KEY

    data_keys, index_key = app.config["DATA_ENCRYPTION_KEYS"], app.config["BLIND_INDEX_KEY"]
    if app.config.get("REQUIRE_REAL_KEYS"):
        if not data_keys or not index_key:
            raise RuntimeError("DATA_ENCRYPTION_KEYS and BLIND_INDEX_KEY must be set in production")
        if DEV_DATA_KEYS.split(":")[1] in data_keys or index_key == DEV_INDEX_KEY:
            raise RuntimeError("the development encryption keys must not be used in production")
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
    """SQLite: WAL, busy timeout, synchronous=FULL, foreign keys, BEGIN IMMEDIATE at the first write."""
    from app.extensions import db
    from app.platform.database import configure_sqlite

    with app.app_context():
        configure_sqlite(db.engine, busy_timeout=float(app.config.get("SQLITE_BUSY_TIMEOUT", 15)))


def register_blueprints(app: Flask) -> None:
    """Mount the patient questionnaire, the staff console, the health check and the public FHIR definition."""
    from app.public import bp as public_bp
    from app.staff import bp as staff_bp
    from app.web.fhir_routes import bp as fhir_bp
    from app.web.health import bp as health_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(fhir_bp)


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
    from werkzeug.exceptions import HTTPException

    from app.platform.i18n_marker import N_

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


def register_commands(app: Flask) -> None:
    """Add the ``flask screening``, ``flask drafts``, ``flask outbox`` and ``flask staff`` command groups."""
    from app.cli.export import export_cli
    from app.cli.keys import keys_cli
    from app.cli.maintenance import backup_command, purge_command
    from app.cli.staff import staff_cli
    from app.cli.tools import drafts_cli, outbox_cli, screening_cli

    app.cli.add_command(screening_cli)
    app.cli.add_command(drafts_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(purge_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(export_cli)


def register_template_context(app: Flask) -> None:
    """Make the clinic's details, and the signed-in member of staff, available to every template."""
    from flask_login import current_user

    @app.context_processor
    def inject_clinic() -> dict[str, object]:
        # current_user is Flask-Login's proxy: the user is loaded only when a (staff) template reads it.
        return {"clinic": app.extensions["clinic"], "clinic_content": app.extensions["clinic_content"],
                "current_user": current_user}
