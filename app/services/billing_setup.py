"""Practice billing settings, service facilities and payers: what the 837P and CMS-1500 need.

Each check returns a list of (field, message) problems; the record validators gather all of
them at once and raise ValidationFailed. Views use the same checks as form validators.
"""
import re

from flask_babel import lazy_gettext as _l

from ..models.billing import CLAIM_FILING_INDICATORS, BillingSettings
from .checkdigits import npi_valid
from .errors import StaleRecordError, ValidationFailed, commit_or_stale

CLAIM_FILING_LABELS = {
    "CI": _l("Commercial insurance"), "BL": _l("Blue Cross / Blue Shield"), "HM": _l("HMO"),
    "MA": _l("Medicare Part A"), "MB": _l("Medicare Part B"), "MC": _l("Medicaid"), "CH": _l("TRICARE (CHAMPUS)"),
    "VA": _l("Veterans Affairs plan"), "WC": _l("Workers' compensation"), "OF": _l("Other federal program"),
    "11": _l("Other non-federal program"), "12": _l("Preferred provider organization (PPO)"),
    "13": _l("Point of service (POS)"), "14": _l("Exclusive provider organization (EPO)"),
    "15": _l("Indemnity insurance"), "16": _l("Health maintenance organization (HMO) Medicare risk"),
    "17": _l("Dental maintenance organization"), "AM": _l("Automobile medical"), "DS": _l("Disability"),
    "LM": _l("Liability medical"), "TV": _l("Title V"), "ZZ": _l("Mutually defined"),
}
USAGE_LABELS = {"T": _l("Test"), "P": _l("Production")}
TIMELY_FILING_RANGE = (1, 730)
ISA_ID_MAX = 15

_EIN = re.compile(r"^\d{9}$")
_TAXONOMY = re.compile(r"^\d{3}[A-Z0-9]{6}X$")
_STATE = re.compile(r"^[A-Z]{2}$")
_ZIP = re.compile(r"^\d{5}(\d{4})?$")
_ISA_QUALIFIER = re.compile(r"^[A-Z0-9]{2}$")
_PLACE_OF_SERVICE = re.compile(r"^\d{2}$")


def normalize_zip(value):
    """"02139-4307" -> "021394307" (837P wants the digits only)."""
    return re.sub(r"[\s-]", "", value or "") or None


def check_npi(value, field="npi"):
    if value and not npi_valid(value.strip()):
        return [(field, _l("Not a valid NPI: 10 digits with a correct check digit."))]
    return []


def check_ein(value, field="tax_id"):
    if value and not _EIN.match(value.replace("-", "").strip()):
        return [(field, _l("The tax id (EIN) has 9 digits, e.g. 12-3456789."))]
    return []


def check_taxonomy(value, field="taxonomy_code"):
    if value and not _TAXONOMY.match(value.strip().upper()):
        return [(field, _l("A taxonomy code has 10 characters: 3 digits, 6 letters or digits, then X "
                           "(e.g. 207Q00000X)."))]
    return []


def check_state(value, field="state"):
    if value and not _STATE.match(value.strip().upper()):
        return [(field, _l("The state is its 2-letter code, e.g. MA."))]
    return []


def check_zip(value, field="postal_code", plus4=False):
    if not value:
        return []
    digits = normalize_zip(value)
    if not _ZIP.match(digits or ""):
        return [(field, _l("The ZIP code has 5 or 9 digits (ZIP+4), e.g. 02139 or 02139-4307."))]
    if plus4 and len(digits) != 9:
        return [(field, _l("The billing address needs the full ZIP+4 (9 digits, e.g. 02139-4307): "
                           "claims are refused without it."))]
    return []


def check_isa_id(value, field):
    if value and len(value.strip()) > ISA_ID_MAX:
        return [(field, _l("An interchange id has at most %(max)d characters.", max=ISA_ID_MAX))]
    return []


def check_isa_qualifier(value, field):
    if value and not _ISA_QUALIFIER.match(value.strip().upper()):
        return [(field, _l("An interchange id qualifier has 2 letters or digits, e.g. ZZ."))]
    return []


def check_usage(value, field="usage_indicator"):
    if value not in USAGE_LABELS:
        return [(field, _l("Choose test or production."))]
    return []


def check_timely_filing(value, field="timely_filing_days"):
    low, high = TIMELY_FILING_RANGE
    if value is None or not isinstance(value, int) or not low <= value <= high:
        return [(field, _l("Timely filing is %(low)d to %(high)d days.", low=low, high=high))]
    return []


def check_claim_filing_indicator(value, field="claim_filing_indicator"):
    if value not in CLAIM_FILING_INDICATORS:
        return [(field, _l("Choose a claim filing indicator."))]
    return []


def check_place_of_service(value, field="place_of_service"):
    if not value or not _PLACE_OF_SERVICE.match(value.strip()):
        return [(field, _l("The place of service is a 2-digit code, e.g. 11 (office)."))]
    return []


def _address_problems(obj, prefix="", plus4=False):
    return (check_state(getattr(obj, prefix + "state"), prefix + "state")
            + check_zip(getattr(obj, prefix + "postal_code"), prefix + "postal_code", plus4=plus4))


def _normalize_address(obj, prefix=""):
    state = getattr(obj, prefix + "state")
    setattr(obj, prefix + "state", state.strip().upper() if state else None)
    setattr(obj, prefix + "postal_code", normalize_zip(getattr(obj, prefix + "postal_code")))


def _strip_text(obj, names):
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, str):
            setattr(obj, name, value.strip() or None)


def validate_payer(payer):
    """Check (and normalise) a Payer before it is saved; every problem at once."""
    _strip_text(payer, ("name", "payer_code", "address_line1", "address_line2", "city", "phone"))
    problems = []
    if not payer.name:
        problems.append(("name", _l("This field is required.")))
    if not payer.payer_code:
        problems.append(("payer_code", _l("This field is required.")))
    problems += (check_claim_filing_indicator(payer.claim_filing_indicator)
                 + check_timely_filing(payer.timely_filing_days) + _address_problems(payer))
    if problems:
        raise ValidationFailed(problems)
    _normalize_address(payer)
    return payer


def validate_facility(facility):
    """Check (and normalise) a ServiceFacility before it is saved."""
    _strip_text(facility, ("name", "npi", "address_line1", "address_line2", "city"))
    problems = []
    for name in ("name", "address_line1", "city", "state", "postal_code"):
        if not getattr(facility, name):
            problems.append((name, _l("This field is required.")))
    problems += (check_npi(facility.npi) + check_place_of_service(facility.place_of_service)
                 + _address_problems(facility))
    if problems:
        raise ValidationFailed(problems)
    _normalize_address(facility)
    return facility


_NOT_EDITABLE = {"id", "version", "created_on", "changed_on", "created_by_fk", "changed_by_fk"}
SETTINGS_FIELDS = tuple(c.name for c in BillingSettings.__table__.columns if c.name not in _NOT_EDITABLE)


def get_settings(session):
    """The practice's billing settings (row 1), or an unsaved empty one."""
    return session.get(BillingSettings, 1) or BillingSettings(id=1, usage_indicator="T", isa_sender_qualifier="ZZ",
                                                             isa_receiver_qualifier="ZZ")


def save_settings(session, values, *, expected_version=None):
    """Validate and store the billing settings; every problem at once, nothing written on error."""
    v = {k: (values.get(k).strip() or None) if isinstance(values.get(k), str) else values.get(k)
         for k in SETTINGS_FIELDS}
    for key in ("state", "pay_to_state", "taxonomy_code", "isa_sender_qualifier", "isa_receiver_qualifier",
                "usage_indicator"):
        if v.get(key):
            v[key] = v[key].upper()
    if v.get("tax_id"):
        v["tax_id"] = v["tax_id"].replace("-", "")
    v["postal_code"] = normalize_zip(v.get("postal_code"))
    v["pay_to_postal_code"] = normalize_zip(v.get("pay_to_postal_code"))
    problems = []
    for name in ("billing_name", "group_npi", "tax_id", "address_line1", "city", "state", "postal_code"):
        if not v.get(name):
            problems.append((name, _l("This field is required.")))
    problems += (check_npi(v.get("group_npi"), "group_npi") + check_ein(v.get("tax_id"))
                 + check_taxonomy(v.get("taxonomy_code"))
                 + check_state(v.get("state"), "state") + check_zip(v.get("postal_code"), "postal_code", plus4=True)
                 + check_state(v.get("pay_to_state"), "pay_to_state")
                 + check_zip(v.get("pay_to_postal_code"), "pay_to_postal_code")
                 + check_isa_qualifier(v.get("isa_sender_qualifier"), "isa_sender_qualifier")
                 + check_isa_qualifier(v.get("isa_receiver_qualifier"), "isa_receiver_qualifier")
                 + check_isa_id(v.get("isa_sender_id"), "isa_sender_id")
                 + check_isa_id(v.get("isa_receiver_id"), "isa_receiver_id")
                 + check_usage(v.get("usage_indicator")))
    if v.get("pay_to_line1") and not (v.get("pay_to_city") and v.get("pay_to_state") and v.get("pay_to_postal_code")):
        problems.append(("pay_to_line1", _l("A pay-to address needs a city, state and ZIP code too.")))
    for column in BillingSettings.__table__.columns:
        value, limit = v.get(column.name), getattr(column.type, "length", None)
        if isinstance(value, str) and limit and len(value) > limit:
            problems.append((column.name, _l("At most %(max)d characters.", max=limit)))
    if problems:
        raise ValidationFailed(problems)
    settings = session.get(BillingSettings, 1)
    if settings is None:
        settings = BillingSettings(id=1)
        session.add(settings)
    elif expected_version is not None and settings.version != expected_version:
        raise StaleRecordError()
    for key, value in v.items():
        setattr(settings, key, value)
    commit_or_stale(session)
    return settings
