"""Referrals: the specialist directory, outgoing referrals (draft -> sent -> scheduled -> seen ->
report received -> closed, or cancelled), incoming referrals (received -> scheduled -> seen ->
closed, or cancelled) linked to the appointment they lead to, the specialist's replies, the
overdue list and the data the two referral letters print.

Every writer checks everything first, reports every problem at once (ValidationFailed) and
changes nothing on error. Every status move is stamped with who and when.
"""
from datetime import date, timedelta

from babel.dates import format_date
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..models import Appointment, Patient, PatientDocument, Provider
from ..models.base import utcnow
from ..models.document import CLINICAL_KINDS
from ..models.billing import Icd10Code, Payer
from ..models.referrals import (URGENCIES, Referral, ReferralDiagnosis, ReferralDocument, ReferralReply,
                                ReferralStatusChange, Specialist)
from ..models.scheduling import INACTIVE_STATUSES
from . import dates, icd10, languages, phones
from .checkdigits import npi_valid
from .errors import StaleRecordError, ValidationFailed, commit_or_stale

URGENCY_DAYS = {"stat": 1, "urgent": 3, "routine": 14}
URGENCY_LABELS = {"routine": _l("routine"), "urgent": _l("urgent"), "stat": _l("stat")}
DIRECTION_LABELS = {"outgoing": _l("outgoing"), "incoming": _l("incoming")}
STATUS_LABELS = {"draft": _l("draft"), "sent": _l("sent"), "received": _l("received"), "scheduled": _l("scheduled"),
                 "seen": _l("seen"), "report_received": _l("report received"), "closed": _l("closed"),
                 "cancelled": _l("cancelled")}
TRANSITIONS = {
    "outgoing": {"draft": ("sent", "cancelled"), "sent": ("scheduled", "cancelled"),
                 "scheduled": ("seen", "cancelled"), "seen": ("report_received", "closed"),
                 "report_received": ("closed",)},
    "incoming": {"received": ("scheduled", "cancelled"), "scheduled": ("seen", "cancelled"), "seen": ("closed",)},
}
OPEN_STATUSES = ("draft", "sent", "received", "scheduled", "seen", "report_received")
NOT_SCHEDULED = ("draft", "sent", "received")  # the overdue list: due and still not scheduled
EDITABLE_STATUSES = ("draft", "sent", "received")
REPLY_STATUSES = ("sent", "scheduled", "seen", "report_received")
MAX_DIAGNOSES = 12
REASON_MAX, NOTES_MAX, SUMMARY_MAX, NOTE_MAX = 500, 4000, 2000, 300
SPECIALIST_TEXT = {"name": 200, "specialty": 100, "organisation": 200, "address": 300}


def _clean(value):
    return (value or "").strip() or None


def _too_long(problems, field, value, limit):
    if value is not None and len(value) > limit:
        problems.append((field, _l("At most %(max)d characters.", max=limit)))


def _region():
    return current_app.config["CLINIC_COUNTRY"]


def _check_version(session, record, expected_version):
    if expected_version is None or record.version != expected_version:
        session.rollback()
        raise StaleRecordError()


def status_label(status):
    return STATUS_LABELS.get(status, status)


# ---------------------------------------------------------------------------------------------
# Specialist directory


def save_specialist(session, specialist=None, *, name, specialty, organisation=None, npi=None, phone=None, fax=None,
                    email=None, address=None, languages_spoken=(), payer_ids=(), active=True, expected_version=None):
    """Add (specialist=None) or change a directory entry; every problem reported, nothing written on error.

    `languages_spoken`: ISO 639 codes (or names); `payer_ids`: ids of the payers the specialist accepts."""
    problems = []
    values = {"name": _clean(name), "specialty": _clean(specialty), "organisation": _clean(organisation),
              "address": "\n".join(line.strip() for line in (address or "").strip().splitlines() if line.strip())
              or None}
    for field in ("name", "specialty"):
        if not values[field]:
            problems.append((field, _l("This field is required.")))
    for field, limit in SPECIALIST_TEXT.items():
        _too_long(problems, field, values[field], limit)
    npi = (npi or "").strip().replace(" ", "") or None
    if npi is not None:
        if not npi_valid(npi):
            problems.append(("npi", _l("“%(value)s” is not a valid NPI: 10 digits with a correct check digit.",
                                       value=npi)))
        else:
            other = session.scalars(select(Specialist).where(Specialist.npi == npi)).first()
            if other is not None and other is not specialist:
                problems.append(("npi", _l("NPI %(npi)s is already in the directory (%(name)s).", npi=npi,
                                           name=other.name)))
    values["npi"] = npi
    for field, raw in (("phone", phone), ("fax", fax)):
        try:
            values[field] = phones.normalize(raw, _region())
        except phones.PhoneError as exc:
            problems.append((field, exc.args[0]))
    email = _clean(email)
    if email is not None:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            problems.append(("email", _l("“%(value)s” is not a valid e-mail address.", value=email)))
    values["email"] = email
    codes = []
    for raw in languages_spoken or ():
        raw = (raw or "").strip()
        if not raw:
            continue
        code = languages.parse(raw)
        if code is None:
            problems.append(("languages", _l("“%(value)s” is not a language.", value=raw)))
        elif code not in codes:
            codes.append(code)
    values["languages"] = ",".join(codes) or None
    if values["languages"] and len(values["languages"]) > 100:
        problems.append(("languages", _l("At most %(max)d characters.", max=100)))
    payers = []
    for pid in payer_ids or ():
        payer = session.get(Payer, pid) if isinstance(pid, int) else None
        if payer is None:
            problems.append(("payers", _l("Unknown value.")))
        elif payer not in payers:
            payers.append(payer)
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    if specialist is None:
        specialist = Specialist()
        session.add(specialist)
    else:
        _check_version(session, specialist, expected_version)
    for key, value in values.items():
        setattr(specialist, key, value)
    specialist.active = bool(active)
    specialist.payers = payers
    commit_or_stale(session)
    return specialist


def specialists(session, *, active_only=False):
    stmt = select(Specialist).options(joinedload(Specialist.payers)).order_by(Specialist.specialty, Specialist.name)
    if active_only:
        stmt = stmt.where(Specialist.active.is_(True))
    return list(session.scalars(stmt).unique())


# ---------------------------------------------------------------------------------------------
# Referrals: shared checks


def default_due_date(referral_date, urgency):
    return referral_date + timedelta(days=URGENCY_DAYS.get(urgency, URGENCY_DAYS["routine"]))


def _check_patient(problems, patient, *, new):
    if patient is None:
        problems.append(("patient", _l("This field is required.")))
    elif patient.status == "merged":
        problems.append(("patient", _l("This record was merged; use the surviving record.")))
    elif new and patient.status == "deceased":
        problems.append(("patient", _l("This patient is deceased.")))


def _check_common(session, problems, *, patient, reason, urgency, notes, referral_date, due_date, diagnoses,
                  document_ids, clinical=True):
    """Checks shared by outgoing and incoming referrals; returns (values, diagnosis rows, documents)."""
    reason, notes = _clean(reason), _clean(notes)
    if not reason:
        problems.append(("reason", _l("This field is required.")))
    _too_long(problems, "reason", reason, REASON_MAX)
    _too_long(problems, "notes", notes, NOTES_MAX)
    if urgency not in URGENCIES:
        problems.append(("urgency", _l("Unknown value.")))
    if not isinstance(referral_date, date):
        problems.append(("referral_date", _l("This field is required.")))
    if due_date is None and isinstance(referral_date, date):
        due_date = default_due_date(referral_date, urgency)
    if isinstance(due_date, date) and isinstance(referral_date, date) and due_date < referral_date:
        problems.append(("due_date", _l("The due date must not be before the referral date.")))
    rows = []
    seen = set()
    for raw in diagnoses or ():
        code = icd10.normalize(raw)
        if not code or code in seen:
            continue
        seen.add(code)
        if not isinstance(referral_date, date):
            continue
        row, message = icd10.lookup(session, code, referral_date)
        if message:
            problems.append(("diagnoses", message))
        else:
            rows.append(row)
    if len(seen) > MAX_DIAGNOSES:
        problems.append(("diagnoses", _l("At most %(max)d diagnoses.", max=MAX_DIAGNOSES)))
    documents = []
    for document_id in document_ids or ():
        document = session.get(PatientDocument, document_id) if isinstance(document_id, int) else None
        if document is None or patient is None or document.patient_id != patient.id:
            problems.append(("documents", _l("Document %(id)s is not one of this patient's documents.",
                                             id=document_id)))
        elif not clinical and document.kind in CLINICAL_KINDS:
            problems.append(("documents", _l("Only staff who may open results can send them.")))
        elif document.status != "active":
            problems.append(("documents", _l("“%(title)s” was filed in error and cannot be sent.",
                                             title=document.title)))
        elif document not in documents:
            documents.append(document)
    values = {"reason": reason, "notes": notes, "urgency": urgency, "referral_date": referral_date,
              "due_date": due_date}
    return values, rows, documents


def _apply_children(referral, rows, documents):
    # Rows kept by code (the unit of work inserts before it deletes: a code deleted and added again
    # would hit the unique constraint).
    kept = {d.code: d for d in referral.diagnoses}
    diagnoses = []
    for i, row in enumerate(rows, start=1):
        item = kept.get(row.code) or ReferralDiagnosis(code=row.code)
        item.position, item.code_set_id = i, row.code_set_id
        diagnoses.append(item)
    referral.diagnoses = diagnoses
    keep = {link.document_id: link for link in referral.documents}
    referral.documents = [keep.get(d.id) or ReferralDocument(document_id=d.id) for d in documents]


def _stamp(session, referral, old, new, actor, note=None, now=None):
    session.add(ReferralStatusChange(referral=referral, from_status=old, to_status=new, changed_at=now or utcnow(),
                                     changed_by_fk=actor.id if actor is not None else None,
                                     note=(note or "").strip()[:NOTE_MAX] or None))


def _check_editable(session, referral, expected_version):
    if referral.status not in EDITABLE_STATUSES:
        session.rollback()
        raise ValidationFailed([(None, _l("This referral is %(status)s: it can no longer be changed.",
                                          status=status_label(referral.status)))])
    _check_version(session, referral, expected_version)


def _patient_of(session, referral, direction, patient, expected_version, problems):
    """The patient whose referral is written: a new one's `patient`, or the patient of `referral`, which
    must still be editable and go in `direction`."""
    if referral is not None:
        _check_editable(session, referral, expected_version)
        if referral.direction != direction:
            raise ValidationFailed([(None, _l("Unknown value."))])
        patient = referral.patient
    _check_patient(problems, patient, new=referral is None)
    return patient


def _save(session, referral, problems, *, patient, direction, status, values, rows, documents, actor, **fields):
    """All or nothing: ValidationFailed naming every problem (nothing written), else the referral written
    (a new one in `status`, stamped) and committed."""
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    new = referral is None
    if new:
        referral = Referral(patient_id=patient.id, direction=direction, status=status)
        session.add(referral)
    for key, value in {**values, **fields}.items():
        setattr(referral, key, value)
    _apply_children(referral, rows, documents)
    if new:
        _stamp(session, referral, None, status, actor)
    commit_or_stale(session)
    return referral


# ---------------------------------------------------------------------------------------------
# Outgoing referrals


def save_outgoing(session, referral=None, *, patient, referring_provider, specialist, reason, urgency="routine",
                  diagnoses=(), document_ids=(), notes=None, referral_date=None, due_date=None, actor=None,
                  expected_version=None, today=None, clinical=True):
    """Write (referral=None: a new draft) or change an outgoing referral while it is a draft or sent.

    The due date defaults to the referral date plus URGENCY_DAYS[urgency]."""
    problems = []
    patient = _patient_of(session, referral, "outgoing", patient, expected_version, problems)
    referral_date = referral_date or (referral.referral_date if referral is not None else today or dates.clinic_today())
    provider = _resolve(session, Provider, referring_provider)
    if provider is None:
        problems.append(("referring_provider", _l("This field is required.") if referring_provider is None
                         else _l("Unknown value.")))
    elif not provider.active and (referral is None or referral.referring_provider_id != provider.id):
        problems.append(("referring_provider", _l("“%(name)s” is inactive.", name=provider.display_name)))
    doctor = _resolve(session, Specialist, specialist)
    if doctor is None:
        problems.append(("specialist", _l("This field is required.") if specialist is None else _l("Unknown value.")))
    elif not doctor.active and (referral is None or referral.specialist_id != doctor.id):
        problems.append(("specialist", _l("“%(name)s” is inactive.", name=doctor.name)))
    values, rows, documents = _check_common(
        session, problems, patient=patient, reason=reason, urgency=urgency, notes=notes, referral_date=referral_date,
        due_date=due_date, diagnoses=diagnoses, document_ids=document_ids, clinical=clinical)
    return _save(session, referral, problems, patient=patient, direction="outgoing", status="draft", values=values,
                 rows=rows, documents=documents, actor=actor,
                 referring_provider_id=provider.id if provider is not None else None,
                 specialist_id=doctor.id if doctor is not None else None)


def _resolve(session, model, value):
    if value is None or isinstance(value, model):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return session.get(model, value)
    return None


# ---------------------------------------------------------------------------------------------
# Incoming referrals


def save_incoming(session, referral=None, *, patient, referring_practice, referring_provider_name=None, reason,
                  urgency="routine", received_date=None, due_date=None, notes=None, diagnoses=(), document_ids=(),
                  actor=None, expected_version=None, today=None, clinical=True):
    """Record (referral=None) or change a referral another practice sent us (status "received")."""
    problems = []
    patient = _patient_of(session, referral, "incoming", patient, expected_version, problems)
    today = today or dates.clinic_today()
    practice, provider_name = _clean(referring_practice), _clean(referring_provider_name)
    if not practice:
        problems.append(("referring_practice", _l("This field is required.")))
    _too_long(problems, "referring_practice", practice, 200)
    _too_long(problems, "referring_provider_name", provider_name, 200)
    received_date = received_date or (referral.referral_date if referral is not None else today)
    if isinstance(received_date, date) and received_date > today:
        problems.append(("referral_date", _l("The date is in the future.")))
    values, rows, documents = _check_common(
        session, problems, patient=patient, reason=reason, urgency=urgency, notes=notes, referral_date=received_date,
        due_date=due_date, diagnoses=diagnoses, document_ids=document_ids, clinical=clinical)
    return _save(session, referral, problems, patient=patient, direction="incoming", status="received", values=values,
                 rows=rows, documents=documents, actor=actor, referring_practice=practice,
                 referring_provider_name=provider_name)


def link_appointment(session, referral, appointment, *, actor, expected_version, now=None):
    """Link an incoming referral to the appointment it leads to; a received one becomes scheduled."""
    problems = []
    appointment = _resolve(session, Appointment, appointment)
    if referral.direction != "incoming":
        problems.append((None, _l("Only a referral from another practice leads to one of our appointments.")))
    elif referral.status not in ("received", "scheduled"):
        problems.append((None, _l("This referral is %(status)s: it can no longer be changed.",
                                  status=status_label(referral.status))))
    if appointment is None:
        problems.append(("appointment", _l("Choose the appointment.")))
    elif appointment.patient_id != referral.patient_id:
        problems.append(("appointment", _l("This appointment is not the patient's.")))
    elif appointment.status in INACTIVE_STATUSES:
        problems.append(("appointment", _l("This appointment is cancelled or was missed.")))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    _check_version(session, referral, expected_version)
    referral.appointment_id = appointment.id
    if referral.status == "received":
        referral.status = "scheduled"
        _stamp(session, referral, "received", "scheduled", actor, now=now)
    commit_or_stale(session)
    return referral


def patient_appointments(session, referral):
    """The patient's active appointments from the referral's date on: what an incoming referral may lead to."""
    return list(session.scalars(
        select(Appointment).where(Appointment.patient_id == referral.patient_id,
                                  Appointment.status.notin_(INACTIVE_STATUSES),
                                  Appointment.start_local >= referral.referral_date)
        .order_by(Appointment.start_local)))


# ---------------------------------------------------------------------------------------------
# Status workflow


def allowed_moves(referral):
    return TRANSITIONS.get(referral.direction, {}).get(referral.status, ())


def transition(session, referral, to_status, *, actor, note=None, expected_version, now=None):
    """Move a referral along TRANSITIONS, stamped (who, when); illegal moves refused, nothing changed."""
    old = referral.status
    if to_status not in allowed_moves(referral):
        session.rollback()
        raise ValidationFailed([("status", _l("This referral is %(current)s: it cannot become %(new)s.",
                                              current=status_label(old),
                                              new=STATUS_LABELS.get(to_status, _l("Unknown value."))))])
    if referral.direction == "incoming" and to_status == "scheduled" and referral.appointment_id is None:
        session.rollback()
        raise ValidationFailed([("status", _l("Link the appointment this referral leads to: it is then "
                                              "scheduled."))])
    if to_status == "cancelled" and not _clean(note):
        session.rollback()
        raise ValidationFailed([("note", _l("Say why the referral is cancelled."))])
    if note is not None and len(note.strip()) > NOTE_MAX:
        session.rollback()
        raise ValidationFailed([("note", _l("At most %(max)d characters.", max=NOTE_MAX))])
    _check_version(session, referral, expected_version)
    now = now or utcnow()
    referral.status = to_status
    if to_status == "sent":
        referral.sent_at = now
    _stamp(session, referral, old, to_status, actor, note, now)
    commit_or_stale(session)
    return referral


# ---------------------------------------------------------------------------------------------
# Replies


def record_reply(session, referral, *, reply_date, summary, document_id=None, upload=None, actor,
                 expected_version, today=None, now=None, clinical=True):
    """Record the specialist's reply (date, summary, a chart document picked or uploaded).

    `upload`: dict(stream=..., filename=...) filed to the chart as a "referral" document (the
    documents service checks the bytes). A scheduled or seen referral becomes "report received"."""
    from . import documents as documents_service  # the chart's filing rules

    today = today or dates.clinic_today()
    problems = []
    if referral.direction != "outgoing" or referral.status not in REPLY_STATUSES:
        problems.append((None, _l("A reply can be recorded for a referral that was sent and is not closed or "
                                  "cancelled.")))
    summary = _clean(summary)
    if not summary:
        problems.append(("summary", _l("This field is required.")))
    _too_long(problems, "summary", summary, SUMMARY_MAX)
    if not isinstance(reply_date, date):
        problems.append(("reply_date", _l("This field is required.")))
    elif reply_date < referral.referral_date:
        problems.append(("reply_date", _l("The reply cannot be older than the referral.")))
    elif reply_date > today:
        problems.append(("reply_date", _l("The date is in the future.")))
    document = None
    if document_id is not None:
        document = session.get(PatientDocument, document_id) if isinstance(document_id, int) else None
        if document is None or document.patient_id != referral.patient_id:
            problems.append(("document", _l("Document %(id)s is not one of this patient's documents.",
                                            id=document_id)))
        elif not clinical and document.kind in CLINICAL_KINDS:
            problems.append(("document", _l("Only staff who may open results can link them.")))
        elif document.status != "active":
            problems.append(("document", _l("“%(title)s” was filed in error.", title=document.title)))
    if document_id is not None and upload is not None:
        problems.append(("document", _l("Pick a document or upload one, not both.")))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    _check_version(session, referral, expected_version)
    if upload is not None:
        specialist = referral.specialist
        document = documents_service.store(
            session, patient=referral.patient, stream=upload["stream"], filename=upload.get("filename"),
            kind="referral", title=str(_l("Consult report: %(name)s", name=specialist.name))[:200],
            document_date=reply_date, source=specialist.name[:200], today=today)
        referral = session.get(Referral, referral.id)  # store() committed: reload
    session.add(ReferralReply(referral=referral, reply_date=reply_date, summary=summary,
                              document_id=document.id if document is not None else None))
    now = now or utcnow()
    path = {"sent": ("scheduled", "seen", "report_received"), "scheduled": ("seen", "report_received"),
            "seen": ("report_received",)}.get(referral.status, ())
    for status in path:
        note = str(_l("Reply recorded")) if status == path[-1] else None
        _stamp(session, referral, referral.status, status, actor, note, now)
        referral.status = status
    commit_or_stale(session)
    return referral


# ---------------------------------------------------------------------------------------------
# Lists


def _with_people(stmt):
    return stmt.options(joinedload(Referral.patient), joinedload(Referral.specialist),
                        joinedload(Referral.referring_provider))


def overdue(session, today=None):
    """Referrals due before `today` and still not scheduled (draft, sent or received), oldest due first."""
    today = today or dates.clinic_today()
    stmt = (select(Referral).where(Referral.status.in_(NOT_SCHEDULED), Referral.due_date < today)
            .order_by(Referral.due_date, Referral.id))
    return list(session.scalars(_with_people(stmt)).unique())


def overdue_count(session, today=None):
    from sqlalchemy import func

    today = today or dates.clinic_today()
    return session.scalar(select(func.count()).select_from(Referral)
                          .where(Referral.status.in_(NOT_SCHEDULED), Referral.due_date < today))


def open_referrals(session, *, direction=None, status=None, limit=500):
    """Open referrals (or those of one status), the soonest due first."""
    stmt = select(Referral)
    if status:
        stmt = stmt.where(Referral.status == status)
    else:
        stmt = stmt.where(Referral.status.in_(OPEN_STATUSES))
    if direction:
        stmt = stmt.where(Referral.direction == direction)
    stmt = stmt.order_by(Referral.due_date, Referral.id).limit(limit)
    return list(session.scalars(_with_people(stmt)).unique())


def for_patient(session, patient_id):
    """A patient's referrals, newest first, with their replies."""
    stmt = (select(Referral).where(Referral.patient_id == patient_id)
            .options(joinedload(Referral.specialist), joinedload(Referral.replies))
            .order_by(Referral.referral_date.desc(), Referral.id.desc()))
    return list(session.scalars(stmt).unique())


def descriptions(session, referral):
    """{code: description} of the referral's diagnoses (from the code set they were checked in)."""
    if not referral.diagnoses:
        return {}
    rows = session.execute(select(Icd10Code.code, Icd10Code.code_set_id, Icd10Code.description).where(
        Icd10Code.code.in_([d.code for d in referral.diagnoses]))).all()
    wanted = {(d.code, d.code_set_id) for d in referral.diagnoses}
    return {code: text for code, set_id, text in rows if (code, set_id) in wanted}


# ---------------------------------------------------------------------------------------------
# Letters


def _locale(lang):
    from ..documents.letters import _locale as letter_locale

    return letter_locale(lang)


def _specialist_data(specialist):
    region = _region()
    return {"name": specialist.name, "specialty": specialist.specialty, "organisation": specialist.organisation or "",
            "address": specialist.address_lines, "phone": phones.display(specialist.phone, region),
            "fax": phones.display(specialist.fax, region), "email": specialist.email or "",
            "npi": specialist.npi or ""}


def _referral_data(referral, lang):
    locale = _locale(lang)
    provider = referral.referring_provider
    return {"id": referral.id, "date": format_date(referral.referral_date, "long", locale=locale),
            "due_date": format_date(referral.due_date, "long", locale=locale), "urgency": referral.urgency,
            "reason": referral.reason, "notes": referral.notes or "",
            "referring_provider": provider.display_name if provider is not None else "",
            "referring_provider_npi": (provider.npi or "") if provider is not None else ""}


def specialist_letter_data(session, referral, lang, *, today=None):
    """What the letter to the specialist says: the referral, diagnoses with descriptions, the documents
    sent with it and the patient's insurance in force."""
    from . import coverage as coverage_service

    locale = _locale(lang)
    texts = descriptions(session, referral)
    insurance = []
    for c in coverage_service.active_coverages(session, referral.patient_id, today or dates.clinic_today()):
        if c.self_pay:
            continue
        insurance.append({"payer": c.payer.name if c.payer else "", "plan": c.plan_name or "",
                          "member_id": c.member_id or "", "group": c.group_number or ""})
    return {"referral": _referral_data(referral, lang), "specialist": _specialist_data(referral.specialist),
            "diagnoses": [{"code": icd10.display(d.code), "description": texts.get(d.code, "")}
                          for d in referral.diagnoses],
            "documents": [{"title": link.document.title,
                           "date": format_date(link.document.document_date, "medium", locale=locale)}
                          for link in referral.documents],
            "insurance": insurance}


def patient_letter_data(session, referral, lang):
    """What the letter to the patient says: whom to see, where, how to reach them (never the diagnoses)."""
    return {"referral": _referral_data(referral, lang), "specialist": _specialist_data(referral.specialist)}


class _InLanguage:
    """The patient as the letters module sees them, with another letter language (the clinic's)."""

    def __init__(self, patient, language):
        self._patient, self.preferred_language = patient, language

    def __getattr__(self, name):
        return getattr(self._patient, name)


LETTER_KINDS = {"specialist": "referral_specialist", "patient": "referral_patient"}


def letter_problem(referral, which):
    if which not in LETTER_KINDS:
        return _l("Unknown value.")
    if referral.direction != "outgoing" or referral.specialist is None:
        return _l("Letters are printed for referrals to a specialist.")
    if referral.status == "cancelled":
        return _l("This referral was cancelled.")
    return None


def render_letter(session, referral, which, *, today):
    """The letter to the specialist (clinic's default language) or to the patient (the patient's)."""
    from ..documents import letters

    kind = LETTER_KINDS[which]
    patient = referral.patient
    if which == "specialist":
        lang = letters.choose_language(kind, current_app.config["CLINIC_DEFAULT_LANGUAGE"])
        return letters.render(kind, _InLanguage(patient, lang), specialist_letter_data(session, referral, lang,
                                                                                       today=today), today=today)
    lang = letters.choose_language(kind, patient.preferred_language or "en")
    return letters.render(kind, patient, patient_letter_data(session, referral, lang), today=today)



# ---------------------------------------------------------------------------------------------
# Demo data


DEMO_SPECIALISTS = (
    ("Dr. Paul Okafor", "Cardiology", "Springfield Heart Center", "+14135550142", "+14135550143",
     "1200 Main St\nSpringfield, MA 01103", ["en", "fr"]),
    ("Dr. Mei Lin", "Endocrinology", "Valley Diabetes Clinic", "+14135550152", "+14135550153",
     "45 State St\nSpringfield, MA 01103", ["en", "zh"]),
    ("Dr. Rosa Delgado", "Dermatology", "Pioneer Skin Care", "+14135550162", None,
     "9 Elm St\nHolyoke, MA 01040", ["en", "es"]),
    ("Dr. Sami Haddad", "Orthopedics", "Riverside Orthopedics", "+14135550172", "+14135550173",
     "300 River Rd\nChicopee, MA 01013", ["en", "ar"]),
)
_DEMO_REASONS = {"Cardiology": "Palpitations and exertional chest pain", "Endocrinology": "Poorly controlled diabetes",
                 "Dermatology": "Changing pigmented lesion on the back", "Orthopedics": "Knee pain after a fall"}
_DEMO_CODES = {"Cardiology": ["I10"], "Endocrinology": ["E11.9"], "Dermatology": [], "Orthopedics": []}


def seed_demo(session, *, now=None):
    """A few specialists and referrals in every state (some overdue), through the service's own rules.
    Skipped when the directory already has someone or there are no patients or providers."""
    from .demo_seed import demo_npi

    if session.scalar(select(Specialist.id).limit(1)) is not None:
        return {}
    patients = list(session.scalars(select(Patient).where(Patient.status == "active").order_by(Patient.id).limit(8)))
    provider = session.scalars(select(Provider).where(Provider.active.is_(True)).order_by(Provider.id)).first()
    if not patients or provider is None:
        return {}
    today = (now or utcnow()).date()
    payer_ids = list(session.scalars(select(Payer.id).order_by(Payer.id).limit(2)))
    doctors = [save_specialist(session, name=name, specialty=specialty, organisation=org, npi=demo_npi(900 + i),
                               phone=phone, fax=fax, address=address, languages_spoken=langs, payer_ids=payer_ids)
               for i, (name, specialty, org, phone, fax, address, langs) in enumerate(DEMO_SPECIALISTS)]
    coded = icd10.code_set_on(session, today) is not None
    plans = [(0, "routine", 20, ("sent",)), (1, "urgent", 2, ("sent", "scheduled")), (2, "routine", 30,
             ("sent", "scheduled", "seen")), (3, "stat", 0, ()), (0, "routine", 40, ("sent",))]
    count = 0
    for (doctor_index, urgency, days_ago, moves), patient in zip(plans, patients):
        doctor = doctors[doctor_index]
        referral = save_outgoing(session, patient=patient, referring_provider=provider, specialist=doctor,
                                 reason=_DEMO_REASONS[doctor.specialty], urgency=urgency,
                                 diagnoses=_DEMO_CODES[doctor.specialty] if coded else (),
                                 referral_date=today - timedelta(days=days_ago), today=today)
        for status in moves:
            transition(session, referral, status, actor=None, expected_version=referral.version)
        count += 1
    if len(patients) > len(plans):
        save_incoming(session, patient=patients[len(plans)], referring_practice="Valley Family Practice",
                      referring_provider_name="Dr. Grace Lee", reason="New patient: hypertension follow-up",
                      received_date=today - timedelta(days=16), today=today)
        count += 1
    return {"specialists": len(doctors), "referrals": count}
