"""Row rules for patient records, and break-glass: opening a record outside them with a reason."""
import time

from flask_babel import lazy_gettext as _l

from ..models import Provider
from . import audit
from .errors import ValidationFailed

BREAK_GLASS_MINUTES = 60
REASON_MIN, REASON_MAX = 10, 500


def needs_break_glass(session, user, patient):
    """True when `user` may open `patient` only by breaking the glass."""
    if not patient.restricted:
        return False
    if patient.primary_provider_id is None:
        return True
    provider_user = session.query(Provider.user_id).filter_by(id=patient.primary_provider_id).scalar()
    return provider_user != user.id


def has_grant(grants, patient_id, now=None):
    """Whether the session holds an unexpired break-glass grant for this patient."""
    expiry = (grants or {}).get(str(patient_id))
    return expiry is not None and expiry > (now or time.time())


def break_glass(engine, grants, *, patient, reason, minutes=BREAK_GLASS_MINUTES, now=None):
    """Record a flagged break-glass event and return the updated grants for the session."""
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise ValidationFailed([("reason", _l("Give the reason in at least %(n)d characters.", n=REASON_MIN))])
    if len(reason) > REASON_MAX:
        raise ValidationFailed([("reason", _l("At most %(n)d characters (%(got)d given).", n=REASON_MAX, got=len(reason)))])
    audit.record(engine, action="break_glass", object_type="Patient", object_id=patient.id,
                 patient_id=patient.id, details={"reason": reason}, flagged=True)
    now = now or time.time()
    grants = {k: v for k, v in (grants or {}).items() if v > now}
    grants[str(patient.id)] = now + minutes * 60
    return grants
