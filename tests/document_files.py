"""Real small files for the document tests (PDF by WeasyPrint, images by Pillow) and an upload helper."""
import io
from functools import lru_cache

import pytest

from app.extensions import db
from app.models import PatientDocument


@lru_cache(maxsize=None)
def pdf_bytes(text="Referral letter"):
    from weasyprint import HTML

    return HTML(string=f"<h1>{text}</h1><p>Springfield Cardiology</p>").write_pdf()


def image_bytes(fmt, size=(200, 120), **save):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, "white")
    if min(size) > 20:
        ImageDraw.Draw(img).rectangle([10, 10, size[0] - 10, size[1] - 10], outline="black", width=3)
    if fmt == "TIFF":
        img = img.convert("1")  # a black-and-white fax page
        save.setdefault("compression", "group4")
    out = io.BytesIO()
    img.save(out, fmt, **save)
    return out.getvalue()


def png_bytes(size=(200, 120)):
    return image_bytes("PNG", size)


def jpeg_bytes(size=(200, 120)):
    return image_bytes("JPEG", size)


def tiff_bytes(pages=2):
    from PIL import Image

    first = Image.new("1", (400, 300), 1)
    out = io.BytesIO()
    first.save(out, "TIFF", compression="group4", save_all=True, append_images=[Image.new("1", (400, 300), 0)] * (pages - 1))
    return out.getvalue()


@pytest.fixture(autouse=True)
def upload_folder(app, tmp_path, monkeypatch):
    """Every test files into its own folder, never the instance's."""
    folder = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(folder))
    return folder


def stored_files(folder):
    """Every file under the upload folder (temporary ones included), as relative paths."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def upload(client, patient, content, filename="scan.pdf", *, kind="referral", title="Referral from Dr. Lee",
           document_date="3/4/2025", source="fax from Springfield Cardiology", content_type="application/pdf"):
    """POST the upload form as a browser does; returns the response (not followed)."""
    data = {"kind": kind, "title": title, "document_date": document_date, "source": source,
            "csrf_token": client.csrf_token}
    if content is not None:
        data["file"] = (io.BytesIO(content), filename, content_type)
    return client.post(f"/patients/{patient.id}/documents/upload", data=data, content_type="multipart/form-data")


def only_document():
    db.session.expire_all()
    documents = db.session.query(PatientDocument).all()
    assert len(documents) == 1, documents
    return documents[0]
