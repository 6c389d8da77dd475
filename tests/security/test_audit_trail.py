"""HIPAA audit trail: every access and change recorded, append-only, tamper-evident."""
import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Patient
from app.services import audit
from app.services import patients as patient_service
from tests.conftest import audit_triggers_lifted
from tests.factories import PatientFactory


def events(**filters):
    db.session.expire_all()
    return db.session.query(AuditEvent).filter_by(**filters).order_by(AuditEvent.seq).all()


def verify():
    with db.engine.connect() as conn:
        return audit.verify(conn, audit.read_anchors(audit.anchor_path()))


def tamper(sql, **params):
    """What an attacker with database access does: lift the triggers and edit rows."""
    with audit_triggers_lifted() as conn:
        conn.execute(sa.text(sql), params)


def test_opening_a_chart_is_recorded_with_user_and_path_but_no_query(client, login_as):
    user = login_as("FrontDesk")
    patient = PatientFactory()
    client.get(f"/patients/{patient.id}/chart?name=secret")
    (view,) = events(action="view", patient_id=patient.id)
    assert view.user_id == user.id and view.username == user.username
    assert view.path == f"/patients/{patient.id}/chart"
    assert "secret" not in (view.path + (view.details or ""))


def test_a_change_records_old_and_new_values(client, login_as):
    login_as("FrontDesk")
    patient = PatientFactory(email="old@example.org")
    patient_service.update_patient(db.session, patient, {"email": "new@example.org"}, expected_version=patient.version)
    (change,) = events(action="update", patient_id=patient.id)
    assert json.loads(change.details)["changes"] == {"email": ["old@example.org", "new@example.org"]}
    (create,) = events(action="create", patient_id=patient.id)
    assert json.loads(create.details)["changes"]["family_name"] == patient.family_name


def test_a_failed_change_leaves_no_change_record(app):
    patient = PatientFactory()
    before = len(events())
    with pytest.raises(patient_service.ValidationFailed):
        patient_service.update_patient(db.session, patient, {"email": "not-an-email"}, expected_version=patient.version)
    assert len(events()) == before


def test_logins_failures_and_logouts_are_recorded(client, auth, login_as):
    user = login_as("Billing")
    auth.logout()
    auth.login(user.username, "wrong password entirely")
    auth.login("nobody-here", "whatever password")
    actions = [(e.action, e.username) for e in events()]
    assert ("login", user.username) in actions
    assert ("logout", user.username) in actions
    assert ("login_failed", user.username) in actions
    assert ("login_failed", "nobody-here") in actions


@pytest.mark.changes_roles
def test_permission_changes_are_recorded(app):
    sm = app.appbuilder.sm
    role = sm.find_role("Billing")
    sm.add_permission_role(role, sm.find_permission_view_menu("can_write", "Patient"))
    (change,) = events(action="permission_change")
    details = json.loads(change.details)
    assert details["role"] == "Billing"
    assert details["permissions"]["added"] == ["can write on Patient"]


def test_merge_is_recorded_and_never_rewrites_the_trail(app):
    a, b = PatientFactory(), PatientFactory()
    audit.access(db.engine, patient_id=a.id)
    patient_service.merge(db.session, source_id=a.id, target_id=b.id)
    assert len(events(action="view", patient_id=a.id)) == 1  # still under the old patient
    (merge,) = events(action="merge")
    assert merge.patient_id == b.id and json.loads(merge.details)["merged"] == a.mrn


def test_the_database_refuses_updates_and_deletes_of_audit_rows(app):
    audit.access(db.engine, patient_id=1)
    for stmt in ("UPDATE audit_event SET username = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(sa.text(stmt))
    assert len(events()) == 1


def test_verify_finds_an_intact_chain_then_every_kind_of_tampering(app):
    for i in range(5):
        audit.access(db.engine, patient_id=i + 1)
    problems, last = verify()
    assert problems == [] and last == 5

    tamper("UPDATE audit_event SET username = 'someone-else' WHERE seq = 2")
    assert "row 2: content was altered" in verify()[0]


def test_verify_detects_a_removed_row(app):
    for i in range(4):
        audit.access(db.engine, patient_id=i + 1)
    tamper("DELETE FROM audit_event WHERE seq = 2")
    problems, _ = verify()
    assert "rows 2..2 are missing" in problems
    assert "row 3: does not follow the previous row" in problems


def test_verify_detects_rows_cut_off_the_end_through_the_anchor(app):
    for i in range(3):
        audit.access(db.engine, patient_id=i + 1)
    with db.engine.connect() as conn:
        audit.anchor_now(conn)
    # Cut the last row and rewind the head so the table looks consistent.
    tamper("DELETE FROM audit_event WHERE seq = 3")
    with db.engine.connect() as conn:
        prev = conn.execute(sa.text("SELECT hash FROM audit_event WHERE seq = 2")).scalar()
    tamper("UPDATE audit_chain SET seq = 2, head_hash = :h", h=prev)
    problems, _ = verify()
    assert "anchored row 3 is missing: rows were cut off the end" in problems


def test_anchor_is_written_every_n_events(app):
    app.config["AUDIT_ANCHOR_EVERY"] = 2
    try:
        for i in range(5):
            audit.access(db.engine, patient_id=i + 1)
    finally:
        app.config["AUDIT_ANCHOR_EVERY"] = 100
    assert [seq for seq, _ in audit.read_anchors(audit.anchor_path())] == [2, 4]
    assert verify()[0] == []


def test_audit_verify_command(app, runner):
    audit.access(db.engine, patient_id=1)
    result = runner.invoke(args=["clinic", "audit-verify"])
    assert result.exit_code == 0 and "intact" in result.output
    tamper("UPDATE audit_event SET action = 'nothing' WHERE seq = 1")
    result = runner.invoke(args=["clinic", "audit-verify"])
    assert result.exit_code == 1 and "row 1: content was altered" in result.output


def test_access_is_recorded_even_when_the_request_fails(client, login_as, monkeypatch):
    login_as("FrontDesk")
    patient = PatientFactory()
    import app.views.patients as views

    def boom(*a, **k):
        raise RuntimeError("template failure")

    monkeypatch.setattr(views.languages, "name", boom)
    client.application.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        resp = client.get(f"/patients/{patient.id}/chart")
    finally:
        client.application.config["PROPAGATE_EXCEPTIONS"] = None
    assert resp.status_code == 500
    assert len(events(action="view", patient_id=patient.id)) == 1
