"""Encounters: what was done at one appointment, as ICD-10-CM diagnoses and CPT/HCPCS charge lines.

Every door (encounter page, API, import) changes an encounter through these functions. They
check everything first and name every problem at once (ValidationFailed); nothing is written
unless all of it is right. An encounter's version moves on every change of it or of its lines
(optimistic lock); a billed encounter is read-only.

Row rule: Billing, the office manager and administrators see every encounter; anybody else
(a clinician) only those of the provider linked to their login (Provider.user_id).
"""
import re
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified

from ..models import Provider
from ..models.billing import ChargeLine, Encounter, EncounterDiagnosis, ServiceFacility
from . import fees, icd10
from .errors import DomainError, StaleRecordError, ValidationFailed, commit_or_stale

# Appointments that took place (the patient came): only these get an encounter.
BILLABLE_APPOINTMENT_STATUSES = ("arrived", "in_room", "completed", "checked_out")
STATUS_LABELS = {"open": _l("In progress"), "ready": _l("Ready to bill"), "billed": _l("Billed")}
LETTERS = "ABCDEFGHIJKL"  # diagnosis pointers as the CMS-1500 shows them (box 21 A-L)
MAX_DIAGNOSES = 12
MAX_MODIFIERS = 4
MAX_POINTERS = 4
MAX_LINES = 50  # an 837P claim takes at most 50 service lines
MAX_UNITS = Decimal("999")
MAX_FEE = Decimal("99999999.99")
CPT_RE = re.compile(r"^(\d{5}|\d{4}[FMTU])$")
HCPCS_RE = re.compile(r"^[A-V]\d{4}$")
MODIFIER_RE = re.compile(r"^[A-Z0-9]{2}$")
POS_RE = re.compile(r"^\d{2}$")
TELEHEALTH_POS = "02"
OFFICE_POS = "11"
# Roles that work on every provider's encounters; the admin role is added from the security manager.
ALL_ENCOUNTER_ROLES = ("Billing", "OfficeManager")


class NotYourEncounter(DomainError):
    """The row rule refused: a clinician touching another provider's encounter."""

    status_code = 403
    default_message = _l("This encounter belongs to another provider.")


# --------------------------------------------------------------------------- row rule

def _sm(sm):
    return sm if sm is not None else current_app.appbuilder.sm


def sees_all(user, sm=None):
    """True if `user` works on every provider's encounters (not only their own)."""
    if user is None:  # CLI, imports: no row rule
        return True
    names = {role.name for role in getattr(user, "roles", ())}
    return bool(names & {_sm(sm).auth_role_admin, *ALL_ENCOUNTER_ROLES})


def own_provider_ids(session, user):
    return session.scalars(select(Provider.id).where(Provider.user_id == user.id)).all()


def may_read(user, encounter, sm=None):
    """The row rule: every encounter for billing staff, their own provider's for anybody else."""
    if sees_all(user, sm):
        return True
    provider = encounter.provider
    return provider is not None and provider.user_id is not None and provider.user_id == user.id


def may_edit(user, encounter, sm=None):
    """The row rule for changes (the can_write permission itself is checked by the view)."""
    return may_read(user, encounter, sm)


def scoped(query, user, sm=None):
    """Restrict a select(Encounter) to the encounters `user` may see."""
    if sees_all(user, sm):
        return query
    return query.join(Provider, Provider.id == Encounter.provider_id).where(Provider.user_id == user.id)


def _check_actor(actor, encounter):
    if actor is not None and not may_edit(actor, encounter):
        raise NotYourEncounter()


# --------------------------------------------------------------------------- helpers

def letter(position):
    """Diagnosis position 1-12 -> "A"-"L"."""
    return LETTERS[position - 1] if position and 1 <= position <= MAX_DIAGNOSES else "?"


def total(encounter):
    """The sum of fee x units over the encounter's lines."""
    return sum((line_total(line) for line in encounter.charges), Decimal("0.00"))


def line_total(line):
    return (Decimal(line.fee) * Decimal(line.units)).quantize(Decimal("0.01"))


def code_kind(code):
    """'CPT', 'HCPCS' or None for a code in neither format."""
    if CPT_RE.match(code or ""):
        return "CPT"
    if HCPCS_RE.match(code or ""):
        return "HCPCS"
    return None


def _decimal(value):
    """A Decimal from what was typed ("12.50", "12,50", 3); None for nothing typed; False if unreadable."""
    if value is None:
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return False
    return number if number.is_finite() else False


def _places(number):
    return max(0, -number.as_tuple().exponent)


def _list(value):
    """A list from a list or a text of items separated by spaces, commas or semicolons."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[\s,;]+", value) if v]
    return [v for v in value if v is not None and str(v).strip() != ""]


def _check_editable(encounter, expected_version):
    if encounter.status == "billed":
        raise ValidationFailed([(None, _l("This encounter has been billed: it can no longer be changed."))])
    if expected_version is None or encounter.version != expected_version:
        raise StaleRecordError()


def _touch(encounter):
    """Move the encounter's version on (its lines changed) and send a ready one back to open."""
    if encounter.status == "ready":
        encounter.status = "open"
    else:
        flag_modified(encounter, "status")  # an UPDATE ... WHERE version = old: a concurrent change fails


# --------------------------------------------------------------------------- create

def service_facility_for(session, location_id):
    """The active service facility linked to a clinic location, or None."""
    return session.scalars(select(ServiceFacility).where(ServiceFacility.location_id == location_id,
                                                         ServiceFacility.active.is_(True))
                           .order_by(ServiceFacility.id).limit(1)).first()


def encounter_for_appointment(session, appointment, *, actor=None):
    """The appointment's encounter, created on first call; only for a visit that took place."""
    existing = session.scalars(select(Encounter).where(Encounter.appointment_id == appointment.id)).first()
    if existing is not None:
        _check_actor(actor, existing)
        return existing
    if actor is not None and not sees_all(actor) and (appointment.provider.user_id != actor.id):
        raise NotYourEncounter()
    if appointment.status not in BILLABLE_APPOINTMENT_STATUSES:
        raise ValidationFailed([("appointment", _l(
            "An encounter can only be opened once the patient has arrived; this appointment is %(status)s.",
            status=_appointment_status(appointment.status)))])
    facility = service_facility_for(session, appointment.location_id)
    if appointment.type is not None and appointment.type.telehealth:
        pos = TELEHEALTH_POS
    else:
        pos = facility.place_of_service if facility is not None and facility.place_of_service else OFFICE_POS
    encounter = Encounter(appointment_id=appointment.id, patient_id=appointment.patient_id,
                          provider_id=appointment.provider_id,
                          service_facility_id=facility.id if facility is not None else None,
                          service_date=appointment.start_local.date(), place_of_service=pos, status="open")
    session.add(encounter)
    try:
        session.commit()
    except IntegrityError:
        # Someone opened it at the same moment: theirs is the one.
        session.rollback()
        existing = session.scalars(select(Encounter).where(Encounter.appointment_id == appointment.id)).first()
        if existing is None:
            raise
        return existing
    return encounter


def _appointment_status(status):
    from .scheduling import STATUS_LABELS as APPOINTMENT_STATUS_LABELS

    return APPOINTMENT_STATUS_LABELS.get(status, status)


# --------------------------------------------------------------------------- diagnoses

def check_diagnoses(session, encounter, codes):
    """([(code set id, code without dot)], problems) for the typed codes, in order."""
    problems, rows, seen = [], [], {}
    typed = [(i, str(c).strip()) for i, c in enumerate(codes or [], start=1) if c is not None and str(c).strip()]
    if not typed:
        problems.append(("diagnoses", _l("Enter at least one diagnosis.")))
    if len(typed) > MAX_DIAGNOSES:
        problems.append(("diagnoses", _l("An encounter has at most %(count)d diagnoses.", count=MAX_DIAGNOSES)))
    for index, raw in typed:
        field = f"dx{index}"
        norm = icd10.normalize(raw)
        if norm in seen:
            problems.append((field, _l("%(code)s is listed twice.", code=icd10.display(norm))))
            continue
        seen[norm] = index
        row, problem = icd10.lookup(session, raw, encounter.service_date)
        if problem is not None:
            problems.append((field, problem))
        else:
            rows.append((row.code_set_id, row.code))
    return rows, problems


def set_diagnoses(session, encounter, codes, *, expected_version, actor=None):
    """Replace the encounter's diagnoses with `codes` (1-12, in order: A, B, C ...).

    Charge lines keep pointing at the same codes (their letters follow a reordering); a
    diagnosis a charge line points at cannot be removed.
    """
    _check_actor(actor, encounter)
    _check_editable(encounter, expected_version)
    rows, problems = check_diagnoses(session, encounter, codes)
    new_positions = {code: position for position, (_set, code) in enumerate(rows, start=1)}
    old_codes = {d.position: d.code for d in encounter.diagnoses}
    remap = {}
    for line in encounter.charges:
        for pointer in line.pointers:
            code = old_codes.get(pointer)
            if code is None:
                continue
            if code not in new_positions:
                problems.append(("diagnoses", _l(
                    "%(code)s cannot be removed: charge line %(line)d points at it.",
                    code=icd10.display(code), line=line.line_number)))
            else:
                remap[pointer] = new_positions[code]
    if problems:
        session.rollback()
        raise ValidationFailed(_unique(problems))
    for old in list(encounter.diagnoses):
        session.delete(old)
    session.flush()  # the old rows go first: positions and codes are unique per encounter
    session.expire(encounter, ["diagnoses"])
    for position, (code_set_id, code) in enumerate(rows, start=1):
        session.add(EncounterDiagnosis(encounter=encounter, position=position, code=code, code_set_id=code_set_id))
    for line in encounter.charges:
        new = [remap[p] for p in line.pointers]
        if new != line.pointers:
            line.pointer1, line.pointer2, line.pointer3, line.pointer4 = (new + [None] * MAX_POINTERS)[:MAX_POINTERS]
    _touch(encounter)
    commit_or_stale(session)
    session.expire(encounter, ["diagnoses"])
    return encounter


def _unique(problems):
    out = []
    for p in problems:
        if (p[0], str(p[1])) not in {(q[0], str(q[1])) for q in out}:
            out.append(p)
    return out


# --------------------------------------------------------------------------- charge lines

CHARGE_FIELDS = ("code", "modifiers", "units", "fee", "place_of_service", "rendering_provider", "pointers")


def _pointer(value):
    """A diagnosis position from a letter (A-L) or a number (1-12); None if it is neither."""
    text = str(value).strip().upper()
    if len(text) == 1 and text in LETTERS:
        return LETTERS.index(text) + 1
    if text.isdigit() and 1 <= int(text) <= MAX_DIAGNOSES:
        return int(text)
    return None


def check_charge(session, encounter, data):
    """(column values, problems) for a charge line as typed in `data` (keys: CHARGE_FIELDS)."""
    problems, values = [], {}
    code = str(data.get("code") or "").strip().upper()
    kind = code_kind(code)
    if not code:
        problems.append(("code", _l("This field is required.")))
    elif kind is None:
        problems.append(("code", _l(
            "%(code)s is not a CPT code (five digits, or four digits and F, M, T or U) nor a HCPCS Level II "
            "code (a letter A to V and four digits).", code=code[:20])))
    values.update(code=code, code_kind=kind)

    modifiers = [str(m).strip().upper() for m in _list(data.get("modifiers"))]
    if len(modifiers) > MAX_MODIFIERS:
        problems.append(("modifiers", _l("A charge line has at most %(count)d modifiers.", count=MAX_MODIFIERS)))
    for m in modifiers:
        if not MODIFIER_RE.match(m):
            problems.append(("modifiers", _l("%(modifier)s is not a modifier: two letters or digits.",
                                             modifier=m[:10])))
    if len(set(modifiers)) != len(modifiers):
        problems.append(("modifiers", _l("A modifier is listed twice.")))
    padded = (modifiers + [None] * MAX_MODIFIERS)[:MAX_MODIFIERS]
    values.update(modifier1=padded[0], modifier2=padded[1], modifier3=padded[2], modifier4=padded[3])

    units = _decimal(data.get("units", 1))
    if units is None:
        problems.append(("units", _l("This field is required.")))
    elif units is False or units <= 0 or units > MAX_UNITS or _places(units) > 2:
        problems.append(("units", _l("Units must be a number above 0 and at most %(max)s, with at most two decimals.",
                                     max=MAX_UNITS)))
    values["units"] = units

    fee = _decimal(data.get("fee"))
    if fee is False or (fee is not None and (fee < 0 or fee > MAX_FEE or _places(fee) > 2)):
        problems.append(("fee", _l("The fee must be an amount of 0 or more, with at most two decimals.")))
    elif fee is None and kind is not None:
        fee = fees.fee_for(session, code, modifiers[0] if modifiers else "", encounter.service_date)
        if fee is None:
            problems.append(("fee", _l("No fee in the fee schedule for %(code)s on %(date)s: type the fee.",
                                       code=code, date=format_date(encounter.service_date))))
    values["fee"] = fee

    pos = str(data.get("place_of_service") or encounter.place_of_service or "").strip()
    if not POS_RE.match(pos):
        problems.append(("place_of_service",
                         _l("The place of service is a two-digit code (11 office, 02 telehealth).")))
    values["place_of_service"] = pos

    provider = data.get("rendering_provider") or encounter.provider_id
    if not isinstance(provider, Provider):
        key = str(provider).strip()
        provider = session.get(Provider, int(key)) if key.isdigit() else None
    if provider is None or not provider.active:
        problems.append(("rendering_provider", _l("Choose an active rendering provider.")))
    values["rendering_provider_id"] = provider.id if provider is not None else None

    raw_pointers = _list(data.get("pointers"))
    pointers = [_pointer(p) for p in raw_pointers]
    existing = {d.position for d in encounter.diagnoses}
    if not raw_pointers:
        problems.append(("pointers", _l("Point at least one diagnosis (A to L).")))
    elif len(raw_pointers) > MAX_POINTERS:
        problems.append(("pointers", _l("A charge line points at most %(count)d diagnoses.", count=MAX_POINTERS)))
    for raw, position in zip(raw_pointers, pointers):
        if position is None or position not in existing:
            problems.append(("pointers", _l("Diagnosis %(pointer)s does not exist on this encounter.",
                                            pointer=str(raw).strip().upper()[:10])))
    if len(set(pointers)) != len(pointers):
        problems.append(("pointers", _l("A diagnosis is pointed at twice.")))
    padded = (pointers + [None] * MAX_POINTERS)[:MAX_POINTERS]
    values.update(pointer1=padded[0], pointer2=padded[1], pointer3=padded[2], pointer4=padded[3])
    return values, problems


def add_charge(session, encounter, data, *, expected_version, actor=None):
    """Add a charge line (fee from the fee schedule unless typed); returns it."""
    _check_actor(actor, encounter)
    _check_editable(encounter, expected_version)
    values, problems = check_charge(session, encounter, data)
    if len(encounter.charges) >= MAX_LINES:
        problems.append((None, _l("An encounter has at most %(count)d charge lines.", count=MAX_LINES)))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    number = (session.scalar(select(func.max(ChargeLine.line_number))
                             .where(ChargeLine.encounter_id == encounter.id)) or 0) + 1
    line = ChargeLine(encounter_id=encounter.id, line_number=number, **values)
    session.add(line)
    _touch(encounter)
    commit_or_stale(session)
    session.expire(encounter, ["charges"])
    return line


def _own_line(encounter, line):
    if line is None or line.encounter_id != encounter.id:
        raise ValidationFailed([(None, _l("This charge line is not part of the encounter."))])


def update_charge(session, encounter, line, data, *, expected_version, actor=None):
    """Change a charge line (all its fields, as for a new one)."""
    _check_actor(actor, encounter)
    _own_line(encounter, line)
    _check_editable(encounter, expected_version)
    values, problems = check_charge(session, encounter, data)
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    for key, value in values.items():
        setattr(line, key, value)
    _touch(encounter)
    commit_or_stale(session)
    return line


def remove_charge(session, encounter, line, *, expected_version, actor=None):
    _check_actor(actor, encounter)
    _own_line(encounter, line)
    _check_editable(encounter, expected_version)
    session.delete(line)
    _touch(encounter)
    commit_or_stale(session)
    session.expire(encounter, ["charges"])


# --------------------------------------------------------------------------- status

def mark_ready(session, encounter, *, expected_version, actor=None):
    """Open -> ready to bill: needs at least one diagnosis and one charge line."""
    _check_actor(actor, encounter)
    _check_editable(encounter, expected_version)
    problems = []
    if encounter.status != "open":
        problems.append((None, _l("This encounter is already ready to bill.")))
    if not encounter.diagnoses:
        problems.append(("diagnoses", _l("Enter at least one diagnosis.")))
    if not encounter.charges:
        problems.append(("charges", _l("Add at least one charge line.")))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    encounter.status = "ready"
    commit_or_stale(session)
    return encounter


# --------------------------------------------------------------------------- billed, by its claims

CLAIM_STATUSES_BILLED = ("submitted", "accepted", "paid", "denied", "appealed")


def follow_claim(session, claim):
    """The one rule tying an encounter to its claims (called by the claim lifecycle, not committed
    here): a claim submitted makes the encounter billed; a claim rejected sends it back to ready to
    bill (fixed, then resent as an original) unless another of its claims is still with a payer."""
    encounter = claim.encounter
    if encounter is None:
        return
    if claim.status == "submitted":
        encounter.status = "billed"
    elif claim.status == "rejected" and encounter.status == "billed":
        from ..models.claims import Claim  # the claims models import nothing of this module

        others = session.scalar(select(Claim.id).where(Claim.encounter_id == encounter.id, Claim.id != claim.id,
                                                       Claim.status.in_(CLAIM_STATUSES_BILLED)).limit(1))
        if others is None:
            encounter.status = "ready"
