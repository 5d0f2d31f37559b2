"""Flask extension objects, created unbound and bound to the app in ``create_app``."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base whose constraint names are predictable, so migrations can alter them."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True)  # batch mode: SQLite can only ALTER through table copies
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "staff.login"
login_manager.login_message = "Sign in to see that page."
login_manager.session_protection = "strong"  # a session cookie replayed from another browser is dropped
# Limits are declared per route and only on form posts (patient POSTs, staff sign-in); storage from
# RATELIMIT_STORAGE_URI.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
babel = Babel()  # bound in app/web/i18n.py with the locale selector
