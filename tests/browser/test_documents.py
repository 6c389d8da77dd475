"""Documents in a real Chromium: the file CSP (sandbox, nothing may run) still lets the
browser show PDFs and images inline, and an oversized file is stopped before it is sent."""
import io
import time
from datetime import date
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from app.models import PatientDocument
from app.services import documents as document_service
from tests.browser.conftest import LIVE_HOST, log_in
from tests.conftest import make_user
from tests.document_files import pdf_bytes, png_bytes, upload_folder  # noqa: F401  (autouse fixture)
from tests.factories import PatientFactory

pytestmark = pytest.mark.browser
PDF_VIEWER = "chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/"  # Chromium's built-in PDF viewer


@pytest.fixture
def page(page):
    """The shared page, with the browser's own PDF viewer allowed: its chrome:// and
    chrome-extension:// resources load nothing from any host (the request log still checks)."""
    page.context.unroute("**/*")

    def only_local(route):
        parts = urlsplit(route.request.url)
        if parts.scheme in ("chrome", "chrome-extension") or parts.hostname == LIVE_HOST:
            route.continue_()
        else:
            route.abort()

    page.context.route("**/*", only_local)
    return page


def _white_pixels(page):
    from PIL import Image

    shot = Image.open(io.BytesIO(page.screenshot())).convert("L")
    return sum(1 for value in shot.get_flattened_data() if value > 250)


def _store(patient, content, filename, kind="referral"):
    return document_service.store(db.session, patient=patient, stream=io.BytesIO(content), filename=filename,
                                  kind=kind, title=filename, document_date=date(2025, 1, 2))


def _open_in_new_tab(page, link):
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    return tab


def test_pdf_and_image_previews_show_inline(page):
    user = make_user("Clinician")
    patient = PatientFactory()
    pdf = _store(patient, pdf_bytes(), "referral.pdf")
    png = _store(patient, png_bytes(), "card.png", kind="id_card")
    log_in(page, user.username)
    page.goto(f"/patients/{patient.id}/chart")

    viewer = _open_in_new_tab(page, page.locator(f"tr[data-document='{pdf.id}'] a", has_text="View"))
    deadline = time.monotonic() + 10
    while not any(f.url.startswith(PDF_VIEWER) for f in viewer.frames) and time.monotonic() < deadline:
        viewer.wait_for_timeout(100)
    assert any(f.url.startswith(PDF_VIEWER) for f in viewer.frames), [f.url for f in viewer.frames]
    assert viewer.url.endswith(f"/documents/{pdf.id}/preview")
    # The page is drawn: the viewer's background is dark grey, the PDF page white.
    while _white_pixels(viewer) < 50_000 and time.monotonic() < deadline:
        viewer.wait_for_timeout(200)
    assert _white_pixels(viewer) >= 50_000
    viewer.close()

    image = _open_in_new_tab(page, page.locator(f"tr[data-document='{png.id}'] a", has_text="View"))
    assert image.evaluate("document.images.length === 1 && document.images[0].naturalWidth") == 200
    image.close()
    assert page.requests.foreign() == []


def test_an_oversized_file_is_stopped_before_it_is_sent(page, app, monkeypatch):
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_MB", 1)
    user = make_user("FrontDesk")
    patient = PatientFactory()
    log_in(page, user.username)
    page.goto(f"/patients/{patient.id}/documents/upload")
    page.select_option("#kind", "referral")
    page.fill("#title", "Big scan")
    page.set_input_files("#file", files=[{"name": "big.pdf", "mimeType": "application/pdf",
                                           "buffer": b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 10) + b"%%EOF"}])
    message = page.eval_on_selector("#file", "input => input.validationMessage")
    assert "larger than 1 MB" in message
    page.click("#document-upload button[type=submit]")
    page.wait_for_timeout(300)
    assert page.url.endswith(f"/patients/{patient.id}/documents/upload")
    assert not [url for method, url, _ in page.requests if method == "POST" and "/documents/upload" in url]

    page.set_input_files("#file", files=[{"name": "ok.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}])
    with page.expect_navigation():
        page.click("#document-upload button[type=submit]")
    assert page.url.endswith(f"/patients/{patient.id}/chart#chart-documents")
    assert "Big scan" in page.locator("#chart-documents").inner_text()
    assert db.session.query(PatientDocument).count() == 1
