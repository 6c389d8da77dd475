"""Coverages: a patient's insurance in order (primary, secondary, tertiary) or self-pay.

Two active coverages of the same patient and order never overlap in time: checked here
(every problem at once) and refused by the database (COVERAGE_OVERLAP_DDL) under races.
Member ids are shown masked everywhere but on the edit form.
"""
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from ..models import Patient
from ..models.billing import COVERAGE_OVERLAP_MESSAGE, SUBSCRIBER_RELATIONSHIPS, Coverage, Payer
from .errors import StaleRecordError, ValidationFailed

MEMBER_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,80}$")
MASK = "••••"
PRIORITY_LABELS = {1: _l("Primary"), 2: _l("Secondary"), 3: _l("Tertiary")}
RELATIONSHIP_LABELS = {"self": _l("Self"), "spouse": _l("Spouse"), "child": _l("Child"), "other": _l("Other")}
STATUS_LABELS = {"active": _l("active"), "voided": _l("voided")}
TEXT_LIMITS = {"plan_name": 60, "group_number": 50, "subscriber_family_name": 60, "subscriber_given_name": 35,
               "subscriber_sex": 10}
VOID_REASON_MAX = 300


def mask_member_id(value):
    """"••••1234": only the last four characters of a member id (all masked when it is that short)."""
    if not value:
        return ""
    return MASK + (value[-4:] if len(value) > 4 else "")


def active_coverages(session, patient_id, on_date):
    """The patient's active coverages in force on `on_date`, primary first."""
    stmt = (select(Coverage)
            .where(Coverage.patient_id == patient_id, Coverage.status == "active",
                   Coverage.effective_date <= on_date,
                   or_(Coverage.end_date.is_(None), Coverage.end_date >= on_date))
            .options(joinedload(Coverage.payer))
            .order_by(Coverage.priority, Coverage.id))
    return list(session.scalars(stmt))


def primary_payer(session, patient_id, on_date):
    """The payer of the primary coverage in force on `on_date` (None for self-pay or none)."""
    for cov in active_coverages(session, patient_id, on_date):
        if cov.priority == 1:
            return cov.payer
    return None


def authorization_payer(session, appointment):
    """The patient's primary payer on the appointment's date when the appointment type needs a
    prior authorization with it, else None."""
    payer = primary_payer(session, appointment.patient_id, appointment.start_local.date())
    return payer if payer is not None and payer in appointment.type.auth_payers else None


def coverages_for(session, patient_id):
    """All of a patient's coverages (voided last), in order then newest first."""
    stmt = (select(Coverage).where(Coverage.patient_id == patient_id)
            .options(joinedload(Coverage.payer), joinedload(Coverage.subscriber_patient))
            .order_by((Coverage.status == "voided"), Coverage.priority, Coverage.effective_date.desc(),
                      Coverage.id))
    return list(session.scalars(stmt).unique())


def guarantor_display(patient):
    """Who is financially responsible for the patient (the guarantor on the patient's record), as text."""
    if patient.guarantor_relationship != "self" and patient.guarantor_patient is not None:
        return str(patient.guarantor_patient)
    if patient.guarantor_relationship != "self" and patient.guarantor_name:
        return patient.guarantor_name
    return patient.display_name


def billed_party(coverage):
    """Who is billed for a self-pay coverage (the patient's guarantor); None for insurance."""
    return guarantor_display(coverage.patient) if coverage.self_pay else None


def subscriber_display(coverage):
    """The subscriber's name for lists."""
    if coverage.subscriber_relationship == "self":
        return coverage.patient.display_name
    if coverage.subscriber_patient is not None:
        return str(coverage.subscriber_patient)
    return ", ".join(p for p in (coverage.subscriber_family_name, coverage.subscriber_given_name) if p)


def _overlap_message(other):
    payer = other.payer.name if other.payer is not None else _l("Self-pay")
    return _l("This overlaps the %(order)s coverage “%(payer)s” from %(start)s to %(end)s: end that one first "
              "or change the dates.", order=PRIORITY_LABELS.get(other.priority, other.priority), payer=payer,
              start=other.effective_date.isoformat(),
              end=other.end_date.isoformat() if other.end_date else _l("open-ended"))


def _find_overlap(session, patient_id, priority, start, end, exclude_id=None):
    """The first active coverage of the same patient and order whose dates meet [start, end]."""
    stmt = (select(Coverage).where(
        Coverage.patient_id == patient_id, Coverage.priority == priority, Coverage.status == "active",
        Coverage.effective_date <= (end or date.max),
        or_(Coverage.end_date.is_(None), Coverage.end_date >= start)).options(joinedload(Coverage.payer))
        .order_by(Coverage.effective_date))
    if exclude_id is not None:
        stmt = stmt.where(Coverage.id != exclude_id)
    return session.scalars(stmt).first()


def _db_overlap_problem(session, patient_id, v, exclude_id):
    """The database refused an overlap the check did not see (a concurrent save): name the other one."""
    other = _find_overlap(session, patient_id, v["priority"], v["effective_date"], v.get("end_date"), exclude_id)
    if other is not None:
        return ("effective_date", _overlap_message(other))
    return ("effective_date", _l("This coverage overlaps another active coverage of the same order."))


def _is_overlap_refusal(exc):
    text = str(getattr(exc, "orig", exc))
    return COVERAGE_OVERLAP_MESSAGE in text or "ex_coverage_overlap" in text


def _clean(values):
    """Strip text fields; empty text becomes None."""
    out = dict(values)
    for key, value in out.items():
        if isinstance(value, str):
            out[key] = value.strip() or None
    return out


def _validate(session, patient, v, *, exclude_id=None):
    """Every problem with coverage values `v` (already cleaned) at once; returns resolved objects."""
    problems = []
    resolved = {"payer": None, "subscriber_patient": None}
    self_pay = bool(v.get("self_pay"))
    payer = v.get("payer")
    if isinstance(payer, int):
        payer = session.get(Payer, payer)
        if payer is None:
            problems.append(("payer", _l("Unknown value.")))
    if self_pay and payer is not None:
        problems.append(("payer", _l("A self-pay coverage has no payer: the patient's guarantor is billed.")))
    elif not self_pay and payer is None and v.get("payer") is None:
        problems.append(("payer", _l("Choose the payer (or mark the coverage as self-pay).")))
    elif payer is not None and not payer.active and (exclude_id is None or v.get("_old_payer_id") != payer.id):
        problems.append(("payer", _l("The payer “%(name)s” is inactive.", name=payer.name)))
    resolved["payer"] = payer

    priority = v.get("priority")
    if priority not in (1, 2, 3):
        problems.append(("priority", _l("The order must be primary, secondary or tertiary.")))

    start, end = v.get("effective_date"), v.get("end_date")
    if not isinstance(start, date):
        problems.append(("effective_date", _l("This field is required.")))
    if end is not None and not isinstance(end, date):
        problems.append(("end_date", _l("Not a valid date.")))
    if isinstance(start, date) and isinstance(end, date) and end < start:
        problems.append(("end_date", _l("The end date must not be before the effective date.")))

    member_id = v.get("member_id")
    if not self_pay:
        if member_id is None:
            problems.append(("member_id", _l("The member id is required for insurance.")))
        elif not MEMBER_ID_RE.match(member_id):
            problems.append(("member_id", _l("The member id has 1 to 80 letters, digits or hyphens.")))

    for field, limit in TEXT_LIMITS.items():
        if v.get(field) is not None and len(v[field]) > limit:
            problems.append((field, _l("At most %(max)d characters.", max=limit)))

    copay = v.get("copay")
    if copay is not None:
        try:
            copay = Decimal(str(copay)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            problems.append(("copay", _l("Not a valid amount.")))
            copay = None
        else:
            if copay < 0:
                problems.append(("copay", _l("The copay must not be negative.")))
            elif copay >= Decimal("100000000"):
                problems.append(("copay", _l("The amount is too large.")))
    resolved["copay"] = copay

    relationship = v.get("subscriber_relationship") or "self"
    if relationship not in SUBSCRIBER_RELATIONSHIPS:
        problems.append(("subscriber_relationship", _l("Unknown value.")))
    elif relationship != "self":
        mrn = v.get("subscriber_mrn")
        if mrn is not None:
            sub = session.scalar(select(Patient).where(Patient.mrn == mrn.upper()))
            if sub is None:
                problems.append(("subscriber_mrn", _l("No patient has the MRN %(mrn)s.", mrn=mrn)))
            elif sub.id == patient.id:
                problems.append(("subscriber_mrn", _l("The patient is the subscriber: choose the relationship "
                                                      "“Self”.")))
            elif sub.status == "merged":
                problems.append(("subscriber_mrn", _l("This record was merged; use the surviving record.")))
            resolved["subscriber_patient"] = sub
        elif not (v.get("subscriber_family_name") and v.get("subscriber_given_name")
                  and isinstance(v.get("subscriber_birth_date"), date)):
            problems.append(("subscriber_mrn", _l("Give the subscriber's MRN, or their family name, given name "
                                                  "and birth date.")))
    resolved["subscriber_relationship"] = relationship

    if not problems:
        other = _find_overlap(session, patient.id, priority, start, end, exclude_id)
        if other is not None:
            problems.append(("effective_date", _overlap_message(other)))
    if problems:
        raise ValidationFailed(problems)
    return resolved


def _apply(coverage, v, resolved):
    self_pay = bool(v.get("self_pay"))
    coverage.self_pay = self_pay
    coverage.payer_id = resolved["payer"].id if resolved["payer"] is not None else None
    coverage.priority = v["priority"]
    coverage.plan_name = v.get("plan_name")
    coverage.member_id = None if self_pay else v.get("member_id")
    coverage.group_number = v.get("group_number")
    coverage.effective_date = v["effective_date"]
    coverage.end_date = v.get("end_date")
    coverage.copay = resolved["copay"]
    relationship = resolved["subscriber_relationship"]
    coverage.subscriber_relationship = relationship
    sub = resolved["subscriber_patient"]
    coverage.subscriber_patient_id = sub.id if sub is not None else None
    described = relationship != "self" and sub is None
    for field in ("subscriber_family_name", "subscriber_given_name", "subscriber_birth_date", "subscriber_sex"):
        setattr(coverage, field, v.get(field) if described else None)


def _commit(session, overlap=None):
    """Commit; the database's overlap refusal becomes the same ValidationFailed as the check's
    (`overlap` = (patient_id, values, exclude_id) of the coverage being saved)."""
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise StaleRecordError() from None
    except (IntegrityError, DBAPIError) as exc:
        session.rollback()
        if overlap is not None and _is_overlap_refusal(exc):
            raise ValidationFailed([_db_overlap_problem(session, *overlap)]) from None
        raise


FIELDS = ("self_pay", "payer", "priority", "plan_name", "member_id", "group_number", "effective_date", "end_date",
          "copay", "subscriber_relationship", "subscriber_mrn", "subscriber_family_name", "subscriber_given_name",
          "subscriber_birth_date", "subscriber_sex")


def _check_patient(patient):
    if patient.status == "merged":
        raise ValidationFailed([(None, _l("This record was merged; use the surviving record."))])


def add_coverage(session, patient, **values):
    """Add a coverage (payer may be a Payer or its id); every problem at once, nothing written on error.

    Keywords: self_pay, payer, priority (1-3), plan_name, member_id, group_number, effective_date,
    end_date, copay, subscriber_relationship, subscriber_mrn or subscriber_family_name /
    subscriber_given_name / subscriber_birth_date / subscriber_sex.
    """
    _check_patient(patient)
    v = _clean({k: values.get(k) for k in FIELDS})
    if v["priority"] is None:
        v["priority"] = 1
    resolved = _validate(session, patient, v)
    coverage = Coverage(patient_id=patient.id, status="active")
    _apply(coverage, v, resolved)
    session.add(coverage)
    _commit(session, (patient.id, v, None))
    return coverage


def update_coverage(session, coverage, *, expected_version, **values):
    """Change a coverage (same keywords as add_coverage); stale versions refused."""
    if expected_version is not None and coverage.version != expected_version:
        raise StaleRecordError()
    if coverage.status != "active":
        raise ValidationFailed([(None, _l("This coverage was voided: nothing was changed."))])
    _check_patient(coverage.patient)
    v = _clean({k: values.get(k) for k in FIELDS})
    v["_old_payer_id"] = coverage.payer_id
    resolved = _validate(session, coverage.patient, v, exclude_id=coverage.id)
    patient_id, coverage_id = coverage.patient_id, coverage.id
    _apply(coverage, v, resolved)
    _commit(session, (patient_id, v, coverage_id))
    return coverage


def void_coverage(session, coverage, *, reason, expected_version=None):
    """Void a coverage entered in error (kept, no longer in force); a reason is required."""
    if expected_version is not None and coverage.version != expected_version:
        raise StaleRecordError()
    reason = (reason or "").strip()
    problems = []
    if coverage.status != "active":
        problems.append((None, _l("This coverage was voided already.")))
    if not reason:
        problems.append(("reason", _l("Say why the coverage is voided.")))
    elif len(reason) > VOID_REASON_MAX:
        problems.append(("reason", _l("At most %(max)d characters.", max=VOID_REASON_MAX)))
    if problems:
        raise ValidationFailed(problems)
    coverage.status = "voided"
    coverage.void_reason = reason
    _commit(session)
    return coverage
