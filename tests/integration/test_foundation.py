"""The base every capability stands on: schema, roles, config, CSRF, index page."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from app.extensions import db
from app.models import Model
from app.models.base import include_object
from app.security import ROLE_DEFINITIONS, role_permissions


def test_migrations_give_the_same_schema_as_the_models(app):
    """The test database was built by `upgrade` alone; Alembic finds nothing to change."""
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": False,
            "include_object": include_object(conn.dialect.name)})
        diff = compare_metadata(ctx, Model.metadata)
    assert diff == []


def test_fab_does_not_create_tables_itself(app):
    assert app.config["FAB_CREATE_DB"] is False


def test_every_role_exists_with_exactly_its_code_permissions(app):
    sm = app.appbuilder.sm
    for name in ROLE_DEFINITIONS:
        role = sm.find_role(name)
        have = {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}
        assert have == role_permissions(name), name


@pytest.mark.changes_roles
def test_sync_roles_check_reports_drift_and_sync_repairs_it(app, runner):
    sm = app.appbuilder.sm
    role = sm.find_role("FrontDesk")
    sm.del_permission_role(role, sm.find_permission_view_menu("can_write", "Patient"))
    sm.add_permission_role(role, sm.find_permission_view_menu("can_merge", "Patient"))
    db.session.commit()
    result = runner.invoke(args=["clinic", "sync-roles", "--check"])
    assert result.exit_code == 1
    assert "FrontDesk: missing can_write on Patient" in result.output
    assert "FrontDesk: extra can_merge on Patient" in result.output
    # A plain sync adds what is missing and keeps what an admin added...
    assert runner.invoke(args=["clinic", "sync-roles"]).exit_code == 0
    result = runner.invoke(args=["clinic", "sync-roles", "--check"])
    assert result.exit_code == 1 and "missing" not in result.output
    # ...and --prune makes the role match the code again.
    assert runner.invoke(args=["clinic", "sync-roles", "--prune"]).exit_code == 0
    result = runner.invoke(args=["clinic", "sync-roles", "--check"])
    assert result.exit_code == 0, result.output


def test_production_refuses_to_start_without_a_real_secret(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_state_changes_without_csrf_token_are_refused(client, login_as):
    login_as("FrontDesk")
    resp = client.post("/patients/register", data={"family_name": "X", "given_name": "Y", "birth_date": "1/1/1990"})
    assert resp.status_code in (200, 400)
    from app.models import Patient

    assert db.session.query(Patient).count() == 0


def test_user_statistics_chart_is_not_registered(app):
    names = {type(v).__name__ for v in app.appbuilder.baseviews}
    assert "UserStatsChartView" not in names
    assert not any(r.rule.startswith("/userstatschartview") for r in app.url_map.iter_rules())


def test_anonymous_users_are_sent_to_login(client):
    resp = client.get("/patients/find")
    assert resp.status_code == 302 and "/login/" in resp.headers["Location"]


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_readme_shows_the_current_role_matrix():
    import os

    from app.security import permission_matrix_markdown

    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md"), encoding="utf-8").read()
    block = readme.split("<!-- roles-matrix -->")[1].split("<!-- /roles-matrix -->")[0].strip()
    assert block == permission_matrix_markdown(), "README role matrix is stale: run `flask clinic roles-matrix`"


def test_every_reference_to_a_patient_is_indexed():
    """Merges update and charts read by each patient reference: none may scan its table."""
    from app.services.patients import _patient_references

    unindexed = []
    for table, column in _patient_references():
        leading = {idx.columns[0].name for idx in table.indexes}
        leading |= {c.columns[0].name for c in table.constraints if hasattr(c, "columns") and len(c.columns) and
                    c.__class__.__name__ in ("PrimaryKeyConstraint", "UniqueConstraint")}
        if column.name not in leading:
            unindexed.append(f"{table.name}.{column.name}")
    assert unindexed == []
