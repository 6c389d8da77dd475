"""Prior authorizations: which one is valid for a service, how many units are used, the alerts, and
the warning every booking door shows.

One rule, one place: the claim scrubber (app/services/claims.prior_authorization_problem), build_claim,
the booking service (form, calendar drag, CLI), the alert list, the home card and the report all call
the functions here.

Units used (units_used): the units of the claim lines of the claims carrying the authorization's
number (not void, not a void claim 8, not replaced by a later 7 / 8), plus the charge lines of the
patient's encounters in the valid period that have no claim carrying an authorization number yet
(what was done but not billed). Only lines with one of the authorization's codes count (any code when
it lists none); an authorization for an appointment type counts the encounters of that type.
"""
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import aliased, joinedload

from ..models import Patient
from ..models.authorizations import PriorAuthorization
from ..models.billing import ChargeLine, Coverage, Encounter, Payer
from ..models.claims import Claim, ClaimLine
from ..models.scheduling import Appointment, AppointmentType
from . import dates
from .errors import StaleRecordError, ValidationFailed, commit_or_stale

CODE_RE = re.compile(r"^(\d{5}|\d{4}[FMTU]|[A-V]\d{4})$")  # CPT, CPT category II/III/PLA, HCPCS Level II
CODE_SPLIT_RE = re.compile(r"[\s,;]+")
EXPIRING_DAYS = 14  # alert when the authorization ends within this many days
LOW_SHARE = Decimal("0.20")  # ... or when at most this share of the units is left
LOW_UNITS = Decimal("1")  # ... or at most this many units
MAX_UNITS = Decimal("99999.99")  # Numeric(7, 2)
TEXT_LIMITS = {"number": 50, "notes": 1000}
VOID_REASON_MAX = 300
STATUS_LABELS = {"active": _l("active"), "void": _l("void")}
ALERT_LABELS = {"expiring": _l("ends soon"), "low": _l("few units left"), "used_up": _l("units used up")}
FIELDS = ("payer", "coverage", "number", "appointment_type", "codes", "units_authorized", "valid_from", "valid_to",
          "notes", "referral_id")
ZERO = Decimal("0")


# --------------------------------------------------------------------------- codes and matching

def parse_codes(text):
    """(codes, bad) from "97110, 97112 G0283": upper-cased, in order, duplicates dropped."""
    if isinstance(text, (list, tuple)):
        text = ",".join(str(c) for c in text)
    codes, bad = [], []
    for raw in CODE_SPLIT_RE.split((text or "").strip().upper()):
        if not raw:
            continue
        if not CODE_RE.match(raw):
            bad.append(raw)
        elif raw not in codes:
            codes.append(raw)
    return codes, bad


def covers(auth, codes=None, appointment_type=None):
    """True if `auth` is for this service: the appointment type (when both name one) and at least one
    of `codes` (when both list codes)."""
    type_id = appointment_type.id if isinstance(appointment_type, AppointmentType) else appointment_type
    if auth.appointment_type_id is not None and type_id is not None and auth.appointment_type_id != type_id:
        return False
    wanted = auth.code_list
    if wanted and codes is not None and not set(wanted) & {str(c).upper() for c in codes}:
        return False
    return True


def _matching_units(auth, lines):
    """Sum of the units of (code, units) pairs that count against `auth`."""
    wanted = set(auth.code_list)
    return sum((Decimal(units) for code, units in lines if not wanted or code in wanted), ZERO)


# --------------------------------------------------------------------------- units

def units_used(session, auth, *, exclude_claim=None, exclude_encounter_id=None):
    """The units of `auth` used so far (Decimal): see the module's docstring. `exclude_claim` (a Claim)
    leaves that claim and its encounter out (the scrubber adds the claim's own units itself);
    `exclude_encounter_id` leaves out an appointment's own encounter."""
    replaced_by = aliased(Claim)
    superseded = (select(replaced_by.id).where(replaced_by.original_claim_id == Claim.id,
                                               replaced_by.status != "void").exists())
    stmt = (select(ClaimLine.code, ClaimLine.units)
            .join(Claim, Claim.id == ClaimLine.claim_id)
            .where(Claim.prior_authorization == auth.number, Claim.patient_id == auth.patient_id,
                   Claim.payer_id == auth.payer_id, Claim.status != "void", Claim.frequency_code != "8",
                   ~superseded))
    if exclude_claim is not None and exclude_claim.id is not None:
        stmt = stmt.where(Claim.id != exclude_claim.id)
    used = _matching_units(auth, session.execute(stmt).all())
    # Encounters not billed under an authorization number yet: their charge lines in the valid period.
    numbered = select(Claim.encounter_id).where(Claim.patient_id == auth.patient_id, Claim.status != "void",
                                                Claim.prior_authorization.is_not(None))
    stmt = (select(ChargeLine.code, ChargeLine.units)
            .join(Encounter, Encounter.id == ChargeLine.encounter_id)
            .where(Encounter.patient_id == auth.patient_id, Encounter.service_date >= auth.valid_from,
                   Encounter.service_date <= auth.valid_to, Encounter.id.notin_(numbered)))
    if auth.appointment_type_id is not None:
        stmt = stmt.join(Appointment, Appointment.id == Encounter.appointment_id).where(
            Appointment.type_id == auth.appointment_type_id)
    if exclude_claim is not None and exclude_claim.encounter_id is not None:
        stmt = stmt.where(Encounter.id != exclude_claim.encounter_id)
    if exclude_encounter_id is not None:
        stmt = stmt.where(Encounter.id != exclude_encounter_id)
    return used + _matching_units(auth, session.execute(stmt).all())


def units_left(session, auth, *, exclude_claim=None, exclude_encounter_id=None):
    """The units still available (None: no limit); may be negative when more was used than authorized."""
    if auth.units_authorized is None:
        return None
    return Decimal(auth.units_authorized) - units_used(session, auth, exclude_claim=exclude_claim,
                                                      exclude_encounter_id=exclude_encounter_id)


# --------------------------------------------------------------------------- which one is valid

def candidates(session, patient_id, payer_id, service_date, codes=None, appointment_type=None):
    """The active authorizations of the patient with the payer in force on `service_date` for this
    service, the one ending first first."""
    stmt = (select(PriorAuthorization)
            .where(PriorAuthorization.patient_id == patient_id, PriorAuthorization.payer_id == payer_id,
                   PriorAuthorization.status == "active", PriorAuthorization.valid_from <= service_date,
                   PriorAuthorization.valid_to >= service_date)
            .order_by(PriorAuthorization.valid_to, PriorAuthorization.id))
    return [a for a in session.scalars(stmt) if covers(a, codes, appointment_type)]


def valid_authorization(session, patient_id, payer_id, service_date, codes=None, appointment_type=None, *,
                        exclude_claim=None, exclude_encounter_id=None):
    """The authorization that covers the service: active, in force that day, for these codes / this
    appointment type, with units left (or no limit). None when there is none. The service's own claim or
    encounter (`exclude_claim`, `exclude_encounter_id`) is left out of the units used."""
    for auth in candidates(session, patient_id, payer_id, service_date, codes, appointment_type):
        left = units_left(session, auth, exclude_claim=exclude_claim, exclude_encounter_id=exclude_encounter_id)
        if left is None or left > 0:
            return auth
    return None


def _show_units(value):
    value = Decimal(value)
    return str(value.quantize(Decimal("1")) if value == value.to_integral_value() else value.normalize())


def _period(auth):
    return dict(start=format_date(auth.valid_from), end=format_date(auth.valid_to))


# --------------------------------------------------------------------------- claims

def claim_problem(session, claim):
    """The prior authorization problem of a claim as (field, message), or None (see claims.py)."""
    payer = claim.payer
    if payer is None:
        return None
    appointment = claim.encounter.appointment if claim.encounter is not None else None
    kind = appointment.type if appointment is not None else None
    lines = [(line.code, line.units) for line in claim.lines]
    codes = [code for code, _ in lines]
    number = (claim.prior_authorization or "").strip()
    if number:
        found = session.scalars(select(PriorAuthorization).where(
            PriorAuthorization.patient_id == claim.patient_id, PriorAuthorization.payer_id == claim.payer_id,
            PriorAuthorization.number == number).order_by(PriorAuthorization.status, PriorAuthorization.id)).all()
        active = [a for a in found if a.status == "active"]
        if not active:
            if found:
                return ("prior_authorization", _l(
                    "The prior authorization %(number)s on the claim was voided: enter a valid authorization "
                    "from %(payer)s or remove the number.", number=number, payer=payer.name))
            return ("prior_authorization", _l(
                "The prior authorization number %(number)s on the claim matches no authorization from %(payer)s "
                "for this patient: record the authorization first or correct the number.", number=number,
                payer=payer.name))
        in_force = [a for a in active if a.valid_from <= claim.service_date <= a.valid_to]
        if not in_force:
            return ("prior_authorization", _l(
                "The prior authorization %(number)s is valid from %(start)s to %(end)s: the date of service "
                "%(date)s is outside it.", number=number, date=format_date(claim.service_date),
                **_period(active[0])))
        fitting = [a for a in in_force if covers(a, codes, kind)]
        if not fitting:
            return ("prior_authorization", _l(
                "The prior authorization %(number)s does not cover this service (its codes: %(codes)s).",
                number=number, codes=", ".join(in_force[0].code_list) or "—"))
        auth = fitting[0]
        return _units_problem(session, auth, claim, lines)
    needed = kind is not None and payer in kind.auth_payers
    found = candidates(session, claim.patient_id, claim.payer_id, claim.service_date, codes, kind)
    if not found:
        if needed:
            return ("prior_authorization", _l(
                "A %(type)s visit needs a prior authorization from %(payer)s; none is on file.", type=kind.name,
                payer=payer.name))
        return None
    auth = valid_authorization(session, claim.patient_id, claim.payer_id, claim.service_date, codes, kind,
                               exclude_claim=claim) or found[0]
    problem = _units_problem(session, auth, claim, lines)
    if problem is not None and needed:
        return problem
    if needed:
        return ("prior_authorization", _l(
            "The prior authorization %(number)s from %(payer)s covers this visit: put its number on the claim.",
            number=auth.number, payer=payer.name))
    return None


def _units_problem(session, auth, claim, lines):
    if auth.units_authorized is None:
        return None
    before = units_used(session, auth, exclude_claim=claim)
    billed = _matching_units(auth, lines)
    authorized = Decimal(auth.units_authorized)
    if before + billed > authorized:
        return ("prior_authorization", _l(
            "The prior authorization %(number)s is used up: %(authorized)s units authorized, %(used)s used "
            "before this claim, and this claim bills %(billed)s.", number=auth.number,
            authorized=_show_units(authorized), used=_show_units(before), billed=_show_units(billed)))
    return None


# --------------------------------------------------------------------------- bookings

def booking_warnings(session, appointment):
    """Translated warnings for a booked appointment whose type needs a prior authorization with a payer
    of the patient's coverages in force that day and none is valid. [] when all is well. Every booking
    door shows these; the booking itself goes through."""
    kind = appointment.type or session.get(AppointmentType, appointment.type_id)
    if kind is None or not kind.auth_payers:
        return []
    from .coverage import active_coverages

    day = appointment.start_local.date()
    own = session.scalar(select(Encounter.id).where(Encounter.appointment_id == appointment.id)) \
        if appointment.id is not None else None
    warnings, seen = [], set()
    for coverage in active_coverages(session, appointment.patient_id, day):
        payer = coverage.payer
        if payer is None or payer.id in seen or payer not in kind.auth_payers:
            continue
        seen.add(payer.id)
        if valid_authorization(session, appointment.patient_id, payer.id, day, appointment_type=kind,
                               exclude_encounter_id=own) is None:
            used_up = candidates(session, appointment.patient_id, payer.id, day, appointment_type=kind)
            if used_up:
                warnings.append(_l(
                    "A “%(type)s” visit needs a prior authorization from %(payer)s: authorization %(number)s "
                    "has no units left for %(date)s.", type=kind.name, payer=payer.name, number=used_up[0].number,
                    date=format_date(day)))
            else:
                warnings.append(_l(
                    "A “%(type)s” visit needs a prior authorization from %(payer)s; none is valid on %(date)s.",
                    type=kind.name, payer=payer.name, date=format_date(day)))
    return warnings


# --------------------------------------------------------------------------- alerts

def alerts(session, *, today=None, within_days=EXPIRING_DAYS):
    """Active authorizations still in force (or starting later) that end within `within_days` or are running
    out of units (at most 20 % or at most one unit left): [(auth, reasons, used, left)], ending first first."""
    today = today or dates.clinic_today()
    stmt = (select(PriorAuthorization)
            .where(PriorAuthorization.status == "active", PriorAuthorization.valid_to >= today)
            .options(joinedload(PriorAuthorization.patient), joinedload(PriorAuthorization.payer))
            .order_by(PriorAuthorization.valid_to, PriorAuthorization.id))
    limit = today + timedelta(days=within_days)
    out = []
    for auth in session.scalars(stmt):
        reasons = []
        if auth.valid_to <= limit:
            reasons.append("expiring")
        used, left = None, None
        if auth.units_authorized is not None:
            used = units_used(session, auth)
            authorized = Decimal(auth.units_authorized)
            left = authorized - used
            if left <= 0:
                reasons.append("used_up")
            elif left <= LOW_UNITS or left <= authorized * LOW_SHARE:
                reasons.append("low")
        if reasons:
            out.append((auth, reasons, used, left))
    return out


def alert_count(session, *, today=None):
    return len(alerts(session, today=today))


# --------------------------------------------------------------------------- lists

def for_patient(session, patient_id):
    """A patient's authorizations: active first, the latest ending first."""
    return list(session.scalars(
        select(PriorAuthorization).where(PriorAuthorization.patient_id == patient_id)
        .options(joinedload(PriorAuthorization.payer), joinedload(PriorAuthorization.appointment_type))
        .order_by(PriorAuthorization.status, PriorAuthorization.valid_to.desc(), PriorAuthorization.id.desc())))


# --------------------------------------------------------------------------- changes

def _resolve(session, model, value):
    if value is None or value == "" or isinstance(value, model):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return session.get(model, value) or False
    if isinstance(value, str) and value.strip().isdigit():
        return session.get(model, int(value.strip())) or False
    return False


def _units(value):
    """(Decimal or None, problem or None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    text = str(value).strip().replace(" ", "").replace("\u00a0", "")
    text = text.replace(",", "") if "." in text else text.replace(",", ".")  # 1,000.5 / 12,5
    try:
        units = Decimal(text)
    except InvalidOperation:
        return None, _l("Enter the units as a number, e.g. 12.")
    if not units.is_finite():
        return None, _l("Enter the units as a number, e.g. 12.")
    if units <= 0:
        return None, _l("The units authorized must be more than zero (leave the field empty for no limit).")
    if units > MAX_UNITS or units != units.quantize(Decimal("0.01")):
        return None, _l("At most %(max)s units, with at most two decimals.", max="99999.99")
    return units, None


def _validate(session, patient, values, *, exclude_id=None):
    """Every problem at once; returns the resolved values."""
    v = {k: (values.get(k).strip() if isinstance(values.get(k), str) else values.get(k)) for k in FIELDS}
    problems, out = [], {}
    payer = _resolve(session, Payer, v["payer"])
    if payer is None:
        problems.append(("payer", _l("Choose the payer that gave the authorization.")))
    elif payer is False:
        problems.append(("payer", _l("Unknown payer: choose one from the list.")))
        payer = None
    out["payer"] = payer
    coverage = _resolve(session, Coverage, v["coverage"])
    if coverage is False or (coverage is not None and coverage.patient_id != patient.id):
        problems.append(("coverage", _l("This coverage is not one of the patient's.")))
        coverage = None
    elif coverage is not None and payer is not None and coverage.payer_id != payer.id:
        problems.append(("coverage", _l("This coverage is with another payer.")))
    out["coverage"] = coverage
    number = v["number"] or None
    if number is None:
        problems.append(("number", _l("Enter the authorization number the payer gave.")))
    elif len(number) > TEXT_LIMITS["number"]:
        problems.append(("number", _l("At most %(max)d characters.", max=TEXT_LIMITS["number"])))
    out["number"] = number
    kind = _resolve(session, AppointmentType, v["appointment_type"])
    if kind is False:
        problems.append(("appointment_type", _l("Unknown appointment type.")))
        kind = None
    out["appointment_type"] = kind
    codes, bad = parse_codes(v["codes"])
    if bad:
        problems.append(("codes", _l(
            "Not a CPT or HCPCS code: %(codes)s. A CPT code is five digits (or four digits and F, M, T or U), a "
            "HCPCS code a letter A to V and four digits.", codes=", ".join(bad))))
    elif len(",".join(codes)) > 200:
        problems.append(("codes", _l("Too many codes: at most %(max)d characters.", max=200)))
    out["codes"] = ",".join(codes) or None
    units, problem = _units(v["units_authorized"])
    if problem is not None:
        problems.append(("units_authorized", problem))
    out["units_authorized"] = units
    for name in ("valid_from", "valid_to"):
        if not isinstance(v[name], date):
            problems.append((name, _l("This field is required.") if not v[name] else _l("Not a valid date.")))
    start, end = v["valid_from"], v["valid_to"]
    if isinstance(start, date) and isinstance(end, date) and end < start:
        problems.append(("valid_to", _l("The authorization cannot end (%(end)s) before it starts (%(start)s).",
                                        start=format_date(start), end=format_date(end))))
    out["valid_from"], out["valid_to"] = start, end
    notes = v["notes"] or None
    if notes is not None and len(notes) > TEXT_LIMITS["notes"]:
        problems.append(("notes", _l("At most %(max)d characters.", max=TEXT_LIMITS["notes"])))
    out["notes"] = notes
    referral = v["referral_id"]
    if referral not in (None, "") and not (isinstance(referral, int) and not isinstance(referral, bool)
                                           and referral > 0):
        problems.append(("referral_id", _l("Unknown value.")))
        referral = None
    out["referral_id"] = referral or None
    if number is not None and payer is not None:
        stmt = select(PriorAuthorization.id).where(PriorAuthorization.payer_id == payer.id,
                                                   PriorAuthorization.number == number,
                                                   PriorAuthorization.status == "active")
        if exclude_id is not None:
            stmt = stmt.where(PriorAuthorization.id != exclude_id)
        if session.scalar(stmt.limit(1)) is not None:
            problems.append(("number", _l("%(payer)s's authorization %(number)s is already recorded.",
                                          payer=payer.name, number=number)))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    if coverage is None and isinstance(start, date):
        # The coverage with that payer in force when the authorization starts (for the chart and reports).
        coverage = session.scalars(select(Coverage).where(
            Coverage.patient_id == patient.id, Coverage.payer_id == payer.id, Coverage.status == "active",
            Coverage.effective_date <= start, or_(Coverage.end_date.is_(None), Coverage.end_date >= start))
            .order_by(Coverage.priority)).first()
        out["coverage"] = coverage
    return out


def _apply(auth, out):
    auth.payer_id = out["payer"].id
    auth.coverage_id = out["coverage"].id if out["coverage"] is not None else None
    auth.number = out["number"]
    auth.appointment_type_id = out["appointment_type"].id if out["appointment_type"] is not None else None
    for name in ("codes", "units_authorized", "valid_from", "valid_to", "notes", "referral_id"):
        setattr(auth, name, out[name])


def _check_patient(session, patient):
    if patient is None or getattr(patient, "status", None) == "merged":
        session.rollback()
        raise ValidationFailed([(None, _l("This record was merged; use the surviving record."))])


def add_authorization(session, patient, *, actor=None, **values):
    """Record an authorization (keywords FIELDS: payer and appointment_type as objects or ids, codes as text
    or a list, dates as dates); every problem at once, nothing written on error."""
    if isinstance(patient, int):
        patient = session.get(Patient, patient)
    _check_patient(session, patient)
    out = _validate(session, patient, values)
    auth = PriorAuthorization(patient_id=patient.id, status="active")
    _apply(auth, out)
    session.add(auth)
    commit_or_stale(session)
    return auth


def update_authorization(session, auth, *, expected_version, actor=None, **values):
    """Change an active authorization (same keywords as add_authorization); stale versions refused."""
    if expected_version is None or auth.version != expected_version:
        session.rollback()
        raise StaleRecordError()
    if auth.status != "active":
        session.rollback()
        raise ValidationFailed([(None, _l("This authorization was voided: nothing was changed."))])
    _check_patient(session, auth.patient)
    out = _validate(session, auth.patient, values, exclude_id=auth.id)
    _apply(auth, out)
    commit_or_stale(session)
    return auth


def void_authorization(session, auth, *, reason, expected_version, actor=None):
    """Void an authorization entered in error or withdrawn by the payer (kept; no longer counts)."""
    if expected_version is None or auth.version != expected_version:
        session.rollback()
        raise StaleRecordError()
    reason = (reason or "").strip()
    problems = []
    if auth.status != "active":
        problems.append((None, _l("This authorization was voided already.")))
    if not reason:
        problems.append(("reason", _l("Say why the authorization is voided.")))
    elif len(reason) > VOID_REASON_MAX:
        problems.append(("reason", _l("At most %(max)d characters.", max=VOID_REASON_MAX)))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    auth.status = "void"
    auth.void_reason = reason
    commit_or_stale(session)
    return auth
