"""Social Security numbers: validated, stored only encrypted (plus the last four digits).

The number is encrypted with app/services/crypto (FIELD_ENCRYPTION_KEY, rotation included)
into Patient.ssn_encrypted; Patient.ssn_last4 is what lists, search and reports show
(masked, `***-**-1234`). The full number leaves the database only through `reveal()`.
"""
import re

from flask_babel import lazy_gettext as _l

from . import crypto

# Numbers printed on sample cards and in advertising, never issued to a person.
KNOWN_FAKES = {"078051120", "219099999", "123456789", "111111111", "333333333", "987654320",
               "987654321", "987654322", "987654323", "987654324", "987654325", "987654326",
               "987654327", "987654328", "987654329"}
_TYPED = re.compile(r"^\d{3}-?\d{2}-?\d{4}$")


def parse(raw):
    """(9 digits, None) for a valid SSN typed with or without dashes, else (None, message)."""
    typed = re.sub(r"\s+", "", raw or "")
    if not _TYPED.match(typed):
        return None, _l("An SSN has 9 digits, typed with or without dashes.")
    digits = typed.replace("-", "")
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if (area in ("000", "666") or area >= "900" or group == "00" or serial == "0000"
            or digits in KNOWN_FAKES):
        return None, _l("This is not a valid SSN.")
    return digits, None


def mask(last4):
    """What everyone sees: ***-**-1234 (empty when no SSN is on file)."""
    return f"***-**-{last4}" if last4 else ""


def stored(digits):
    """Column values for a parsed SSN: the ciphertext and the last four digits."""
    return {"ssn_encrypted": crypto.encrypt(digits), "ssn_last4": digits[-4:]}


def reveal(patient):
    """The full number as 123-45-6789 (the caller checks permission and audits)."""
    digits = crypto.decrypt(patient.ssn_encrypted)
    return None if digits is None else f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
