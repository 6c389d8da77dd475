"""Test fixtures: one app and database per worker, wiped between tests.

TEST_DATABASE_URL selects the backend: unset means a SQLite file; a PostgreSQL URL
names a server database, and each xdist worker gets its own throwaway database there.
"""
import os
import re
import shutil
from contextlib import contextmanager

import pytest
from flask import current_app
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from app.models import Model
from app.models.audit import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL, GENESIS_HASH, AuditChain
from app.security import ROLE_DEFINITIONS, sync_permissions_and_roles, sync_roles

KEEP_TABLES = {
    "ab_permission", "ab_view_menu", "ab_permission_view", "ab_role",
    "ab_permission_view_role", "alembic_version", "counter", "audit_chain",
}
PASSWORD = "correct horse battery staple 42"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def _database_url(tmp_path_factory, worker):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url or url.startswith("sqlite"):
        return "sqlite:///" + str(tmp_path_factory.mktemp("db") / f"test-{worker}.db")
    base = sa.engine.make_url(url)
    name = f"{base.database}_{worker}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id):
    return _database_url(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    anchor_file = tmp_path_factory.mktemp("audit") / "audit-anchor.log"
    uploads = tmp_path_factory.mktemp("uploads")  # never the working tree's instance/uploads
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, AUDIT_ANCHOR_FILE=str(anchor_file),
                     UPLOAD_FOLDER=str(uploads))
    with app.app_context():
        upgrade()
        sync_permissions_and_roles(app.appbuilder)
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _app_context_and_cleanup(request, app):
    """Every test runs in an app context and leaves an empty database behind."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        wipe_database()
        open(app.config["AUDIT_ANCHOR_FILE"], "w").close()
        shutil.rmtree(app.config["UPLOAD_FOLDER"], ignore_errors=True)  # files go with their rows
        if request.node.get_closest_marker("changes_roles"):
            sync_roles(app.appbuilder.sm, prune=True)
            db.session.commit()


@contextmanager
def audit_triggers_lifted():
    """A transaction in which the append-only audit triggers do not fire (what someone with
    database access could do; tests own their throwaway database)."""
    with db.engine.begin() as conn:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for ddl in DROP_APPEND_ONLY_DDL[dialect]:
                conn.exec_driver_sql(ddl)
        yield conn
        if dialect != "postgresql":
            for ddl in APPEND_ONLY_DDL[dialect]:
                conn.exec_driver_sql(ddl)


def wipe_database():
    """Delete every row except roles and permissions."""
    with audit_triggers_lifted() as conn:
        for table in reversed(Model.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                conn.execute(table.delete())
        conn.execute(AuditChain.__table__.update().values(seq=0, head_hash=GENESIS_HASH))


ICD10_SAMPLES = {  # real codes (headers and billable ones) from two releases, in the CMS order file format
    "ICD-10-CM FY2025 sample": ("2024-10-01", "icd10cm_order_fy2025_sample.txt"),
    "ICD-10-CM FY2026 sample": ("2025-10-01", "icd10cm_order_fy2026_sample.txt"),  # adds E11.A
}


@pytest.fixture
def icd10_sets(app):
    """Two small ICD-10-CM code sets (a few dozen codes each: milliseconds, wiped like everything else)."""
    from datetime import date

    from app.services import icd10

    sets = {}
    for name, (effective, filename) in ICD10_SAMPLES.items():
        text = open(os.path.join(os.path.dirname(__file__), "data", filename), encoding="utf-8").read()
        rows, errors = icd10.parse_cms_order(text)
        assert not errors, errors
        sets[name] = icd10.load_code_set(db.session, rows, name=name, effective_from=date.fromisoformat(effective),
                                         source=filename)
    db.session.commit()
    return sets


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token_from(html):
    m = CSRF_RE.search(html)
    assert m, "page has no CSRF token"
    return m.group(1) or m.group(2)


def make_user(role, username=None, password=PASSWORD):
    sm = current_app.appbuilder.sm
    username = username or f"{role.lower()}1"
    user = sm.find_user(username=username)
    if user is None:
        user = sm.add_user(username, role, "Tester", f"{username}@clinic.test", sm.find_role(role), password=password)
        assert user, f"could not create {username}"
    return user


class Auth:
    """Log in and out through the real login form, remembering the CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, username, password=PASSWORD):
        page = self.client.get("/login/")
        token = csrf_token_from(page.get_data(as_text=True))
        resp = self.client.post("/login/", data={"username": username, "password": password, "csrf_token": token})
        self.token = token
        return resp

    def logout(self):
        return self.client.get("/logout/")


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def login_as(client, auth):
    """login_as("FrontDesk") creates a user with that role and logs the test client in."""

    def _login(role):
        user = make_user(role)
        resp = auth.login(user.username)
        assert resp.status_code == 302, "login failed"
        client.csrf_token = auth.token
        return user

    return _login


ALL_ROLES = ["Admin"] + list(ROLE_DEFINITIONS)


def pytest_configure(config):
    config.addinivalue_line("markers", "changes_roles: the test edits roles; re-sync them afterwards")
    config.addinivalue_line("markers", "browser: drives a real Chromium")
    config.addinivalue_line("markers", "translations: the catalogs must be complete (skipped only with "
                                       "CLINICDESK_SKIP_TRANSLATION_TESTS=1)")
    if not hasattr(config, "workerinput"):  # once, before any xdist worker starts
        _compile_catalogs_if_stale()


def _compile_catalogs_if_stale():
    """The .mo files are build output (scripts/setup compiles them); compile missing or stale ones."""
    from app.cli_i18n import compile_catalogs, stale_catalogs
    from config import Config

    if stale_catalogs(Config.TRANSLATIONS_DIR):
        compile_catalogs(Config.TRANSLATIONS_DIR)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CLINICDESK_SKIP_TRANSLATION_TESTS") == "1":
        skip = pytest.mark.skip(reason="CLINICDESK_SKIP_TRANSLATION_TESTS=1")
        for item in items:
            if item.get_closest_marker("translations"):
                item.add_marker(skip)
