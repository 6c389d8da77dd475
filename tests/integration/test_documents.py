"""Documents filed to the chart: upload, list, preview and download, withdraw, merge, audit."""
import hashlib
import json
import os
import stat
from datetime import date

import pytest

from app.extensions import db
from app.models import AuditEvent, PatientDocument
from app.services import documents as document_service
from app.services import patients as patient_service
from app.services.errors import ValidationFailed
from tests.document_files import (  # noqa: F401  (upload_folder is an autouse fixture)
    jpeg_bytes, only_document, pdf_bytes, png_bytes, stored_files, tiff_bytes, upload, upload_folder,
)
from tests.factories import PatientFactory


@pytest.fixture
def patient():
    return PatientFactory(family_name="Lee", given_name="Ann")


def events(action, patient_id):
    db.session.expire_all()
    return db.session.query(AuditEvent).filter_by(action=action, patient_id=patient_id,
                                                  object_type="PatientDocument").order_by(AuditEvent.seq).all()


def test_front_desk_files_a_pdf_and_sees_it_on_the_chart(client, login_as, patient, upload_folder):
    login_as("FrontDesk")
    assert client.get(f"/patients/{patient.id}/documents/upload").status_code == 200
    resp = upload(client, patient, pdf_bytes(), "Referral Dr Lee.pdf")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/patients/{patient.id}/chart#chart-documents")
    doc = only_document()
    assert (doc.patient_id, doc.kind, doc.title, doc.source) == (
        patient.id, "referral", "Referral from Dr. Lee", "fax from Springfield Cardiology")
    assert doc.document_date == date(2025, 3, 4)  # typed M/d/yyyy, the en locale's order
    assert doc.content_type == "application/pdf" and doc.size_bytes == len(pdf_bytes())
    assert doc.sha256 == hashlib.sha256(pdf_bytes()).hexdigest()
    assert doc.original_filename == "Referral Dr Lee.pdf" and doc.status == "active"
    assert doc.created_by_fk is not None
    chart = client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)
    assert "Referral from Dr. Lee" in chart and "Referral Dr Lee.pdf" in chart and "Document filed." in chart
    assert f"/patients/{patient.id}/documents/{doc.id}/preview" in chart


def test_the_file_is_private_under_a_generated_name(client, login_as, patient, upload_folder):
    login_as("FrontDesk")
    upload(client, patient, pdf_bytes(), "scan.pdf")
    doc = only_document()
    assert stored_files(upload_folder) == [doc.stored_name]  # no temporary file left
    path = upload_folder / doc.stored_name
    assert path.read_bytes() == pdf_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (path.parent, path.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    year, month, name = doc.stored_name.split("/")
    assert len(year) == 4 and len(month) == 2 and len(name) == 32 and "scan" not in doc.stored_name


@pytest.mark.parametrize("content, filename, content_type", [
    (png_bytes(), "card-front.png", "image/png"),
    (jpeg_bytes(), "card back.JPG", "image/jpeg"),
    (tiff_bytes(), "fax.tif", "image/tiff"),
])
def test_images_upload_and_download_byte_for_byte(client, login_as, patient, content, filename, content_type):
    login_as("FrontDesk")
    assert upload(client, patient, content, filename, kind="id_card", content_type=content_type).status_code == 302
    doc = only_document()
    assert doc.content_type == content_type
    resp = client.get(f"/patients/{patient.id}/documents/{doc.id}/download")
    assert resp.status_code == 200 and resp.data == content
    assert resp.headers["Content-Type"] == content_type
    assert resp.headers["Content-Disposition"].startswith("attachment;") and filename in resp.headers["Content-Disposition"]


def test_inline_preview_headers(client, login_as, patient):
    login_as("Clinician")
    upload(client, patient, pdf_bytes(), "referral.pdf")
    doc = only_document()
    resp = client.get(f"/patients/{patient.id}/documents/{doc.id}/preview")
    assert resp.status_code == 200 and resp.data == pdf_bytes()
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Content-Disposition"] == 'inline; filename=referral.pdf'
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"
    csp = [part.strip() for part in resp.headers["Content-Security-Policy"].split(";")]
    assert {"default-src 'none'", "img-src 'self'", "style-src 'unsafe-inline'", "sandbox",
            "frame-ancestors 'none'"} == set(csp)  # nothing may run: no script-src, no nonce
    # The pages themselves keep the page policy.
    page = client.get(f"/patients/{patient.id}/chart")
    assert "script-src 'self' 'nonce-" in page.headers["Content-Security-Policy"]


def test_fax_tiff_is_offered_as_a_download_only(client, login_as, patient):
    login_as("FrontDesk")
    upload(client, patient, tiff_bytes(), "fax.tiff", content_type="image/tiff")
    doc = only_document()
    chart = client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)
    assert f"/documents/{doc.id}/preview" not in chart and f"/documents/{doc.id}/download" in chart
    resp = client.get(f"/patients/{patient.id}/documents/{doc.id}/preview")
    assert resp.headers["Content-Disposition"].startswith("attachment;")


def test_every_problem_is_listed_at_once_and_nothing_is_filed(client, login_as, patient, upload_folder):
    login_as("FrontDesk")
    resp = upload(client, patient, b"", "empty.pdf", kind="", title="  ", document_date="31/31/2025")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for message in ("Choose what kind of document this is.", "This field is required.", "Not a valid date.",
                    "The file is empty."):
        assert message in page, message
    assert db.session.query(PatientDocument).count() == 0 and stored_files(upload_folder) == []


def test_no_file_chosen_and_future_date(client, login_as, patient):
    login_as("FrontDesk")
    page = upload(client, patient, None, document_date="1/1/2999").get_data(as_text=True)
    assert "Choose a file to upload." in page and "This date cannot be in the future." in page


def test_withdraw_keeps_the_file_and_hides_it_from_the_chart(client, login_as, patient, upload_folder):
    user = login_as("FrontDesk")
    upload(client, patient, pdf_bytes(), "wrong-patient.pdf", title="Lab order")
    doc = only_document()
    url = f"/patients/{patient.id}/documents/{doc.id}/withdraw"
    assert "Lab order" in client.get(url).get_data(as_text=True)
    page = client.post(url, data={"reason": "no", "csrf_token": client.csrf_token}).get_data(as_text=True)
    assert "at least 5 characters" in page and only_document().status == "active"
    resp = client.post(url, data={"reason": "Filed to the wrong patient", "csrf_token": client.csrf_token})
    assert resp.status_code == 302
    doc = only_document()
    assert (doc.status, doc.withdrawn_reason, doc.withdrawn_by_fk) == ("withdrawn", "Filed to the wrong patient", user.id)
    assert (upload_folder / doc.stored_name).read_bytes() == pdf_bytes()  # the file stays
    chart = client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)
    assert "Lab order" not in chart
    everything = client.get(f"/patients/{patient.id}/documents").get_data(as_text=True)
    assert "Lab order" in everything and "Withdrawn" in everything and "Filed to the wrong patient" in everything
    change = events("update", patient.id)[-1]
    assert json.loads(change.details)["changes"]["status"] == ["active", "withdrawn"]
    # Once is enough.
    page = client.post(url, data={"reason": "again, really", "csrf_token": client.csrf_token}).get_data(as_text=True)
    assert "already withdrawn" in page


def test_withdraw_needs_the_csrf_token(client, login_as, patient):
    login_as("FrontDesk")
    upload(client, patient, pdf_bytes())
    doc = only_document()
    resp = client.post(f"/patients/{patient.id}/documents/{doc.id}/withdraw", data={"reason": "Filed in error"})
    assert resp.status_code in (200, 400)
    assert only_document().status == "active"


def test_audit_rows_for_the_upload_and_every_download(client, login_as, patient):
    login_as("Clinician")
    upload(client, patient, pdf_bytes())
    doc = only_document()
    created = events("create", patient.id)
    assert len(created) == 1 and created[0].object_id == str(doc.id)
    details = json.loads(created[0].details)["changes"]
    assert details["sha256"] == doc.sha256 and details["kind"] == "referral"
    base = f"/patients/{patient.id}/documents/{doc.id}"
    for url in (base + "/download", base + "/download", base + "/preview"):
        assert client.get(url).status_code == 200
    assert [e.object_id for e in events("download", patient.id)] == [str(doc.id)] * 2
    views = events("view", patient.id)
    assert len(views) == 1 and views[0].object_id == str(doc.id) and views[0].username == "clinician1"


def test_merge_moves_documents_to_the_kept_patient(client, login_as, patient):
    duplicate = PatientFactory(family_name="Lee", given_name="Anne")
    login_as("OfficeManager")
    upload(client, duplicate, pdf_bytes(), "insurance.pdf", kind="insurance_card")
    doc = only_document()
    patient_service.merge(db.session, source_id=duplicate.id, target_id=patient.id)
    assert only_document().patient_id == patient.id
    assert client.get(f"/patients/{patient.id}/documents/{doc.id}/download").data == pdf_bytes()
    assert client.get(f"/patients/{duplicate.id}/documents/{doc.id}/download").status_code == 404
    assert "insurance.pdf" in client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)


def test_a_document_is_reached_only_through_its_own_patient(client, login_as, patient):
    other = PatientFactory()
    login_as("FrontDesk")
    upload(client, patient, pdf_bytes())
    doc = only_document()
    assert client.get(f"/patients/{other.id}/documents/{doc.id}/download").status_code == 404
    assert client.get(f"/patients/{patient.id}/documents/{doc.id + 1}/download").status_code == 404


def test_oversized_document_is_refused_with_the_limit(client, login_as, patient, app, monkeypatch, upload_folder):
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_MB", 1)
    big = b"%PDF-1.4\n" + b"0" * (1024 * 1024) + b"\n%%EOF\n"
    login_as("FrontDesk")
    page = upload(client, patient, big).get_data(as_text=True)
    assert "The file is larger than 1 MB." in page
    assert db.session.query(PatientDocument).count() == 0 and stored_files(upload_folder) == []


def test_a_body_over_the_request_limit_gets_a_friendly_413(client, login_as, patient, app, monkeypatch):
    login_as("FrontDesk")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 256 * 1024)
    resp = upload(client, patient, b"%PDF-1.4\n" + b"0" * 300 * 1024 + b"%%EOF")
    assert resp.status_code == 413
    page = resp.get_data(as_text=True)
    assert "The file is too large" in page and "Nothing was filed" in page
    assert db.session.query(PatientDocument).count() == 0


# --------------------------------------------------------------------------- the service alone

def store(patient, content=None, **kw):
    import io

    args = dict(patient=patient, stream=io.BytesIO(pdf_bytes() if content is None else content), filename="x.pdf",
                kind="other", title="Consent", document_date=date(2025, 1, 2))
    args.update(kw)
    return document_service.store(db.session, **args)


def test_if_the_database_commit_fails_the_file_is_removed(patient, monkeypatch, upload_folder):
    def fail():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", fail)
    with pytest.raises(RuntimeError):
        store(patient)
    monkeypatch.undo()
    assert db.session.query(PatientDocument).count() == 0
    assert stored_files(upload_folder) == []


def test_if_the_file_write_fails_nothing_is_committed(patient, monkeypatch, upload_folder):
    def fail(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(document_service.StorageFailed):
        store(patient)
    monkeypatch.undo()
    assert db.session.query(PatientDocument).count() == 0
    assert stored_files(upload_folder) == []


def test_a_merged_record_takes_no_documents(patient):
    duplicate = PatientFactory()
    patient_service.merge(db.session, source_id=duplicate.id, target_id=patient.id)
    with pytest.raises(ValidationFailed) as exc:
        store(db.session.get(type(patient), duplicate.id))
    assert "merged" in str(exc.value)


def test_a_damaged_stored_file_is_not_served(patient, upload_folder):
    doc = store(patient)
    (upload_folder / doc.stored_name).write_bytes(b"%PDF-1.4 altered %%EOF")
    with pytest.raises(document_service.StoredFileError):
        document_service.read_content(doc)
    (upload_folder / doc.stored_name).unlink()
    with pytest.raises(document_service.StoredFileError):
        document_service.read_content(doc)


def test_sweep_removes_old_orphan_files_only(patient, upload_folder, runner):
    kept = store(patient)
    orphan_dir = upload_folder / "2026" / "01"
    orphan_dir.mkdir(parents=True, exist_ok=True)
    orphan = orphan_dir / ("ab" * 16)
    leftover = orphan_dir / (".%s.part" % ("cd" * 16))
    fresh = orphan_dir / ("ef" * 16)
    stranger = orphan_dir / "notes.txt"  # not a name the app makes: never touched
    for path in (orphan, leftover, fresh, stranger):
        path.write_bytes(b"x")
    old = 1_700_000_000  # 2023
    for path in (orphan, leftover, stranger, upload_folder / kept.stored_name):
        os.utime(path, (old, old))

    dry = runner.invoke(args=["clinic", "sweep-uploads", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 orphan file(s) found." in dry.output and orphan.exists()

    result = runner.invoke(args=["clinic", "sweep-uploads"])
    assert result.exit_code == 0, result.output
    assert "2 orphan file(s) removed." in result.output
    assert not orphan.exists() and not leftover.exists()
    assert fresh.exists() and stranger.exists()  # too young / not ours
    assert (upload_folder / kept.stored_name).exists()  # has its row
    assert document_service.read_content(kept) == pdf_bytes()
