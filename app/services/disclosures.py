"""Accounting of disclosures (45 CFR 164.528)."""
from datetime import datetime, timedelta, timezone

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..models import Disclosure, Patient
from ..models.base import utcnow
from .errors import ValidationFailed

ACCOUNTING_YEARS = 6
LIMITS = {"recipient": 200, "recipient_address": 400, "purpose": 400, "description": 4000}


def record(session, *, patient, recipient, description, purpose, disclosed_on=None, recipient_address=None, who=None):
    """Record one disclosure of `patient`'s information; raise ValidationFailed listing problems."""
    values = {"recipient": recipient, "recipient_address": recipient_address, "description": description, "purpose": purpose}
    values = {k: (v or "").strip() or None for k, v in values.items()}
    problems = []
    for field in ("recipient", "description", "purpose"):
        if not values[field]:
            problems.append((field, _l("This field is required.")))
    for field, limit in LIMITS.items():
        if values[field] and len(values[field]) > limit:
            problems.append((field, _l("At most %(n)d characters (%(got)d given).", n=limit, got=len(values[field]))))
    now = utcnow()
    disclosed_on = disclosed_on or now
    if disclosed_on > now + timedelta(minutes=5):
        problems.append(("disclosed_on", _l("This date cannot be in the future.")))
    if patient.status == "merged":
        problems.append((None, _l("This record was merged; record the disclosure on the surviving record.")))
    if problems:
        raise ValidationFailed(problems)
    who = who or {}
    disclosure = Disclosure(
        patient_id=patient.id, disclosed_on=disclosed_on, created_on=now,
        recorded_by_id=who.get("user_id"), recorded_by=who.get("username"), **values,
    )
    session.add(disclosure)
    session.commit()
    return disclosure


def merged_family(session, patient):
    """The patient and every record merged into it (directly or through a chain)."""
    ids, frontier = {patient.id}, [patient.id]
    while frontier:
        frontier = list(session.scalars(select(Patient.id).where(Patient.merged_into_id.in_(frontier))))
        frontier = [i for i in frontier if i not in ids]
        ids.update(frontier)
    return ids


def accounting(session, patient, *, now=None):
    """Disclosures of the last six years, newest first, including merged duplicates."""
    now = now or datetime.now(timezone.utc)
    try:
        since = now.replace(year=now.year - ACCOUNTING_YEARS)
    except ValueError:  # 29 February
        since = now.replace(year=now.year - ACCOUNTING_YEARS, day=28)
    return list(
        session.scalars(
            select(Disclosure)
            .where(Disclosure.patient_id.in_(merged_family(session, patient)), Disclosure.disclosed_on >= since)
            .order_by(Disclosure.disclosed_on.desc())
        )
    ), since
