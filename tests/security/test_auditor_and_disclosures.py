"""The privacy officer's tools: audit trail filters and exports; accounting of disclosures."""
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from app.extensions import db
from app.models import AuditEvent, Disclosure
from app.services import audit, disclosures
from app.services import patients as patient_service
from tests.factories import PatientFactory


def pdf_text(data, tmp_path):
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_auditor_filters_by_patient_and_exports_csv_and_pdf(client, login_as, tmp_path):
    a, b = PatientFactory(family_name="Alpha"), PatientFactory(family_name="Beta")
    audit.access(db.engine, patient_id=a.id)
    audit.access(db.engine, patient_id=b.id)
    login_as("Auditor")
    form = {"mrn": a.mrn, "csrf_token": client.csrf_token, "format": "html"}
    html = client.post("/audit/", data=form).get_data(as_text=True)
    assert a.mrn in html and b.mrn not in html
    csv_resp = client.post("/audit/", data=dict(form, format="csv"))
    assert csv_resp.mimetype == "text/csv"
    body = csv_resp.data.decode("utf-8")
    assert body.startswith("\ufeff") and a.mrn in body and b.mrn not in body
    pdf_resp = client.post("/audit/", data=dict(form, format="pdf"))
    assert pdf_resp.mimetype == "application/pdf"
    text = pdf_text(pdf_resp.data, tmp_path)
    assert "Audit trail" in text and a.mrn in text and "auditor1" in text
    assert db.session.query(AuditEvent).filter_by(action="export").count() == 2


def test_audit_filter_rejects_bad_dates_and_unknown_mrn(client, login_as):
    login_as("Auditor")
    html = client.post("/audit/", data={"mrn": "99999999", "start": "2/30/2026", "csrf_token": client.csrf_token}).get_data(as_text=True)
    assert "No patient has this MRN" in html and "Not a valid date" in html
    html = client.post("/audit/", data={"start": "3/2/2026", "end": "3/1/2026", "csrf_token": client.csrf_token}).get_data(as_text=True)
    assert "The end date is before the start date" in html


def test_front_desk_cannot_read_the_audit_trail_and_auditor_cannot_open_charts(client, login_as, auth):
    patient = PatientFactory()
    login_as("FrontDesk")
    assert client.get("/audit/").status_code == 403
    auth.logout()
    login_as("Auditor")
    assert client.get("/audit/").status_code == 200
    assert client.get(f"/patients/{patient.id}/chart").status_code == 403


def test_disclosure_recorded_listed_and_printed_for_six_years(client, login_as, tmp_path):
    login_as("FrontDesk")
    patient = PatientFactory(family_name="Nguyen", given_name="An", preferred_language="vi")
    resp = client.post(f"/disclosures/{patient.id}/new", data={
        "recipient": "Springfield Insurance Co.", "purpose": "Payment", "description": "Visit notes March 2026",
        "disclosed_on": "3/2/2026", "csrf_token": client.csrf_token})
    assert resp.status_code == 302
    old = Disclosure(patient_id=patient.id, recipient="Ancient Lawyer", description="Records", purpose="Legal",
                     disclosed_on=datetime.now(timezone.utc) - timedelta(days=365 * 7), created_on=datetime.now(timezone.utc))
    db.session.add(old)
    db.session.commit()
    chart = client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)
    assert "Springfield Insurance Co." in chart and "Ancient Lawyer" not in chart
    pdf = client.post(f"/disclosures/{patient.id}/accounting.pdf", data={"csrf_token": client.csrf_token})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data, tmp_path)
    assert "Springfield Insurance Co." in text and "Visit notes March 2026" in text and patient.mrn in text
    assert "Ancient Lawyer" not in text
    assert "Trang 1 / 1" in text  # page numbers too: the accounting is in the patient's language
    actions = {e.action for e in db.session.query(AuditEvent).filter_by(patient_id=patient.id)}
    assert {"create", "view", "print"} <= actions


def test_disclosure_needs_recipient_purpose_description_and_changes_nothing(client, login_as):
    login_as("FrontDesk")
    patient = PatientFactory()
    html = client.post(f"/disclosures/{patient.id}/new", data={"recipient": "", "purpose": "", "description": "",
                                                                "csrf_token": client.csrf_token}).get_data(as_text=True)
    assert html.count("This field is required") == 3
    assert db.session.query(Disclosure).count() == 0


def test_accounting_includes_disclosures_of_merged_duplicates(app):
    keep, dup = PatientFactory(), PatientFactory()
    disclosures.record(db.session, patient=dup, recipient="County Health", description="Immunizations", purpose="Public health")
    patient_service.merge(db.session, source_id=dup.id, target_id=keep.id)
    items, _ = disclosures.accounting(db.session, keep)
    assert [d.recipient for d in items] == ["County Health"]
    assert items[0].patient_id == dup.id  # the record itself was not rewritten


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)"])
def test_csv_cells_that_look_like_formulas_are_neutralised(value):
    from app.documents.csvfile import to_csv

    body = to_csv(["h"], [[value]]).decode("utf-8")
    assert "'" + value.replace('"', '""') in body
