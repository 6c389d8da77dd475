"""ClinicDesk application factory."""
import logging
import os

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import CONFIGS, INSTANCE_DIR

from .extensions import csrf, db, migrate
from . import i18n

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL for concurrent readers, enforced foreign keys, and a wait instead of 'database is locked'."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_app(config_name=None, **overrides):
    """Build the app: config, extensions, AppBuilder and views, CLI."""
    config_name = config_name or os.environ.get("CLINICDESK_ENV", "development")
    config_class = CONFIGS[config_name]
    if hasattr(config_class, "check"):
        config_class.check()
    app = Flask(__name__, instance_path=INSTANCE_DIR, instance_relative_config=False)
    app.config.from_object(config_class)
    app.config.update(overrides)
    os.makedirs(app.instance_path, exist_ok=True)
    logging.basicConfig(level=logging.INFO if not app.testing else logging.WARNING)
    logging.getLogger("flask_appbuilder").setLevel(logging.WARNING)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)

    from . import models  # noqa: F401  (complete metadata before AppBuilder touches it)
    from .services import audit, patients  # noqa: F401  (register the audit and search-key listeners)

    with app.app_context():
        appbuilder = i18n.ClinicAppBuilder()
        appbuilder.init_app(app, db.session)
        from .views import register_views

        register_views(appbuilder)
        i18n.init_app(app)

    _secure_http(app)

    from .cli import clinic_cli

    app.cli.add_command(clinic_cli)
    from .views.filters import register_template_filters

    register_template_filters(app)
    return app


CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    # FAB's templates carry style attributes; scripts stay nonce-only.
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _secure_http(app):
    """Security headers, HSTS behind TLS, and no caching of pages that show patient data."""
    from flask import request
    from flask_talisman import Talisman
    from werkzeug.middleware.proxy_fix import ProxyFix

    if app.config.get("BEHIND_PROXY"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    Talisman(
        app,
        content_security_policy=CSP,
        content_security_policy_nonce_in=["script-src"],
        force_https=app.config.get("FORCE_HTTPS", False),
        strict_transport_security=True,  # sent only on HTTPS requests
        strict_transport_security_max_age=31536000,
        frame_options="DENY",
        referrer_policy="same-origin",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
    )

    @app.errorhandler(FileNotFoundError)
    def _missing_file(exc):
        # FAB's generic download route sends files without checking they exist.
        from werkzeug.exceptions import NotFound

        return NotFound()

    @app.after_request
    def _no_store(response):
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
