"""Documents filed to the patient chart: checked by their bytes, stored outside the web root.

Accepted (the allow-list), recognised by magic numbers, never by the file name or the
browser's Content-Type:

    PDF   %PDF- at byte 0 and %%EOF near the end    scans, faxes sent as PDF
    PNG   \\x89PNG\\r\\n\\x1a\\n, decoded by Pillow       screenshots, scanner exports
    JPEG  \\xff\\xd8\\xff, decoded by Pillow             photos of ID and insurance cards
    TIFF  II*\\0 / MM\\0*, every page decoded           fax servers (CCITT G3/G4)
    WebP  RIFF....WEBP, decoded by Pillow           photos saved by some phones/browsers

Refused on purpose: SVG and HTML/XML (they can carry script), GIF (animation, never a
scan), HEIC/HEIF (no decoder here; iOS converts to JPEG when uploading from a browser),
BMP, Office files and archives, executables, and anything not recognised. Images must
decode completely (a PNG or JPEG header in front of something else fails) and have sane
dimensions; a PNG may carry nothing after its IEND chunk.

The file is written to UPLOAD_FOLDER/<yyyy>/<mm>/<uuid4 hex> (directories 0700, file
0600) under a temporary name and renamed into place; its row is committed in the same
step: if the commit fails the file is removed, if the write fails nothing is committed.
"""
import hashlib
import io
import logging
import os
import re
import struct
import unicodedata
import uuid
import warnings
from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..models import PatientDocument
from ..models.base import utcnow
from ..models.document import CLINICAL_KINDS, KINDS
from .backup import _fsync_dir
from .errors import DomainError, NotFoundError, ValidationFailed

log = logging.getLogger("clinicdesk.documents")

MIB = 1024 * 1024
DEFAULT_MAX_MB = 15
PDF, PNG, JPEG, TIFF, WEBP = "application/pdf", "image/png", "image/jpeg", "image/tiff", "image/webp"
# content type -> (label, extensions, Pillow format or None for PDF)
ALLOWED = {
    PDF: ("PDF", (".pdf",), None),
    PNG: ("PNG", (".png",), "PNG"),
    JPEG: ("JPEG", (".jpg", ".jpeg"), "JPEG"),
    TIFF: ("TIFF", (".tif", ".tiff"), "TIFF"),
    WEBP: ("WebP", (".webp",), "WEBP"),
}
# Browsers show these themselves; TIFF (fax) is offered as a download only.
INLINE = (PDF, PNG, JPEG, WEBP)
MIN_SIDE, MAX_SIDE, MAX_PIXELS, MAX_PAGES = 16, 30000, 80_000_000, 500
PDF_EOF_WINDOW = 4096  # scanners may pad after %%EOF; incremental updates add several
STORED_NAME = re.compile(r"^\d{4}/\d{2}/[0-9a-f]{32}$")
TITLE_MAX, SOURCE_MAX, FILENAME_MAX, REASON_MIN, REASON_MAX = 200, 200, 120, 5, 500
READ_CHUNK = 1024 * 1024


class DocumentHidden(DomainError):
    status_code = 403
    default_message = _l("Results are visible to clinical staff only.")


class StoredFileError(DomainError):
    """The file could not be written, or what is on disk is missing or not what was filed."""

    status_code = 500
    default_message = _l("The document's file could not be read. Nothing was changed; tell the administrator.")


class StorageFailed(StoredFileError):
    default_message = _l("The file could not be saved. Nothing was filed; try again or tell the administrator.")


# --------------------------------------------------------------------------- recognising files

def sniff(head):
    """The allowed content type the bytes start with, or None."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def describe_refused(head):
    """A short name for a recognised but refused kind of file, for the error message."""
    text = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head[:2] == b"MZ" or head[:4] == b"\x7fELF" or head[:4] in (b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xcf"):
        return _l("a program")
    if b"<svg" in text:
        return _l("an SVG drawing")
    if text.startswith((b"<!doctype", b"<html", b"<script", b"<?xml", b"<")):
        return _l("a web page or XML file")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"heif", b"avif"):
        return "HEIC/HEIF/AVIF"
    if head[:4] == b"PK\x03\x04" or head[:4] == b"\xd0\xcf\x11\xe0":
        return _l("an Office document or archive")
    if head[:2] == b"BM":
        return "BMP"
    return None


def accepted_types_label():
    return ", ".join(label for label, _, _ in ALLOWED.values())


def _check_pdf(data):
    if not data.startswith(b"%PDF-"):
        return _l("The file is not a PDF.")
    if b"%%EOF" not in data[-PDF_EOF_WINDOW:]:
        return _l("The PDF is incomplete or damaged (it has no end marker). Scan or save it again.")
    return None


def _check_image(data, content_type):
    """None if Pillow decodes the whole image (every page) with sane dimensions, else the problem."""
    from PIL import Image, UnidentifiedImageError

    label, _, pil_format = ALLOWED[content_type]
    damaged = _l("The %(type)s image is damaged or is not really an image.", type=label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[pil_format]) as img:
                pages = getattr(img, "n_frames", 1)
                if pages > MAX_PAGES:
                    return _l("The file has %(n)d pages; at most %(max)d are accepted.", n=pages, max=MAX_PAGES)
                for page in range(pages):
                    img.seek(page)
                    width, height = img.size
                    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
                        return _l("The image is %(w)d × %(h)d pixels: that is not a usable scan or photo.", w=width, h=height)
                    img.load()  # decodes the pixels: a truncated or fake body fails here
            with Image.open(io.BytesIO(data), formats=[pil_format]) as img:
                img.verify()  # checksums (PNG CRCs) that load() may skip
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error):
        return damaged
    if content_type == PNG and not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"):
        return _l("The PNG image carries extra data after its end; save it again from the scanner or phone.")
    return None


def check_content(data):
    """(content type, problem): the sniffed type and None, or the reason the bytes are refused."""
    if not data:
        return None, _l("The file is empty.")
    content_type = sniff(data[:64])
    if content_type is None:
        what = describe_refused(data[:512])
        if what:
            return None, _l("This file is %(what)s, which cannot be filed. Accepted: %(types)s.", what=what,
                            types=accepted_types_label())
        return None, _l("This kind of file cannot be filed. Accepted: %(types)s.", types=accepted_types_label())
    problem = _check_pdf(data) if content_type == PDF else _check_image(data, content_type)
    return content_type, problem


# --------------------------------------------------------------------------- names and paths

def display_filename(name):
    """The user's file name made safe to show: last path part, no control/bidi characters, short.

    It is only ever displayed (and offered back as a download name), never used as a path.
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[\\/]", name)[-1]
    name = re.sub(r"\s", " ", name)  # tabs and line breaks read as spaces
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # NUL, controls, RLO ...
    name = " ".join(name.split()).strip(" .")
    if len(name) > FILENAME_MAX:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext) <= 10 else ""
        name = stem[: FILENAME_MAX - len(ext)].rstrip(" .") + ext
    return name or None


def download_name(document):
    """The display name with the extension of what the file really is."""
    _, extensions, _ = ALLOWED.get(document.content_type, ("", (".bin",), None))
    name = document.original_filename or f"document-{document.id}"
    stem, ext = os.path.splitext(name)
    if ext.lower() in extensions:
        return name
    return (stem or name) + extensions[0]


def upload_folder():
    return current_app.config["UPLOAD_FOLDER"]


def max_bytes():
    """DOCUMENT_MAX_MB, kept below the request limit MAX_CONTENT_LENGTH."""
    config = current_app.config
    limit = int(config.get("DOCUMENT_MAX_MB") or DEFAULT_MAX_MB) * MIB
    request_limit = config.get("MAX_CONTENT_LENGTH")
    return min(limit, request_limit - 64 * 1024) if request_limit else limit


def file_path(stored_name, folder=None):
    """Absolute path of a stored file; refuses anything but a generated name inside the folder."""
    folder = os.path.realpath(folder or upload_folder())
    if not STORED_NAME.match(stored_name or ""):
        raise StoredFileError()
    path = os.path.realpath(os.path.join(folder, *stored_name.split("/")))
    if os.path.dirname(os.path.dirname(os.path.dirname(path))) != folder:
        raise StoredFileError()
    return path


def _private_dirs(folder, *parts):
    """Create folder/parts... as needed, each new directory mode 0700; return the deepest."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = folder
    for part in parts:
        path = os.path.join(path, part)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
    return path


def _write_temporary(folder, data, now):
    """Write `data` beside its final place under a temporary name; return (temp, final, stored_name)."""
    directory = _private_dirs(folder, f"{now:%Y}", f"{now:%m}")
    name = uuid.uuid4().hex
    final = os.path.join(directory, name)
    temp = os.path.join(directory, f".{name}.part")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _remove(temp)
        raise
    os.close(fd)
    return temp, final, f"{now:%Y}/{now:%m}/{name}"


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# --------------------------------------------------------------------------- use cases

def _read_limited(stream, limit):
    chunks, total = [], 0
    while total <= limit:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _clean_text(value):
    return " ".join(str(value or "").split()) or None


def store(session, *, patient, stream, filename, kind, title, document_date, source=None, today=None,
          folder=None, limit=None):
    """File one uploaded document to `patient`; raise ValidationFailed listing every problem.

    `stream` is any binary file object; its bytes alone decide the type. The row and the
    file are committed together.
    """
    today = today or date.today()
    limit = limit or max_bytes()
    problems = []
    title, source = _clean_text(title), _clean_text(source)
    if patient.status == "merged":
        problems.append((None, _l("This record was merged; file the document on the surviving record.")))
    if kind not in KINDS:
        problems.append(("kind", _l("Choose what kind of document this is.")))
    if not title:
        problems.append(("title", _l("This field is required.")))
    elif len(title) > TITLE_MAX:
        problems.append(("title", _l("At most %(n)d characters (%(got)d given).", n=TITLE_MAX, got=len(title))))
    if source and len(source) > SOURCE_MAX:
        problems.append(("source", _l("At most %(n)d characters (%(got)d given).", n=SOURCE_MAX, got=len(source))))
    if not isinstance(document_date, date):
        problems.append(("document_date", _l("Not a valid date.") if document_date else _l("This field is required.")))
    elif document_date > today + timedelta(days=1):  # a day of slack for time zones
        problems.append(("document_date", _l("This date cannot be in the future.")))
    elif document_date.year < 1900:
        problems.append(("document_date", _l("Not a valid date.")))

    data = _read_limited(stream, limit) if stream is not None else b""
    content_type = None
    if stream is None:
        problems.append(("file", _l("Choose a file to upload.")))
    elif len(data) > limit:
        problems.append(("file", _l("The file is larger than %(mb)d MB. Scan at a lower resolution or in black and white, "
                                    "or split the document.", mb=limit // MIB)))
    else:
        content_type, problem = check_content(data)
        if problem:
            problems.append(("file", problem))
    if problems:
        raise ValidationFailed(problems)

    folder = folder or upload_folder()
    try:
        temp, final, stored_name = _write_temporary(folder, data, utcnow())
    except OSError as exc:
        log.error("could not write an uploaded document under %s: %s", folder, exc)
        raise StorageFailed() from None
    document = PatientDocument(
        patient_id=patient.id, kind=kind, document_date=document_date, source=source, title=title,
        original_filename=display_filename(filename), stored_name=stored_name, content_type=content_type,
        size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), status="active",
    )
    renamed = False
    try:
        session.add(document)
        session.flush()  # constraint problems (and the audit event) before the file takes its place
        os.rename(temp, final)
        renamed = True
        _fsync_dir(os.path.dirname(final))
        session.commit()
    except BaseException:
        session.rollback()
        _remove(final if renamed else temp)
        raise
    return document


def may_open(document, *, clinical):
    """Whether someone with (clinical=True) or without can_read_clinical may open `document`."""
    return clinical or document.kind not in CLINICAL_KINDS


def list_for_patient(session, patient, *, clinical, include_withdrawn=False, limit=None):
    """(documents the user may see, newest first; how many clinical ones were left out)."""
    stmt = select(PatientDocument).where(PatientDocument.patient_id == patient.id)
    if not include_withdrawn:
        stmt = stmt.where(PatientDocument.status == "active")
    hidden = 0
    if not clinical:
        count = select(func.count()).select_from(stmt.where(PatientDocument.kind.in_(CLINICAL_KINDS)).subquery())
        hidden = session.scalar(count)
        stmt = stmt.where(PatientDocument.kind.not_in(CLINICAL_KINDS))
    stmt = stmt.order_by(PatientDocument.document_date.desc(), PatientDocument.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt)), hidden


def get_document(session, *, patient, document_id, clinical):
    """The document `document_id` of `patient`; NotFoundError, or DocumentHidden for results."""
    document = session.get(PatientDocument, document_id)
    if document is None or document.patient_id != patient.id:
        raise NotFoundError()
    if not may_open(document, clinical=clinical):
        raise DocumentHidden()
    return document


def read_content(document, *, folder=None):
    """The stored bytes, checked against the SHA-256 recorded at upload."""
    path = file_path(document.stored_name, folder)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        log.error("document %s: cannot read %s: %s", document.id, document.stored_name, exc)
        raise StoredFileError() from None
    if hashlib.sha256(data).hexdigest() != document.sha256:
        log.error("document %s: %s does not match its SHA-256", document.id, document.stored_name)
        raise StoredFileError()
    return data


def withdraw(session, *, document, reason, clinical, user_id=None):
    """Mark a document filed in error; the file and the row stay (and the change is audited)."""
    if not may_open(document, clinical=clinical):
        raise DocumentHidden()
    reason = _clean_text(reason)
    problems = []
    if document.status == "withdrawn":
        problems.append((None, _l("This document was already withdrawn.")))
    if not reason or len(reason) < REASON_MIN:
        problems.append(("reason", _l("Give the reason in at least %(n)d characters.", n=REASON_MIN)))
    elif len(reason) > REASON_MAX:
        problems.append(("reason", _l("At most %(n)d characters (%(got)d given).", n=REASON_MAX, got=len(reason))))
    if problems:
        raise ValidationFailed(problems)
    document.status = "withdrawn"
    document.withdrawn_reason = reason
    document.withdrawn_on = utcnow()
    document.withdrawn_by_fk = user_id
    session.commit()
    return document


# --------------------------------------------------------------------------- housekeeping

STORED_NAME_RE = re.compile(r"^\d{4}/\d{2}/(?:\.)?[0-9a-f]{32}(?:\.part)?$")


def orphan_files(session, *, older_than=timedelta(hours=24), folder=None, now=None):
    """Stored files without a document row (a process died between writing and committing),
    left longer than `older_than` so uploads in flight are never touched; relative paths, sorted."""
    folder = os.path.realpath(folder or upload_folder())
    cutoff = (now or utcnow()).timestamp() - older_than.total_seconds()
    found = []
    for directory, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, folder).replace(os.sep, "/")
            if STORED_NAME_RE.match(relative) and os.lstat(path).st_mtime < cutoff:
                found.append(relative)
    if not found:
        return []
    known = set()
    stored = [n for n in found if not n.rsplit("/", 1)[1].startswith(".")]
    for start in range(0, len(stored), 500):
        known.update(session.scalars(select(PatientDocument.stored_name).where(
            PatientDocument.stored_name.in_(stored[start:start + 500]))))
    return sorted(n for n in found if n not in known)


def sweep_orphans(session, *, older_than=timedelta(hours=24), folder=None, now=None):
    """Delete orphan_files(); return the relative paths removed."""
    folder = os.path.realpath(folder or upload_folder())
    removed = orphan_files(session, older_than=older_than, folder=folder, now=now)
    for relative in removed:
        _remove(os.path.join(folder, *relative.split("/")))
    return removed
