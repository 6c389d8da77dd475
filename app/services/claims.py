"""Claims: built from a ready encounter, scrubbed, and moved along one lifecycle.

    draft -> ready -> submitted -> accepted -> paid / denied -> appealed -> paid / denied
                                -> rejected -> draft (fixed, resent as an original)
    draft / ready / rejected -> void (never reached the payer)

Every door (claim form, bulk action, API) calls these functions. A claim becomes ready only when
scrub() finds nothing; scrub() names every problem at once. Lines change only while the claim is
a draft. A claim the payer adjudicated is corrected by a replacement (frequency 7) or a void (8)
that carries the payer's claim control number (stored from the remittance).
"""
from decimal import Decimal, InvalidOperation

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ..claims import Address, ClaimData, Party
from ..claims import ClaimLine as ClaimLineData
from ..models.base import utcnow
from ..models.claims import CLAIM_STATUSES, Claim, ClaimDiagnosis, ClaimLine, ClaimStatusChange
from . import counters, dates, icd10
from .billing_setup import get_settings
from .checkdigits import npi_valid
from .coverage import active_coverages
from .encounters import follow_claim, letter, line_total
from .errors import StaleRecordError, ValidationFailed, commit_or_stale

CLAIM_COUNTER = "claim_number"
CLAIM_PREFIX = "C"
CLAIM_DIGITS = 8

STATUS_LABELS = {
    "draft": _l("draft"), "ready": _l("ready to send"), "submitted": _l("submitted"), "accepted": _l("accepted"),
    "rejected": _l("rejected"), "paid": _l("paid"), "denied": _l("denied"), "appealed": _l("appealed"),
    "void": _l("void"),
}
assert set(STATUS_LABELS) == set(CLAIM_STATUSES)

TRANSITIONS = {
    "draft": ("ready", "void"),
    "ready": ("draft", "submitted", "void"),
    "submitted": ("accepted", "rejected"),
    "rejected": ("draft", "void"),
    "accepted": ("paid", "denied"),
    "denied": ("appealed",),
    "appealed": ("paid", "denied"),
    "paid": (),
    "void": (),
}
EDITABLE_STATUSES = ("draft",)
ADJUDICATED_STATUSES = ("accepted", "paid", "denied")  # the payer has the claim under its control number
CORRECTION_KINDS = {"replace": "7", "void": "8"}
RELATIONSHIP_CODES = {"self": "18", "spouse": "01", "child": "19", "other": "G8"}
RESPONSIBILITY_CODES = {1: "P", 2: "S", 3: "T"}
SEX_CODES = {"female": "F", "f": "F", "male": "M", "m": "M"}
MAX_POINTERS = 4
MAX_MODIFIERS = 4


# --------------------------------------------------------------------------- helpers

def status_label(status):
    return STATUS_LABELS.get(status, status)


def reserve_claim_number(session):
    """The next claim number ("C00000042"), taken in the caller's transaction."""
    return f"{CLAIM_PREFIX}{counters.take(session, CLAIM_COUNTER):0{CLAIM_DIGITS}d}"


def _check_version(session, claim, expected_version):
    if expected_version is None or claim.version != expected_version:
        session.rollback()
        raise StaleRecordError()


def _stamp(session, claim, old, new, actor, note=None, now=None):
    session.add(ClaimStatusChange(claim=claim, from_status=old, to_status=new, changed_at=now or utcnow(),
                                  changed_by_fk=actor.id if actor is not None else None,
                                  note=(note or "").strip()[:300] or None))


def _line_values(charge):
    """A claim line's columns from an encounter charge line (the snapshot)."""
    modifiers = (charge.modifiers + [None] * MAX_MODIFIERS)[:MAX_MODIFIERS]
    pointers = (charge.pointers + [None] * MAX_POINTERS)[:MAX_POINTERS]
    return dict(line_number=charge.line_number, charge_line_id=charge.id, code=charge.code,
                modifier1=modifiers[0], modifier2=modifiers[1], modifier3=modifiers[2], modifier4=modifiers[3],
                units=charge.units, charge=line_total(charge), service_date=charge.encounter.service_date,
                place_of_service=charge.place_of_service, pointer1=pointers[0], pointer2=pointers[1],
                pointer3=pointers[2], pointer4=pointers[3], rendering_provider_id=charge.rendering_provider_id)


def _diagnoses_from(diagnoses):
    """Claim diagnoses copied from the encounter's diagnoses (or another claim's): same positions, so the
    lines' pointers keep meaning the same codes."""
    return [ClaimDiagnosis(position=dx.position, code=icd10.normalize(dx.code), code_set_id=dx.code_set_id)
            for dx in diagnoses]


def _copy_line(line):
    return ClaimLine(**{c: getattr(line, c) for c in (
        "line_number", "charge_line_id", "code", "modifier1", "modifier2", "modifier3", "modifier4", "units",
        "charge", "service_date", "place_of_service", "pointer1", "pointer2", "pointer3", "pointer4",
        "rendering_provider_id")})


def _retotal(claim):
    claim.total_charge = sum((Decimal(line.charge) for line in claim.lines), Decimal("0.00"))


def open_claims(session, encounter_id, coverage_id):
    """The encounter's claims to that coverage that are not void."""
    return session.scalars(select(Claim).where(Claim.encounter_id == encounter_id, Claim.coverage_id == coverage_id,
                                               Claim.status != "void").order_by(Claim.id)).all()


# --------------------------------------------------------------------------- build

def build_claim(session, encounter, *, coverage=None, actor=None, now=None):
    """A draft claim (frequency 1) for a ready encounter, its lines a snapshot of the charge lines.

    `coverage` defaults to the patient's active primary coverage on the date of service. One claim
    (not void) per encounter and coverage.
    """
    problems = []
    secondary = coverage is not None and coverage.priority > 1 and encounter.status == "billed"
    if encounter.status != "ready" and not secondary:  # a secondary claim follows the primary's adjudication
        problems.append(("encounter", _l("Only an encounter that is ready to bill can be claimed; finish the "
                                         "encounter and mark it ready first.")))
    if coverage is None:
        primary = [c for c in active_coverages(session, encounter.patient_id, encounter.service_date)
                   if c.priority == 1]
        coverage = primary[0] if primary else None
        if coverage is None:
            problems.append(("coverage", _l("The patient has no active primary coverage on %(date)s: there is no "
                                            "payer to claim from.", date=format_date(encounter.service_date))))
    if coverage is not None:
        if coverage.patient_id != encounter.patient_id:
            problems.append(("coverage", _l("This coverage belongs to another patient.")))
        elif coverage.self_pay or coverage.payer_id is None:
            problems.append(("coverage", _l("A self-pay coverage is billed to the guarantor, not by a claim.")))
        else:
            existing = open_claims(session, encounter.id, coverage.id)
            if existing:
                problems.append(("coverage", _l(
                    "This encounter already has claim %(number)s (%(status)s) for %(payer)s.",
                    number=existing[0].claim_number, status=status_label(existing[0].status),
                    payer=coverage.payer.name)))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    claim = Claim(claim_number=reserve_claim_number(session), encounter_id=encounter.id,
                  patient_id=encounter.patient_id, coverage_id=coverage.id, payer_id=coverage.payer_id,
                  service_date=encounter.service_date, frequency_code="1", status="draft")
    claim.diagnoses = _diagnoses_from(encounter.diagnoses)
    claim.lines = [ClaimLine(**_line_values(charge)) for charge in encounter.charges]
    _retotal(claim)
    _fill_prior_authorization(session, claim, encounter)
    session.add(claim)
    _stamp(session, claim, None, "draft", actor, now=now)
    commit_or_stale(session)
    return claim


def _fill_prior_authorization(session, claim, encounter):
    """An empty prior authorization number takes the number of the valid authorization for the service."""
    if claim.prior_authorization:
        return
    from .authorizations import valid_authorization

    appointment = encounter.appointment
    auth = valid_authorization(session, claim.patient_id, claim.payer_id, claim.service_date,
                               codes=[line.code for line in claim.lines],
                               appointment_type=appointment.type if appointment is not None else None,
                               exclude_claim=claim)
    if auth is not None:
        claim.prior_authorization = auth.number


# --------------------------------------------------------------------------- scrubber

def _billing_problems(session):
    settings = get_settings(session)
    problems = []
    if not settings.billing_name:
        problems.append(("billing_settings", _l("The practice's billing name is missing: complete the billing "
                                                "settings.")))
    if not npi_valid((settings.group_npi or "").strip()):
        problems.append(("billing_settings", _l("The practice's group NPI is missing or not valid: complete the "
                                                "billing settings.")))
    if not settings.tax_id:
        problems.append(("billing_settings", _l("The practice's tax id (EIN) is missing: complete the billing "
                                                "settings.")))
    if not (settings.address_line1 and settings.city and settings.state and settings.postal_code
            and len(settings.postal_code) == 9):
        problems.append(("billing_settings", _l("The practice's billing address is incomplete: street, city, state "
                                                "and the full ZIP+4 are needed.")))
    return problems


def _coverage_problems(claim):
    coverage, day = claim.coverage, claim.service_date
    payer = coverage.payer.name if coverage.payer is not None else _l("Self-pay")
    if (coverage.status != "active" or coverage.effective_date > day
            or (coverage.end_date is not None and coverage.end_date < day)):
        return [("coverage", _l("The coverage with %(payer)s is not active on the date of service %(date)s.",
                                payer=payer, date=format_date(day)))]
    problems = []
    if not coverage.member_id:
        problems.append(("coverage", _l("The coverage with %(payer)s has no member id.", payer=payer)))
    if coverage.subscriber_relationship != "self" and coverage.subscriber_patient is None:
        if not (coverage.subscriber_family_name and coverage.subscriber_given_name):
            problems.append(("subscriber", _l("The subscriber's name is missing on the coverage with %(payer)s.",
                                              payer=payer)))
        if not coverage.subscriber_birth_date:
            problems.append(("subscriber", _l("The subscriber's birth date is missing on the coverage with "
                                              "%(payer)s.", payer=payer)))
        if not coverage.subscriber_sex:
            problems.append(("subscriber", _l("The subscriber's sex is missing on the coverage with %(payer)s.",
                                              payer=payer)))
    return problems


def _npi_problems(claim):
    problems, seen = [], set()
    for line in claim.lines:
        provider = line.rendering_provider
        if provider is None or provider.id in seen:
            continue
        seen.add(provider.id)
        if not npi_valid((provider.npi or "").strip()):
            problems.append(("rendering_provider", _l(
                "The rendering provider %(name)s (line %(line)d) has no valid NPI.", name=provider.display_name,
                line=line.line_number)))
    return problems


def _diagnosis_problems(session, claim):
    diagnoses = claim.diagnoses
    if not diagnoses:
        return [("diagnoses", _l("The claim has no diagnosis."))]
    problems = []
    for dx in diagnoses:
        _row, problem = icd10.lookup(session, dx.code, claim.service_date)
        if problem is not None:
            problems.append(("diagnoses", _l("Diagnosis %(letter)s: %(problem)s", letter=letter(dx.position),
                                             problem=problem)))
    return problems


def _line_problems(claim, today):
    positions = {dx.position for dx in claim.diagnoses}
    if not claim.lines:
        return [("lines", _l("The claim has no service lines."))]
    problems = []
    for line in claim.lines:
        where = dict(line=line.line_number, code=line.code)
        if not line.pointers:
            problems.append(("lines", _l("Line %(line)d (%(code)s) points at no diagnosis.", **where)))
        for pointer in line.pointers:
            if pointer not in positions:
                problems.append(("lines", _l("Line %(line)d (%(code)s) points at diagnosis %(letter)s, which is not "
                                             "on the claim.", letter=letter(pointer), **where)))
        if line.units is None or Decimal(line.units) <= 0:
            problems.append(("lines", _l("Line %(line)d (%(code)s): the units must be more than zero.", **where)))
        if line.charge is None or Decimal(line.charge) <= 0:
            problems.append(("lines", _l("Line %(line)d (%(code)s): the charge must be more than zero.", **where)))
        if line.service_date > today:
            problems.append(("lines", _l("Line %(line)d (%(code)s): the date of service %(date)s is in the future.",
                                         date=format_date(line.service_date), **where)))
    return problems


def _timely_filing_problems(claim, today):
    payer = claim.payer
    days = (today - claim.service_date).days
    if payer is not None and days > payer.timely_filing_days:
        return [("service_date", _l(
            "The timely filing limit of %(payer)s (%(limit)d days after the date of service) has passed: the "
            "service was %(days)d days ago.", payer=payer.name, limit=payer.timely_filing_days, days=days))]
    return []


def _related_claim_ids(claim):
    """This claim and the claim it corrects: their corrections are no duplicates of each other."""
    return {claim.id, claim.original_claim_id} - {None}


def _duplicate_problems(session, claim):
    related = _related_claim_ids(claim)
    query = (select(ClaimLine.code, ClaimLine.service_date, Claim.claim_number)
             .join(Claim, Claim.id == ClaimLine.claim_id)
             .where(Claim.patient_id == claim.patient_id, Claim.status != "void", Claim.frequency_code != "8",
                    Claim.id.notin_(related),
                    or_(Claim.original_claim_id.is_(None), Claim.original_claim_id.notin_(related)),
                    # the same visit billed to another coverage (a secondary claim) repeats its lines by design
                    or_(Claim.encounter_id != claim.encounter_id, Claim.coverage_id == claim.coverage_id)))
    others = {}
    for code, day, number in session.execute(query):
        others.setdefault((code, day), number)
    problems = []
    for line in claim.lines:
        number = others.get((line.code, line.service_date))
        if number is not None:
            problems.append(("lines", _l(
                "Line %(line)d (%(code)s on %(date)s) duplicates claim %(number)s for the same patient.",
                line=line.line_number, code=line.code, date=format_date(line.service_date), number=number)))
    return problems


def prior_authorization_problem(session, claim):
    """The prior authorization rule, in one place (app/services/authorizations.py): a number on the claim
    must be a valid authorization of the patient with the payer for the service and date with units left;
    a visit whose appointment type needs one from the payer needs a valid one."""
    from .authorizations import claim_problem

    return claim_problem(session, claim)


def scrub(session, claim, *, today=None):
    """Every problem that keeps the claim from being sent, as [(field, message)]; [] when clean."""
    today = today or dates.clinic_today()
    problems = (_billing_problems(session) + _coverage_problems(claim) + _npi_problems(claim)
                + _diagnosis_problems(session, claim) + _line_problems(claim, today)
                + _timely_filing_problems(claim, today) + _duplicate_problems(session, claim))
    auth = prior_authorization_problem(session, claim)
    if auth is not None:
        problems.append(auth)
    return problems


# --------------------------------------------------------------------------- lifecycle

def transition(session, claim, to_status, *, actor, note=None, expected_version, today=None, now=None, commit=True):
    """Move a claim along TRANSITIONS, stamped (who, when); illegal moves and unscrubbed claims refused.

    commit=False leaves the commit to the caller (a batch that marks all its claims submitted or none)."""
    old = claim.status
    if to_status not in TRANSITIONS.get(old, ()):
        session.rollback()
        raise ValidationFailed([("status", _l("Claim %(number)s is %(current)s: it cannot become %(new)s.",
                                              number=claim.claim_number, current=status_label(old),
                                              new=STATUS_LABELS.get(to_status, _l("Unknown value."))))])
    _check_version(session, claim, expected_version)
    if to_status == "ready":
        problems = scrub(session, claim, today=today)
        if problems:
            session.rollback()
            raise ValidationFailed(problems)
    now = now or utcnow()
    claim.status = to_status
    if to_status == "submitted":
        claim.submitted_at = now
    follow_claim(session, claim)  # the encounter: billed when submitted, ready again when rejected
    _stamp(session, claim, old, to_status, actor, note, now)
    if commit:
        commit_or_stale(session)
    return claim


def _check_editable(session, claim, expected_version):
    if claim.status not in EDITABLE_STATUSES:
        session.rollback()
        raise ValidationFailed([(None, _l("Claim %(number)s is %(status)s: it can only be changed while it is a "
                                          "draft.", number=claim.claim_number, status=status_label(claim.status)))])
    _check_version(session, claim, expected_version)


LINE_FIELDS = ("code", "modifiers", "units", "charge", "pointers", "place_of_service")


def update_line(session, claim, line, *, expected_version, actor=None, **values):
    """Change a draft claim's line (keywords LINE_FIELDS); the scrubber judges the values later."""
    _check_editable(session, claim, expected_version)
    if line is None or line.claim_id != claim.id:
        raise ValidationFailed([(None, _l("This line is not part of the claim."))])
    problems = [(key, _l("Unknown value.")) for key in values if key not in LINE_FIELDS]
    for key in ("units", "charge"):
        if key in values:
            try:
                values[key] = Decimal(str(values[key]).strip())
            except InvalidOperation:
                problems.append((key, _l("Enter a number.")))
    if "pointers" in values and not all(isinstance(p, int) and 1 <= p <= 12 for p in values["pointers"] or []):
        problems.append(("pointers", _l("Point at diagnoses A to L.")))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    if "modifiers" in values:
        mods = (list(values.pop("modifiers") or []) + [None] * MAX_MODIFIERS)[:MAX_MODIFIERS]
        line.modifier1, line.modifier2, line.modifier3, line.modifier4 = mods
    if "pointers" in values:
        ptrs = (list(values.pop("pointers") or []) + [None] * MAX_POINTERS)[:MAX_POINTERS]
        line.pointer1, line.pointer2, line.pointer3, line.pointer4 = ptrs
    for key, value in values.items():
        setattr(line, key, value)
    _retotal(claim)
    commit_or_stale(session)
    return line


def refresh_lines(session, claim, *, expected_version, actor=None):
    """Take the diagnoses and lines again from the encounter as it is now (a draft being fixed after a
    rejection)."""
    _check_editable(session, claim, expected_version)
    for row in list(claim.diagnoses) + list(claim.lines):
        session.delete(row)  # explicitly: the audit trail records deletions the session was told of
    session.flush()  # the old rows go first: positions and line numbers are unique per claim
    session.expire(claim, ["diagnoses", "lines"])
    claim.diagnoses = _diagnoses_from(claim.encounter.diagnoses)
    claim.lines = [ClaimLine(**_line_values(charge)) for charge in claim.encounter.charges]
    _retotal(claim)
    commit_or_stale(session)
    return claim


def set_prior_authorization(session, claim, value, *, expected_version, actor=None):
    _check_editable(session, claim, expected_version)
    claim.prior_authorization = (value or "").strip()[:50] or None
    commit_or_stale(session)
    return claim


def set_payer_control_number(session, claim, value):
    """Store the payer's claim control number (CLP07 of the remittance)."""
    value = (value or "").strip()
    if not value:
        raise ValidationFailed([("payer_claim_control_number", _l("This field is required."))])
    if len(value) > 50:
        raise ValidationFailed([("payer_claim_control_number", _l("At most %(max)d characters.", max=50))])
    claim.payer_claim_control_number = value
    commit_or_stale(session)
    return claim


def correct(session, claim, *, kind, actor, now=None):
    """A replacement (7, diagnoses and lines from the encounter as it is now) or void (8, the original's
    diagnoses and lines) of an adjudicated claim; it carries the payer's claim control number and starts as a draft."""
    problems = []
    if kind not in CORRECTION_KINDS:
        problems.append(("kind", _l("Choose a replacement or a void.")))
    if claim.status not in ADJUDICATED_STATUSES:
        problems.append(("status", _l(
            "Claim %(number)s is %(status)s: only a claim the payer accepted, paid or denied is corrected by a "
            "replacement or void; change a draft directly.", number=claim.claim_number,
            status=status_label(claim.status))))
    if not claim.payer_claim_control_number:
        problems.append(("payer_claim_control_number", _l(
            "Claim %(number)s has no payer claim control number yet: a replacement or void must carry it. Post the "
            "payer's remittance first.", number=claim.claim_number)))
    pending = session.scalars(select(Claim).where(Claim.original_claim_id == claim.id,
                                                  Claim.status.in_(("draft", "ready", "submitted")))).first()
    if pending is not None:
        problems.append(("status", _l("Claim %(number)s already corrects this claim and is %(status)s.",
                                      number=pending.claim_number, status=status_label(pending.status))))
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    new = Claim(claim_number=reserve_claim_number(session), encounter_id=claim.encounter_id,
                patient_id=claim.patient_id, coverage_id=claim.coverage_id, payer_id=claim.payer_id,
                service_date=claim.service_date, frequency_code=CORRECTION_KINDS[kind], original_claim_id=claim.id,
                prior_authorization=claim.prior_authorization, status="draft")
    if kind == "replace":
        new.diagnoses = _diagnoses_from(claim.encounter.diagnoses)
        new.lines = [ClaimLine(**_line_values(charge)) for charge in claim.encounter.charges]
    else:
        new.diagnoses = _diagnoses_from(claim.diagnoses)
        new.lines = [_copy_line(line) for line in claim.lines]
    _retotal(new)
    session.add(new)
    _stamp(session, new, None, "draft", actor, now=now)
    commit_or_stale(session)
    return new


# --------------------------------------------------------------------------- the claim as data

def _address(line1, line2, city, state, postal_code):
    if not line1:
        return None
    return Address(line1=line1, line2=line2 or None, city=city or "", state=state or "",
                   postal_code=(postal_code or "").replace("-", "").replace(" ", ""))


def _sex(value):
    return SEX_CODES.get((value or "").strip().lower(), "U")


def _patient_party(patient, member_id=None):
    return Party(name=patient.family_name, given_name=patient.given_name, middle_name=patient.middle_name,
                 address=_address(patient.address_line1, patient.address_line2, patient.city, patient.state,
                                  patient.postal_code),
                 id_qualifier="MI" if member_id else None, id=member_id, birth_date=patient.birth_date,
                 sex=_sex(patient.sex))


def _subscriber_party(coverage):
    if coverage.subscriber_relationship == "self":
        return _patient_party(coverage.patient, coverage.member_id)
    if coverage.subscriber_patient is not None:
        return _patient_party(coverage.subscriber_patient, coverage.member_id)
    patient = coverage.patient  # a described subscriber: the household's address is the patient's
    return Party(name=coverage.subscriber_family_name or "", given_name=coverage.subscriber_given_name,
                 address=_address(patient.address_line1, patient.address_line2, patient.city, patient.state,
                                  patient.postal_code),
                 id_qualifier="MI", id=coverage.member_id, birth_date=coverage.subscriber_birth_date,
                 sex=_sex(coverage.subscriber_sex))


def _provider_party(provider):
    if provider is None:
        return None
    return Party(name=provider.family_name, given_name=provider.given_name, id_qualifier="XX", id=provider.npi)


def claim_data(session, claim):
    """The claim as plain data (app.claims.ClaimData) for the 837P and CMS-1500 writers."""
    settings = get_settings(session)
    encounter, coverage, payer = claim.encounter, claim.coverage, claim.payer
    billing = Party(name=settings.billing_name or "", id_qualifier="XX", id=settings.group_npi,
                    address=_address(settings.address_line1, settings.address_line2, settings.city, settings.state,
                                     settings.postal_code),
                    tax_id=settings.tax_id, taxonomy=settings.taxonomy_code, phone=settings.phone)
    pay_to = _address(settings.pay_to_line1, settings.pay_to_line2, settings.pay_to_city, settings.pay_to_state,
                      settings.pay_to_postal_code)
    diagnoses = list(claim.diagnoses)  # the claim's own snapshot: a sent claim never changes
    index = {dx.position: i for i, dx in enumerate(diagnoses, start=1)}
    rendering = encounter.provider
    lines = []
    for line in claim.lines:
        other = line.rendering_provider if line.rendering_provider_id not in (None, encounter.provider_id) else None
        lines.append(ClaimLineData(
            number=line.line_number, code=line.code, modifiers=line.modifiers, units=Decimal(line.units),
            charge=Decimal(line.charge), service_date=line.service_date, place_of_service=line.place_of_service,
            pointers=[index[p] for p in line.pointers if p in index], rendering=_provider_party(other)))
    facility = encounter.service_facility
    service_facility = None
    if facility is not None:
        service_facility = Party(name=facility.name, id_qualifier="XX" if facility.npi else None, id=facility.npi,
                                 address=_address(facility.address_line1, facility.address_line2, facility.city,
                                                  facility.state, facility.postal_code))
    relationship = RELATIONSHIP_CODES.get(coverage.subscriber_relationship, "G8")
    subscriber = _subscriber_party(coverage)
    from .posting import other_payers  # a secondary claim carries what the primary payer did (2320 / 2430)

    others, line_adjudications = other_payers(session, claim)
    for line in lines:
        line.other_payer = line_adjudications.get(line.number, [])
    original = claim.original_claim
    return ClaimData(
        claim_number=claim.claim_number, frequency=claim.frequency_code,
        payer_claim_control_number=original.payer_claim_control_number if original is not None else None,
        total_charge=sum((line.charge for line in lines), Decimal("0.00")),
        place_of_service=encounter.place_of_service, billing_provider=billing, pay_to=pay_to,
        subscriber=subscriber, relationship=relationship,
        patient=subscriber if relationship == "18" else _patient_party(claim.patient),
        payer=Party(name=payer.name, id_qualifier="PI", id=payer.payer_code,
                    address=_address(payer.address_line1, payer.address_line2, payer.city, payer.state,
                                     payer.postal_code)),
        claim_filing_indicator=payer.claim_filing_indicator,
        payer_responsibility=RESPONSIBILITY_CODES.get(coverage.priority, "P"),
        member_group=coverage.group_number, plan_name=coverage.plan_name,
        rendering_provider=_provider_party(rendering), service_facility=service_facility,
        diagnoses=[icd10.normalize(dx.code) for dx in diagnoses], lines=lines,
        prior_authorization=claim.prior_authorization, other_payers=others,
        signature_date=claim.submitted_at.date() if claim.submitted_at is not None else None,
    )
