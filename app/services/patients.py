"""Patient registry rules: registration, updates, duplicates, merge. Every door calls these."""
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..models import Model, Patient, PatientSearchTerm, Provider
from ..models.base import utcnow
from ..models.patient import GENDER_IDENTITIES, GUARANTOR_RELATIONSHIPS, SEXES
from . import audit, languages, phones
from . import counters
from . import ssn as ssn_service
from .checkdigits import luhn_check_digit
from .errors import DomainError, MergeError, NotFoundError, StaleRecordError, ValidationFailed
from .text import fold, tokens

MRN_COUNTER = "mrn"
MRN_START = 1000000
ADULT_AGE = 18
PHONE_FIELDS = ("phone_home", "phone_mobile", "phone_work")
OTHER_PHONE_FIELDS = ("emergency_contact_phone", "guardian_phone", "guarantor_phone")
EDITABLE_FIELDS = (
    "family_name", "given_name", "middle_name", "preferred_name", "birth_date", "sex",
    "gender_identity", "address_line1", "address_line2", "city", "state", "postal_code",
    "country", "phone_home", "phone_mobile", "phone_work", "email", "preferred_language",
    "interpreter_needed", "hipaa_notice_ack_date", "consent_voicemail", "consent_sms",
    "consent_email", "emergency_contact_name", "emergency_contact_relationship",
    "emergency_contact_phone", "guardian_name", "guardian_relationship", "guardian_phone",
    "guarantor_relationship", "guarantor_patient_id", "guarantor_name", "guarantor_phone",
    "guarantor_address", "guarantor_language", "primary_provider_id", "status",
    "deceased_date", "notes", "restricted",
)
BOOL_FIELDS = ("interpreter_needed", "consent_voicemail", "consent_sms", "consent_email", "restricted")
DATE_FIELDS = ("birth_date", "hipaa_notice_ack_date", "deceased_date")


class PossibleDuplicate(DomainError):
    """Registration matches existing patients; the user must confirm it is someone else."""

    status_code = 409
    default_message = _l(
        "This patient may already be registered. Check the matches below; "
        "register anyway only if this is a different person."
    )

    def __init__(self, candidates):
        self.candidates = candidates
        super().__init__()


# --------------------------------------------------------------------------- cleaning

def _length_limits():
    return {
        c.name: c.type.length
        for c in Patient.__table__.columns
        if isinstance(c.type, String) and c.type.length
    }


def clean(data, *, today=None, region="US", current=None, session=None):
    """Validate and normalise patient fields; raise ValidationFailed listing every problem.

    `data` holds any subset of EDITABLE_FIELDS (strings as typed, dates as date objects).
    With `current` (an existing patient) missing fields keep the current values.
    """
    today = today or date.today()
    problems = []
    out = {}
    limits = _length_limits()
    for field in EDITABLE_FIELDS:
        if field in data:
            value = data[field]
        elif current is not None:
            value = getattr(current, field)
        else:
            value = None
        if isinstance(value, str):
            value = value.strip() or None
        if field in BOOL_FIELDS:
            value = bool(value)
        out[field] = value

    for field, value in out.items():
        limit = limits.get(field)
        if isinstance(value, str) and limit and len(value) > limit:
            problems.append((field, _l("At most %(n)d characters (%(got)d given).", n=limit, got=len(value))))
    for field in DATE_FIELDS:
        if out[field] is not None and not isinstance(out[field], date):
            problems.append((field, _l("Not a valid date.")))
            out[field] = None

    for field in ("family_name", "given_name", "birth_date"):
        if out[field] is None:
            problems.append((field, _l("This field is required.")))

    birth = out["birth_date"]
    if birth is not None:
        if birth > today:
            problems.append(("birth_date", _l("The birth date cannot be in the future.")))
        elif birth.year < today.year - 130:
            problems.append(("birth_date", _l("The birth date is more than 130 years ago.")))

    out["sex"] = out["sex"] or "unknown"
    if out["sex"] not in SEXES:
        problems.append(("sex", _l("Unknown value.")))
    if out["gender_identity"] is not None and out["gender_identity"] not in GENDER_IDENTITIES:
        problems.append(("gender_identity", _l("Unknown value.")))

    if out["country"] is not None:
        out["country"] = out["country"].upper()
        if len(out["country"]) != 2 or not out["country"].isalpha():
            problems.append(("country", _l("Use the two-letter country code (ISO 3166), e.g. US.")))
    phone_region = out["country"] or region
    for field in PHONE_FIELDS + OTHER_PHONE_FIELDS:
        try:
            out[field] = phones.normalize(out[field], phone_region)
        except phones.PhoneError as exc:
            problems.append((field, exc.args[0]))

    if out["email"] is not None:
        try:
            out["email"] = validate_email(out["email"], check_deliverability=False).normalized
        except EmailNotValidError:
            problems.append(("email", _l("“%(value)s” is not a valid e-mail address.", value=out["email"])))

    for field in ("preferred_language", "guarantor_language"):
        value = out[field]
        if value is None:
            continue
        if not languages.is_valid(value):
            problems.append((field, _l("Unknown language “%(value)s”.", value=value)))
    if out["preferred_language"] is None:
        problems.append(("preferred_language", _l("This field is required.")))

    status = out["status"] or "active"
    out["status"] = status
    if current is None and status not in ("active", "inactive"):
        problems.append(("status", _l("A new patient is active or inactive.")))
    elif status == "merged" and (current is None or current.status != "merged"):
        problems.append(("status", _l("Use “Merge” to merge duplicate records.")))
    elif status not in ("active", "inactive", "deceased", "merged"):
        problems.append(("status", _l("Unknown value.")))
    if status == "deceased":
        if out["deceased_date"] is None:
            problems.append(("deceased_date", _l("Enter the date of death.")))
        elif out["deceased_date"] > today:
            problems.append(("deceased_date", _l("The date of death cannot be in the future.")))
        elif birth is not None and out["deceased_date"] < birth:
            problems.append(("deceased_date", _l("The date of death is before the birth date.")))
    elif out["deceased_date"] is not None:
        problems.append(("deceased_date", _l("A date of death needs the status “deceased”.")))

    ack = out["hipaa_notice_ack_date"]
    if ack is not None and ack > today:
        problems.append(("hipaa_notice_ack_date", _l("This date cannot be in the future.")))

    if birth is not None and age_on(birth, today) < ADULT_AGE and out["status"] != "deceased":
        if not out["guardian_name"]:
            problems.append(("guardian_name", _l("A patient under 18 needs a parent or guardian.")))

    rel = out["guarantor_relationship"] or "self"
    out["guarantor_relationship"] = rel
    if rel not in GUARANTOR_RELATIONSHIPS:
        problems.append(("guarantor_relationship", _l("Unknown value.")))
    elif rel == "self":
        for field in ("guarantor_patient_id", "guarantor_name", "guarantor_phone", "guarantor_address", "guarantor_language"):
            out[field] = None
    elif out["guarantor_patient_id"] is None and not out["guarantor_name"]:
        problems.append(("guarantor_name", _l("Name the guarantor, or choose “self”.")))
    if session is not None and out["guarantor_patient_id"] is not None:
        guarantor = session.get(Patient, out["guarantor_patient_id"])
        if guarantor is None or guarantor.status == "merged" or (current is not None and guarantor.id == current.id):
            problems.append(("guarantor_patient_id", _l("Choose another registered patient as guarantor.")))

    if session is not None and out["primary_provider_id"] is not None:
        provider = session.get(Provider, out["primary_provider_id"])
        if provider is None or not provider.active:
            problems.append(("primary_provider_id", _l("Choose an active provider.")))

    # SSN: write-only. A typed number replaces the one on file, "ssn_remove" clears it,
    # otherwise the stored values are left alone (not in `out`).
    raw_ssn = data.get("ssn")
    ssn_digits = None
    if isinstance(raw_ssn, str) and raw_ssn.strip():
        ssn_digits, message = ssn_service.parse(raw_ssn)
        if message is not None:
            problems.append(("ssn", message))

    if problems:
        raise ValidationFailed(problems)
    if ssn_digits is not None:
        out.update(ssn_service.stored(ssn_digits))
    elif data.get("ssn_remove"):
        out.update(ssn_encrypted=None, ssn_last4=None)
    return out


def age_on(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# --------------------------------------------------------------------------- search keys

def written_without_spaces(text):
    """Whether text is in a script that writes a full name without spaces (Han, kana, Hangul)."""
    return any(
        "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af"
        or "\uf900" <= ch <= "\ufaff" for ch in text
    )


def search_terms_for(patient_fields):
    """Folded name tokens and phone keys that find this patient (shared with bulk seeding)."""
    terms = set()
    for field in ("family_name", "given_name", "middle_name", "preferred_name"):
        terms.update(tokens(patient_fields.get(field)))
    family, given = patient_fields.get("family_name") or "", patient_fields.get("given_name") or ""
    if written_without_spaces(family + given):
        # Chinese, Japanese and Korean names are written family-then-given with no space
        # (赵玉华): index the whole name too, so typing it as written finds the patient.
        terms.update(tokens(family.replace(" ", "") + given.replace(" ", "")))
    for field in PHONE_FIELDS:
        key = phones.search_key(patient_fields.get(field))
        if key:
            terms.add(key)
    return terms


def name_search_for(patient_fields):
    parts = [patient_fields.get(f) for f in ("family_name", "given_name", "middle_name", "preferred_name")]
    return " ".join(" ".join(tokens(p)) for p in parts if p)[:420]


def _sync_search_keys(session, flush_context, instances):
    """Keep derived search columns in step with every patient change, whatever the door."""
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, Patient):
            continue
        fields = {f: getattr(obj, f) for f in ("family_name", "given_name", "middle_name", "preferred_name") + PHONE_FIELDS}
        obj.name_search = name_search_for(fields)
        wanted = search_terms_for(fields)
        current = {t.term: t for t in obj.search_terms}
        if set(current) != wanted:
            obj.search_terms = [current.get(t) or PatientSearchTerm(term=t) for t in sorted(wanted)]


event.listen(Session, "before_flush", _sync_search_keys)


# --------------------------------------------------------------------------- MRNs

def reserve_mrns(session, count=1):
    """Reserve `count` new MRNs (8+ digits, last one a Luhn check digit); never reused."""
    last = counters.take(session, MRN_COUNTER, count, first=MRN_START)
    first = last - count + 1
    return [f"{n}{luhn_check_digit(str(n))}" for n in range(first, last + 1)]


# --------------------------------------------------------------------------- duplicates

def find_duplicates(session, fields, exclude_id=None):
    """Patients with the same folded name and birth date (names swapped too), or a shared phone."""
    found = {}
    family, given = fold(fields.get("family_name")), fold(fields.get("given_name"))
    if fields.get("birth_date"):
        rows = session.scalars(
            select(Patient).where(Patient.birth_date == fields["birth_date"], Patient.status != "merged")
        )
        for p in rows:
            pf, pg = fold(p.family_name), fold(p.given_name)
            if (pf, pg) in ((family, given), (given, family)):
                found[p.id] = p
    keys = {phones.search_key(fields.get(f)) for f in PHONE_FIELDS} - {None}
    if keys:
        rows = session.scalars(
            select(Patient)
            .join(PatientSearchTerm)
            .where(PatientSearchTerm.term.in_(keys), Patient.status != "merged")
            .limit(20)
        )
        for p in rows:
            found.setdefault(p.id, p)
    found.pop(exclude_id, None)
    return sorted(found.values(), key=lambda p: (p.family_name, p.given_name))


# --------------------------------------------------------------------------- use cases

def register(session, data, *, allow_duplicate=False, today=None, region="US"):
    """Create a patient with a new MRN. Raises ValidationFailed or PossibleDuplicate."""
    fields = clean(data, today=today, region=region, session=session)
    if not allow_duplicate:
        candidates = find_duplicates(session, fields)
        if candidates:
            raise PossibleDuplicate(candidates)
    patient = Patient(**fields)
    patient.mrn = reserve_mrns(session)[0]
    session.add(patient)
    session.commit()
    return patient


def update_patient(session, patient, data, *, expected_version, today=None, region="US"):
    """Apply changes unless someone saved the record since `expected_version` was read."""
    if patient.status == "merged":
        raise MergeError(_l("This record was merged into another one and can no longer be edited."))
    if expected_version is None or int(expected_version) != patient.version:
        session.rollback()
        raise StaleRecordError()
    fields = clean(data, today=today, region=region, current=patient, session=session)
    for field, value in fields.items():
        setattr(patient, field, value)
    try:
        session.commit()
    except StaleDataError:
        # Someone committed between our read and our write: the version check in
        # the UPDATE matched no row.
        session.rollback()
        raise StaleRecordError() from None
    return patient


def get_patient(session, patient_id):
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError()
    return patient


def follow_merges(session, patient):
    """The surviving record for a (possibly merged) patient."""
    seen = set()
    while patient.merged_into_id is not None and patient.id not in seen:
        seen.add(patient.id)
        patient = session.get(Patient, patient.merged_into_id)
    return patient


def _patient_references():
    """(table, column) of every foreign key to patient.id that a merge must move."""
    refs = []
    for table in Model.metadata.sorted_tables:
        if table.info.get("merge") == "keep":
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "patient" and fk.column.name == "id":
                refs.append((table, fk.parent))
    return refs


def merge(session, *, source_id, target_id):
    """Merge duplicate `source` into `target`: move every related record, keep source as merged.

    Tables marked info={"merge": "keep"} (audit, disclosures, derived search keys)
    are never rewritten.
    """
    if source_id == target_id:
        raise MergeError(_l("Choose two different patients to merge."))
    source, target = get_patient(session, source_id), get_patient(session, target_id)
    if source.status == "merged" or target.status == "merged":
        raise MergeError(_l("One of these records is already merged; merge into the surviving record."))
    moved = {}
    try:
        for table, column in _patient_references():
            values = {column.name: target.id}
            if table.name == "patient":
                values["version"] = table.c.version + 1
            result = session.execute(table.update().where(column == source.id).values(**values))
            if result.rowcount:
                moved[f"{table.name}.{column.name}"] = result.rowcount
        session.expire_all()
        source, target = get_patient(session, source_id), get_patient(session, target_id)
        if target.guarantor_patient_id == target.id:
            target.guarantor_patient_id = None
            target.guarantor_relationship = "self"
        source.status = "merged"
        source.merged_into_id = target.id
        source.merged_on = utcnow()
        audit.append(
            session.connection(), action="merge", object_type="Patient", object_id=source.id,
            patient_id=target.id, details={"merged": source.mrn, "into": target.mrn, "moved": moved},
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise MergeError(
            _l("The two records hold conflicting data (for example the same coverage twice); resolve it first.")
        ) from None
    except StaleDataError:
        session.rollback()
        raise StaleRecordError() from None
    return target


def address_lines(patient, default_country="US"):
    """Postal address lines in the order the patient's country writes them."""
    country = patient.country or default_country
    if country in ("US", "CA", "AU"):
        last = ", ".join(p for p in (patient.city, " ".join(x for x in (patient.state, patient.postal_code) if x)) if p)
    else:
        last = " ".join(p for p in (patient.postal_code, patient.city) if p)
        if patient.state:
            last = f"{last}, {patient.state}" if last else patient.state
    lines = [patient.address_line1, patient.address_line2, last]
    if patient.country and patient.country != default_country:
        lines.append(patient.country)
    return [line for line in lines if line]
