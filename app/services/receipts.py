"""Money a patient hands over at the desk — copays (copays.py) and payments on account (posting.py):
the rules both follow, each written once here.

- Never a card number: a reference, note or void reason holding 12-19 digits in a row that pass
  the Luhn check is refused. Payment card numbers (ISO/IEC 7812 PANs) run from 12 digits (some
  Maestro cards) to 19, so 12 is the floor; approval codes (6 characters) and check numbers are shorter.
- An amount is read in the staff member's locale and must be more than zero, in cents, under a ceiling.
- Receipt numbers come from one counter ("R0000042"): copays and payments on account share the
  series, so a number names one receipt; a voided receipt keeps its number and stays on file.
"""
import re
from decimal import Decimal, InvalidOperation

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask_babel import lazy_gettext as _l

from . import counters
from .checkdigits import luhn_valid
from .errors import ValidationFailed

CARD_DIGITS_MIN = 12
CARD_DIGITS_MAX = 19
REFERENCE_MAX = 40
VOID_REASON_MAX = 300
RECEIPT_COUNTER = "copay_receipt"  # the counter's name in the database: copays had it first
RECEIPT_PREFIX = "R"
RECEIPT_DIGITS = 7
CARD_NUMBER_MESSAGE = _l("Do not type card numbers: write the terminal's approval code instead.")

# Digit groups separated by spaces or dashes: "4111 1111 1111 1111", "4111-1111-1111-1111".
_DIGIT_RUN = re.compile(r"\d+(?:[ \t-]+\d+)*")
_SEPARATOR = re.compile(r"[ \t-]+")


def looks_like_card_number(text):
    """True if `text` holds 12-19 digits in a row (spaces or dashes allowed) that pass the Luhn
    check — what a payment card number looks like. Consecutive digit groups are tried too, so
    a card number followed by its expiry ("4111 1111 1111 1111 1228") is still caught."""
    for run in _DIGIT_RUN.findall(text or ""):
        groups = _SEPARATOR.split(run)
        for i in range(len(groups)):
            digits = ""
            for group in groups[i:]:
                digits += group
                if len(digits) > CARD_DIGITS_MAX:
                    break
                if len(digits) >= CARD_DIGITS_MIN and luhn_valid(digits):
                    return True
    return False


def text_problems(field, value, limit=REFERENCE_MAX):
    """Problems with a free text typed at the desk (reference, notes, void reason): too long, or a card number."""
    if value and len(value) > limit:
        return [(field, _l("Keep this under %(max)d characters.", max=limit))]
    if value and looks_like_card_number(value):
        return [(field, CARD_NUMBER_MESSAGE)]
    return []


def check_reference(reference):
    """The reference (check number, card approval code) as stored (None if blank) and its problems."""
    reference = (reference or "").strip() or None
    return reference, text_problems("reference", reference, REFERENCE_MAX)


def parse_amount(value, locale="en"):
    """The Decimal typed (in the staff member's locale: "20.50", "20,50"), or None if it is no number."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    text = (value or "").strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if not text:
        return None
    try:
        return parse_decimal(text, locale=locale, strict=True)
    except (NumberFormatError, InvalidOperation, ValueError):
        try:  # "20.50" typed in a locale that writes 20,50: a plain decimal is understood everywhere
            return Decimal(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else None
        except InvalidOperation:
            return None


def amount_problems(amount, raw, locale="en", *, maximum, too_much):
    """Problems with an amount (already parsed; `raw` is what was typed): the first one found.

    Above `maximum`, the problem is `too_much(maximum written in the locale)`."""
    example = format_decimal(Decimal("25.00"), format="#,##0.00", locale=locale)
    if amount is None:
        if raw is None or not str(raw).strip():
            return [("amount", _l("This field is required."))]
        return [("amount", _l("Enter the amount as a number, for example %(example)s.", example=example))]
    if not amount.is_finite():
        return [("amount", _l("Enter the amount as a number, for example %(example)s.", example=example))]
    if amount <= 0:
        return [("amount", _l("The amount must be more than zero."))]
    if amount != amount.quantize(Decimal("0.01")):
        return [("amount", _l("Enter the amount with at most two decimals (cents)."))]
    if amount > maximum:
        return [("amount", too_much(format_decimal(maximum, locale=locale)))]
    return []


def reserve_receipt_number(session):
    """The next receipt number ("R0000042"), taken in the caller's transaction."""
    return f"{RECEIPT_PREFIX}{counters.take(session, RECEIPT_COUNTER):0{RECEIPT_DIGITS}d}"


def void_receipt(session, payment, *, reason):
    """Mark a receipt (a copay or a payment on account) void and commit: entered in error, money given
    back. It stays on file with its number. ValidationFailed (nothing changed) without a usable reason."""
    reason = (reason or "").strip()
    problems = []
    if payment.voided:
        problems.append((None, _l("This receipt is already void.")))
    if not reason:
        problems.append(("reason", _l("Say why the receipt is void.")))
    else:
        problems += text_problems("reason", reason, VOID_REASON_MAX)
    if problems:
        session.rollback()
        raise ValidationFailed(problems)
    payment.voided = True
    payment.void_reason = reason
    session.commit()
    return payment
