"""Upgrading a SQLite database that holds data keeps every row (batch table rebuilds)."""
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app


def test_sqlite_upgrade_keeps_child_rows_when_a_parent_table_is_rebuilt(tmp_path):
    url = "sqlite:///" + str(tmp_path / "old.db")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, AUDIT_ANCHOR_FILE=str(tmp_path / "a.log"))
    with app.app_context():
        upgrade(revision="0003")
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO patient (id, mrn, family_name, given_name, birth_date, sex, preferred_language,"
                " interpreter_needed, consent_voicemail, consent_sms, consent_email, guarantor_relationship,"
                " status, name_search, version, created_on, changed_on)"
                " VALUES (1, '10000009', 'Garcia', 'Ana', '1980-03-04', 'female', 'es', 0, 0, 0, 0, 'self',"
                " 'active', 'garcia ana', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
            conn.exec_driver_sql("INSERT INTO patient_search_term (patient_id, term) VALUES (1, 'garcia'), (1, 'ana')")
        upgrade()  # 0004 rebuilds the patient table on SQLite
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM patient_search_term").scalar() == 2
            assert conn.exec_driver_sql("SELECT restricted FROM patient").scalar() == 0
        downgrade(revision="0003")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM patient_search_term").scalar() == 2
        engine.dispose()
