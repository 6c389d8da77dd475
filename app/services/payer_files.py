"""Files back from payers (835, 999, 277CA): received once, reviewed, then posted or applied.

One service for the upload screen and `flask clinic import-payer-file`:
- receive(): checks the file is X12 of a kind we read (sniff), reads it fully (a malformed file is
  refused, naming the segment), refuses the same file twice (SHA-256), stores it (status received).
- review(): what the file says and what it would do: posting.preview() per remittance for an 835,
  acknowledgements.plan() for a 999 / 277CA. Writes nothing.
- process(): posting.post() each remittance (835, status posted) or acknowledgements.apply()
  (status applied). A refusal changes no claim or payment; the file is marked failed with the
  reasons (it can be tried again once they are fixed).

The content is patient data: it is never logged and never copied into audit events or messages.
"""
import hashlib
from dataclasses import dataclass, field

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..claims.x12_835 import read_835
from ..claims.x12_ack import read_277ca, read_999
from ..models.base import utcnow
from ..models.payer_files import PayerFile
from . import acknowledgements, posting
from .errors import StaleRecordError, ValidationFailed, commit_or_stale

MAX_SIZE = 5 * 1024 * 1024
KIND_LABELS = {"835": _l("835 remittance"), "999": _l("999 acknowledgement"), "277CA": _l("277CA claim acknowledgement")}
STATUS_LABELS = {"received": _l("received"), "posted": _l("posted"), "applied": _l("applied"),
                 "failed": _l("refused")}
PROCESSABLE = ("received", "failed")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def _refuse(message, field="file"):
    raise ValidationFailed([(field, message)])


def sniff(data):
    """The kind of X12 file `data` (bytes) is: "835", "999" or "277CA"; ValidationFailed otherwise."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        _refuse(_l("This is not an X12 file: it is not plain ASCII text."))
    text = text.lstrip("\ufeff \t\r\n")
    if not text.startswith("ISA") or len(text) < 106:
        _refuse(_l("This is not an X12 file: it does not start with an ISA segment."))
    element, terminator = text[3], text[105]
    start = text.find(terminator + "ST" + element)
    if start < 0:
        start = text.find(terminator + "\nST" + element)
    if start < 0:
        start = text.find(terminator + "\r\nST" + element)
    if start < 0:
        _refuse(_l("This X12 file has no transaction set (ST segment)."))
    st = text[start:].lstrip(terminator + "\r\n").split(terminator, 1)[0].split(element)
    kind = st[1].strip() if len(st) > 1 else ""
    if kind == "835":
        return "835"
    if kind == "999":
        return "999"
    if kind == "277" and len(st) > 3 and st[3].strip().startswith("005010X214"):
        return "277CA"
    _refuse(_l("This X12 file holds a %(kind)s transaction: only 835 remittances, 999 and 277CA acknowledgements "
               "are read here.", kind=kind[:3] or "?"))


def read(kind, text):
    """The content read: [Remittance] for an 835, an Acknowledgement for a 999 / 277CA."""
    if kind == "835":
        return read_835(text)
    if kind == "999":
        return read_999(text)
    return read_277ca(text)


def receive(session, data, *, file_name, actor, now=None):
    """Store a file received from a payer after checking it is one we read; refuse it when malformed
    or received before. Returns the PayerFile."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data:
        _refuse(_l("Choose the file to upload: it is empty."))
    if len(data) > MAX_SIZE:
        _refuse(_l("The file is too large (at most %(size)d MB).", size=MAX_SIZE // (1024 * 1024)))
    kind = sniff(data)
    text = data.decode("ascii")
    content = read(kind, text)
    digest = sha256(data)
    earlier = session.scalars(select(PayerFile).where(PayerFile.sha256 == digest)).first()
    if earlier is not None:
        session.rollback()
        _refuse(_l("This file was already received on %(date)s (%(name)s): the same file is never read twice.",
                   date=format_date(earlier.received_at.date()), name=earlier.file_name))
    batch = None
    if kind != "835":
        batch = acknowledgements.plan(session, content).batch
    name = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or f"{kind}-{digest[:12]}.x12"
    row = PayerFile(kind=kind, file_name=name, sha256=digest, content=text, received_at=now or utcnow(),
                    received_by_fk=getattr(actor, "id", None), status="received",
                    batch_id=batch.id if batch is not None else None)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        _refuse(_l("This file was received by someone else a moment ago: the same file is never read twice."))
    return row


def _content(payer_file):
    content = read(payer_file.kind, payer_file.content)
    if payer_file.kind == "835":
        for index, remittance in enumerate(content):
            remittance.file_name = payer_file.file_name
            # payer_payment.file_sha256 is unique: the second and later payments of one file get their own hash
            remittance.file_sha256 = payer_file.sha256 if index == 0 else sha256(
                f"{payer_file.sha256}:{index}".encode())
    else:
        content.file_name, content.file_sha256 = payer_file.file_name, payer_file.sha256
    return content


@dataclass
class Review:
    payer_file: PayerFile
    previews: list = field(default_factory=list)  # posting.Preview per remittance (835)
    plan: object = None  # acknowledgements.Plan (999 / 277CA)

    @property
    def problems(self):
        if self.plan is not None:
            return list(self.plan.problems)
        return [p for preview in self.previews for p in preview.problems]

    @property
    def ok(self):
        return not self.problems

    @property
    def patient_ids(self):
        if self.plan is not None:
            return sorted({c.claim.patient_id for c in self.plan.changes})
        return sorted({item.claim.patient_id for p in self.previews for item in p.claims if item.claim is not None})


def review(session, payer_file):
    """What the file says and what processing it would do (nothing written)."""
    content = _content(payer_file)
    if payer_file.kind == "835":
        return Review(payer_file, previews=[posting.preview(session, r) for r in content])
    return Review(payer_file, plan=acknowledgements.plan(session, content))


def _mark_failed(session, payer_file, problems, actor, now):
    session.rollback()
    fresh = session.get(PayerFile, payer_file.id)
    if fresh is None:
        return
    fresh.status = "failed"
    fresh.processed_at = now
    fresh.processed_by_fk = getattr(actor, "id", None)
    fresh.note = "\n".join(str(m) for _f, m in problems)[:1000]
    try:
        session.commit()
    except Exception:  # the refusal is what matters; the mark is a convenience
        session.rollback()


def process(session, payer_file, *, actor, expected_version, now=None):
    """Post the 835 (every payment in it) or apply the 999 / 277CA; all or nothing.

    Returns the review that was carried out. ValidationFailed (nothing posted or applied; the file
    marked failed with the reasons) when anything is wrong."""
    if payer_file.status not in PROCESSABLE:
        session.rollback()
        _refuse(_l("This file was already %(status)s: nothing is done twice.",
                   status=STATUS_LABELS[payer_file.status]), field="status")
    if expected_version is None or payer_file.version != expected_version:
        session.rollback()
        raise StaleRecordError()
    now = now or utcnow()
    result = review(session, payer_file)
    if result.problems:
        problems = result.problems
        _mark_failed(session, payer_file, problems, actor, now)
        raise ValidationFailed(problems)
    payer_file.status = "posted" if payer_file.kind == "835" else "applied"  # committed with the first change
    payer_file.processed_at = now
    payer_file.processed_by_fk = getattr(actor, "id", None)
    try:
        if payer_file.kind == "835":
            payments = []
            for preview in result.previews:
                payments.append(posting.post(session, preview.remittance, actor=actor, now=now, commit=False))
            note = _l("%(num)d payment(s) posted: %(references)s.", num=len(payments),
                      references=", ".join(p.reference for p in payments))
        else:
            if result.plan.batch is not None:
                payer_file.batch_id = result.plan.batch.id
            acknowledgements.apply(session, result.plan.ack, actor=actor, now=now)
            note = _l("%(accepted)d claim(s) accepted, %(rejected)d rejected, %(unchanged)d unchanged.",
                      accepted=len(result.plan.accepted), rejected=len(result.plan.rejected),
                      unchanged=len(result.plan.unchanged))
    except ValidationFailed as exc:
        _mark_failed(session, payer_file, exc.problems, actor, now)
        raise
    payer_file.note = str(note)[:1000]
    try:
        commit_or_stale(session)  # every payment of the file, its claims' moves and the file's status at once
    except IntegrityError:
        session.rollback()
        raise ValidationFailed([("file", _l("This payment was posted by someone else a moment ago: nothing is "
                                            "posted twice."))]) from None
    return result


def files_for_batch(session, batch):
    """The acknowledgements (999 / 277CA) received for a claim batch, oldest first (the claims screens may
    show them on the batch)."""
    return list(session.scalars(select(PayerFile).where(PayerFile.batch_id == batch.id)
                                .order_by(PayerFile.received_at, PayerFile.id)))


def recent(session, limit=200):
    return list(session.scalars(select(PayerFile).order_by(PayerFile.received_at.desc(), PayerFile.id.desc())
                                .limit(limit)))
