"""Phone numbers: parse what staff type, store E.164, show it nationally."""
import phonenumbers
from flask_babel import lazy_gettext as _l


class PhoneError(ValueError):
    pass


def normalize(raw, default_region):
    """Return the E.164 form of raw, or raise PhoneError with a translated message."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise PhoneError(_l("“%(value)s” is not a phone number.", value=raw)) from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(_l("“%(value)s” is not a valid phone number.", value=raw))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def search_key(e164):
    """Digits of the national significant number: what staff type to find a patient."""
    if not e164:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.national_significant_number(number)


def display(e164, default_region):
    """National format for numbers of the clinic's country, international otherwise."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(number) == default_region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
