"""Uploaded documents are untrusted: their bytes decide the type, their names never become
paths, results stay with clinical staff, and restricted records need break-glass."""
import io
import os
import re
import zlib
from datetime import date

import pytest

from app.extensions import db
from app.models import AuditEvent, PatientDocument
from app.services import documents as document_service
from tests.document_files import (  # noqa: F401  (upload_folder is an autouse fixture)
    jpeg_bytes, only_document, pdf_bytes, png_bytes, stored_files, upload, upload_folder,
)
from tests.factories import PatientFactory

STORED_NAME = re.compile(r"^\d{4}/\d{2}/[0-9a-f]{32}$")


@pytest.fixture
def patient():
    return PatientFactory()


def _png_chunk(kind, data):
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def _jpeg_with_wrong_magic():
    data = bytearray(jpeg_bytes())
    data[0:3] = b"\x00\xd8\xff"
    return bytes(data)


REFUSED = {
    "exe renamed pdf": (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode",
                        "invoice.pdf", "application/pdf", "a program"),
    "elf renamed jpg": (b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "photo.jpg", "image/jpeg", "a program"),
    "html renamed png": (b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
                         "card.png", "image/png", "a web page"),
    "svg": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "logo.svg", "image/svg+xml", "an SVG drawing"),
    "svg renamed png": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "card.png", "image/png",
                        "an SVG drawing"),
    "garbage": (bytes((i * 7 + 3) % 256 for i in range(4096)), "scan.pdf", "application/pdf",
                "This kind of file cannot be filed"),
    "empty": (b"", "scan.pdf", "application/pdf", "The file is empty."),
    "jpeg with wrong magic": (_jpeg_with_wrong_magic(), "photo.jpg", "image/jpeg", "This kind of file cannot be filed"),
    "png header then html (polyglot)": (b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "card.png",
                                        "image/png", "is damaged or is not really an image"),
    "png with a page after its end": (png_bytes() + b"<html><script>alert(1)</script></html>", "card.png",
                                      "image/png", "extra data after its end"),
    "truncated jpeg": (jpeg_bytes()[:200], "photo.jpg", "image/jpeg", "is damaged or is not really an image"),
    "png with a bad checksum": (png_bytes()[:-16] + b"\x00" * 4 + png_bytes()[-12:], "card.png", "image/png",
                                "is damaged or is not really an image"),
    "pdf header on html": (b"%PDF-1.7\n<html><script>alert(1)</script></html>", "x.pdf", "application/pdf",
                           "no end marker"),
    "tiny image": (png_bytes(size=(1, 1)), "pixel.png", "image/png", "not a usable scan or photo"),
    "gif": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "card.gif", "image/gif", "GIF"),
    "heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "IMG_0001.HEIC", "image/heic", "HEIC"),
    "word document": (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "letter.docx", "application/octet-stream",
                      "an Office document or archive"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_dangerous_or_broken_files_are_refused(client, login_as, patient, upload_folder, name):
    content, filename, browser_type, message = REFUSED[name]
    login_as("FrontDesk")
    resp = upload(client, patient, content, filename, content_type=browser_type)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert message in page, page[page.find("help-block"):][:400]
    assert db.session.query(PatientDocument).count() == 0
    assert stored_files(upload_folder) == []


def test_decompression_bombs_are_refused_before_decoding():
    from PIL import Image

    # A PNG header announcing 50,000 x 50,000 pixels: refused from the header alone.
    ihdr = _png_chunk(b"IHDR", (50000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00")
    bomb = b"\x89PNG\r\n\x1a\n" + ihdr + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + _png_chunk(b"IEND", b"")
    content_type, problem = document_service.check_content(bomb)
    assert content_type == "image/png" and problem is not None
    assert Image.MAX_IMAGE_PIXELS > document_service.MAX_PIXELS  # ours is the stricter limit


def test_the_type_comes_from_the_bytes_not_the_name_or_the_browser(client, login_as, patient):
    login_as("FrontDesk")
    assert upload(client, patient, png_bytes(), "scan.pdf", content_type="application/pdf").status_code == 302
    doc = only_document()
    assert doc.content_type == "image/png"
    resp = client.get(f"/patients/{patient.id}/documents/{doc.id}/download")
    assert resp.headers["Content-Type"] == "image/png"
    assert "filename=scan.png" in resp.headers["Content-Disposition"]  # the real type's extension


@pytest.mark.parametrize("filename, shown", [
    ("../../etc/passwd", "passwd"),
    ("/etc/passwd", "passwd"),
    ("..", None),
    ("....//....//x.pdf", "x.pdf"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),  # right-to-left override: shown as "invoiceexe.pdf"
    ("Überweisung – Dr. Müller 診療.pdf", "Überweisung – Dr. Müller 診療.pdf"),
    ("  spaced\tout   name .pdf ", "spaced out name .pdf"),
    ("a" * 1000 + ".pdf", "a" * 116 + ".pdf"),
])
def test_file_names_never_become_paths(client, login_as, patient, upload_folder, filename, shown):
    login_as("FrontDesk")
    assert upload(client, patient, pdf_bytes(), filename).status_code == 302
    doc = only_document()
    assert STORED_NAME.match(doc.stored_name)
    assert stored_files(upload_folder) == [doc.stored_name]
    assert doc.original_filename == shown
    assert not os.path.exists("/etc/passwd.pdf")


def test_nul_bytes_and_windows_paths_at_the_service(patient, upload_folder):
    """Names the HTTP layer may not pass through unchanged, given to the service directly."""
    doc = document_service.store(db.session, patient=patient, stream=io.BytesIO(pdf_bytes()),
                                 filename="sc\x00an\x01.pdf\x00.exe", kind="other", title="T",
                                 document_date=date(2025, 1, 1))
    assert doc.original_filename == "scan.pdf.exe" and STORED_NAME.match(doc.stored_name)
    assert document_service.download_name(doc) == "scan.pdf.pdf"
    assert document_service.display_filename("C:\\Windows\\System32\\evil.pdf") == "evil.pdf"
    assert document_service.display_filename("\\\\server\\share\\..\\x.png") == "x.png"
    assert document_service.display_filename("\x00\x00") is None


def test_unicode_names_download_with_an_encoded_header(client, login_as, patient):
    login_as("FrontDesk")
    upload(client, patient, pdf_bytes(), "Überweisung 診療.pdf")
    doc = only_document()
    disposition = client.get(f"/patients/{patient.id}/documents/{doc.id}/download").headers["Content-Disposition"]
    assert "filename*=UTF-8''%C3%9Cberweisung%20%E8%A8%BA%E7%99%82.pdf" in disposition


def test_stored_names_are_checked_before_any_file_is_opened(upload_folder):
    for bad in ("../../etc/passwd", "/etc/passwd", "2026/11/../../../etc/passwd", "2026/11/ABC", ""):
        with pytest.raises(document_service.StoredFileError):
            document_service.file_path(bad, str(upload_folder))


# --------------------------------------------------------------------------- who may open what

def _result(client, patient):
    assert upload(client, patient, pdf_bytes("Potassium 5.9"), "labs.pdf", kind="result",
                  title="Basic metabolic panel", source="Quest fax").status_code == 302
    return only_document()


def test_front_desk_files_a_result_but_cannot_open_it(client, login_as, auth, patient):
    login_as("FrontDesk")
    doc = _result(client, patient)
    chart = client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)
    assert "Results are visible to clinical staff only." in chart  # the upload's confirmation
    assert "Basic metabolic panel" not in chart and "labs.pdf" not in chart
    assert "1 result is on file; only clinical staff can open it." in chart
    assert "Basic metabolic panel" not in client.get(f"/patients/{patient.id}/documents").get_data(as_text=True)
    base = f"/patients/{patient.id}/documents/{doc.id}"
    for url in (base + "/preview", base + "/download", base + "/withdraw"):
        assert client.get(url).status_code == 403, url
    resp = client.post(base + "/withdraw", data={"reason": "wrong patient", "csrf_token": client.csrf_token})
    assert resp.status_code == 403 and only_document().status == "active"
    assert db.session.query(AuditEvent).filter_by(object_type="PatientDocument", action="download").count() == 0
    auth.logout()
    login_as("Clinician")
    assert "Basic metabolic panel" in client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)
    assert client.get(base + "/preview").data == pdf_bytes("Potassium 5.9")


def test_billing_reads_documents_but_no_results_and_changes_nothing(client, login_as, auth, patient):
    login_as("OfficeManager")
    upload(client, patient, png_bytes(), "insurance.png", kind="insurance_card", title="Insurance card front",
           content_type="image/png")
    result = _result_after(client, patient)
    auth.logout()
    login_as("Billing")
    chart = client.get(f"/patients/{patient.id}/chart").get_data(as_text=True)
    assert "Insurance card front" in chart and "Basic metabolic panel" not in chart
    assert "Upload a document" not in chart and "Withdraw" not in chart
    card = db.session.query(PatientDocument).filter_by(kind="insurance_card").one()
    assert client.get(f"/patients/{patient.id}/documents/{card.id}/download").data == png_bytes()
    assert client.get(f"/patients/{patient.id}/documents/{result.id}/download").status_code == 403
    assert client.get(f"/patients/{patient.id}/documents/upload").status_code == 403
    resp = upload(client, patient, pdf_bytes())
    assert resp.status_code == 403
    resp = client.post(f"/patients/{patient.id}/documents/{card.id}/withdraw",
                       data={"reason": "not allowed", "csrf_token": client.csrf_token})
    assert resp.status_code == 403
    assert db.session.query(PatientDocument).filter_by(status="active").count() == 2


def _result_after(client, patient):
    upload(client, patient, pdf_bytes("Potassium 5.9"), "labs.pdf", kind="result", title="Basic metabolic panel")
    db.session.expire_all()
    return db.session.query(PatientDocument).filter_by(kind="result").one()


def test_auditors_do_not_see_documents(client, login_as, auth, patient):
    login_as("FrontDesk")
    upload(client, patient, pdf_bytes())
    doc = only_document()
    auth.logout()
    login_as("Auditor")
    for url in (f"/patients/{patient.id}/documents", f"/patients/{patient.id}/documents/{doc.id}/download"):
        assert client.get(url).status_code == 403


def test_restricted_patient_documents_need_break_glass(client, login_as, auth):
    patient = PatientFactory(restricted=True)
    doc = document_service.store(db.session, patient=patient, stream=io.BytesIO(pdf_bytes()), filename="id.pdf",
                                 kind="id_card", title="Driver's licence", document_date=date(2025, 1, 1))
    login_as("FrontDesk")
    url = f"/patients/{patient.id}/documents/{doc.id}/download"
    for target in (url, f"/patients/{patient.id}/documents/{doc.id}/preview", f"/patients/{patient.id}/documents",
                   f"/patients/{patient.id}/documents/upload"):
        resp = client.get(target)
        assert resp.status_code == 302 and f"/patients/{patient.id}/break-glass" in resp.headers["Location"], target
    assert db.session.query(AuditEvent).filter_by(action="download").count() == 0
    resp = client.post(f"/patients/{patient.id}/break-glass?next={url}",
                       data={"reason": "Patient at the desk needs a copy", "csrf_token": client.csrf_token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(url)
    assert client.get(url).data == pdf_bytes()
    db.session.expire_all()
    download = db.session.query(AuditEvent).filter_by(action="download").one()
    assert download.flagged and download.object_id == str(doc.id) and download.patient_id == patient.id
