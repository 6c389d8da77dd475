"""Patient letters: per-language template files a clinic can edit, rendered in a sandbox.

Templates live in LETTER_TEMPLATE_DIRS (instance/letters first, so a clinic's edited copy
wins over the shipped letters/), one file per kind and language: `<kind>/<lang>.html`,
where lang is the ISO 639 code stored on the patient (es, vi, zh, ar ...). A letter is
written in the patient's language; if that template is missing, in the clinic's default
language, then English — and the caller is told so.

The templates run in Jinja's immutable sandbox with plain data only (strings, numbers,
lists, dicts): an edited template cannot reach Python objects, the database or files.
"""
import functools
import os
import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_currency
from flask import current_app
from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..services import languages, phones
from ..services.patients import address_lines
from .pdf import render_pdf

KINDS = ("results", "appointment_confirmation", "appointment_reminder", "no_show", "copay_receipt", "statement",
         "referral_specialist", "referral_patient", "payment_receipt")
APPOINTMENT_KINDS = ("appointment_confirmation", "appointment_reminder", "no_show")


@dataclass
class Letter:
    kind: str
    language: str  # the language the letter is written in
    wanted: str  # the patient's language
    title: str
    body_html: str
    pdf: bytes = b""
    seconds: float = 0.0
    exports: dict = field(default_factory=dict)  # other strings the template sets (subject, summary)

    @property
    def fell_back(self):
        return self.language != self.wanted


def template_dirs():
    return current_app.config["LETTER_TEMPLATE_DIRS"]


@functools.lru_cache(maxsize=8)
def _environment(dirs):
    env = ImmutableSandboxedEnvironment(loader=FileSystemLoader(list(dirs)), autoescape=True,
                                        undefined=StrictUndefined, auto_reload=True)
    env.filters["ltr"] = ltr
    return env


def ltr(value):
    """Keep a left-to-right run (phone, address, code) in order inside right-to-left text.

    WeasyPrint ignores <bdi> and unicode-bidi, but its text layout honours the Unicode
    isolate controls LRI ... PDI.
    """
    return "\u2066" + str(value) + "\u2069"


def environment():
    return _environment(tuple(template_dirs()))


def available(kind, language):
    try:
        environment().get_template(f"{kind}/{language}.html")
    except TemplateNotFound:
        return False
    return True


def choose_language(kind, wanted):
    """The patient's language if its template exists, else the clinic default, else English."""
    for lang in (wanted, current_app.config["CLINIC_DEFAULT_LANGUAGE"], "en"):
        if lang and available(kind, lang):
            return lang
    raise TemplateNotFound(f"{kind}/en.html")


def _locale(lang):
    try:
        return Locale.parse(lang)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def text_direction(lang):
    """"rtl" or "ltr" for a letter language."""
    return _locale(lang).text_direction


def patient_data(patient, lang):
    """What a letter may say about the patient: plain strings only."""
    region = current_app.config["CLINIC_COUNTRY"]
    return {
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "full_name": patient.full_name,
        "preferred_name": patient.preferred_name or patient.given_name,
        "mrn": patient.mrn,
        "birth_date": format_date(patient.birth_date, "long", locale=_locale(lang)),
        "address": address_lines(patient, region),
        "phone": phones.display(patient.phone_mobile or patient.phone_home, region),
    }


def clinic_data():
    cfg = current_app.config
    return {"name": cfg["CLINIC_NAME"], "address": cfg.get("CLINIC_ADDRESS", ""), "phone": cfg.get("CLINIC_PHONE", "")}


def appointment_data(appointment, lang, *, email=False):
    """What an appointment letter or reminder may say: when, with whom, where; never the reason."""
    zone = ZoneInfo(appointment.timezone)
    start = appointment.start_at.astimezone(zone)
    locale = _locale(lang)
    location = appointment.location
    return {
        "email": email,  # True: the e-mail version (no postal address block)
        "appointment": {
            "date": format_date(start.date(), "full", locale=locale),
            "time": format_time(start, "short", tzinfo=zone, locale=locale),
            "minutes": appointment.duration_minutes,
            "provider": appointment.provider.display_name,
            "location": location.name,
            "location_address": location.address or "",
            "telehealth": bool(appointment.type.telehealth),
            "join_url": appointment.telehealth_url or "",
        },
    }


def receipt_data(payment, lang, *, received_by, timezone):
    """What a receipt (a copay, or a payment on account: no visit) says: number, when, how much (in the
    letter's locale), how paid; never a card number (none is stored) nor anything clinical.
    `received_by` is the staff member's name."""
    locale = _locale(lang)
    visit = None
    appointment = getattr(payment, "appointment", None)
    if appointment is not None:
        zone = ZoneInfo(appointment.timezone)
        start = appointment.start_at.astimezone(zone)
        visit = {"date": format_date(start.date(), "long", locale=locale),
                 "time": format_time(start, "short", tzinfo=zone, locale=locale),
                 "provider": appointment.provider.display_name}
        timezone = appointment.timezone
    zone = ZoneInfo(timezone)
    received = payment.received_at.astimezone(zone)
    return {"receipt": {
        "number": payment.receipt_number,
        "date": format_date(received.date(), "long", locale=locale),
        "time": format_time(received, "short", tzinfo=zone, locale=locale),
        "amount": format_currency(payment.amount, current_app.config["CLINIC_CURRENCY"], locale=locale),
        "method": payment.method,  # cash, card, check, other: each template words it
        "reference": payment.reference or "",
        "received_by": received_by,
        "void": bool(payment.voided),
        "void_reason": payment.void_reason or "",
    }, "visit": visit}


def render(kind, patient, data, *, today, with_pdf=True, language=None):
    """Write letter `kind` to `patient` in the patient's language (or the fallback); `language`: the
    reader's language when someone else reads it (a statement goes to the guarantor)."""
    started = time.perf_counter()
    wanted = language or patient.preferred_language or "en"
    lang = choose_language(kind, wanted)
    context = {
        "patient": patient_data(patient, lang),
        "clinic": clinic_data(),
        "today": format_date(today, "long", locale=_locale(lang)),
        "language_name": languages.name(wanted, lang),
        **data,
    }
    module = environment().get_template(f"{kind}/{lang}.html").make_module(context)
    body = str(module)
    title = str(getattr(module, "title", kind))
    exports = {name: str(value) for name, value in module.__dict__.items()
               if not name.startswith("_") and isinstance(value, str)}
    pdf = b""
    if with_pdf:
        pdf = render_pdf("documents/letter.html", locale=_pdf_locale(lang), title=title, body=body,
                         letter_lang=lang, letter_dir=_locale(lang).text_direction)
    return Letter(kind, lang, wanted, title, body, pdf, time.perf_counter() - started, exports)


def _pdf_locale(lang):
    """The interface catalog closest to the letter's language (page numbers, headings)."""
    configured = current_app.config["LANGUAGES"]
    for code in configured:
        if code.split("_")[0] == lang:
            return code
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def missing_templates(kinds=KINDS, langs=None):
    """(kind, language) pairs with no template: letters in those languages fall back."""
    langs = langs or sorted({code.split("_")[0] for code in current_app.config["LANGUAGES"]})
    return [(k, lang) for k in kinds for lang in langs if not available(k, lang)]


SAMPLE = {
    "patient": {"given_name": "Ana", "family_name": "Pérez", "full_name": "Ana Pérez", "preferred_name": "Ana",
                "mrn": "10000009", "birth_date": "1980-03-04", "address": ["1 Main St", "01103 Springfield"],
                "phone": "(413) 555-0101"},
    "clinic": {"name": "Clinic", "address": "100 Main Street", "phone": "(413) 555-0100"},
    "today": "2026-11-27",
    "language_name": "Spanish",
}
_SAMPLE_APPOINTMENT = {"email": False, "appointment": {
    "date": "Monday, March 15, 2027", "time": "9:00 AM", "minutes": 30, "provider": "Ana Ruiz, MD",
    "location": "Main street", "location_address": "1 Main St", "telehealth": False, "join_url": ""}}
SAMPLE_BY_KIND = {"results": {"test_name": "lipid panel", "result": "abnormal", "note": "Note.", "clinician": "Dr. Ruiz"},
                  **{kind: _SAMPLE_APPOINTMENT for kind in APPOINTMENT_KINDS},
                  "copay_receipt": {"receipt": {
                      "number": "R0000042", "date": "November 27, 2026", "time": "9:41 AM", "amount": "$25.00",
                      "method": "card", "reference": "AUTH 083412", "received_by": "Maria Lopez", "void": True,
                      "void_reason": "Entered twice."},
                      "visit": {"date": "November 27, 2026", "time": "9:30 AM", "provider": "Ana Ruiz, MD"}},
                  "statement": {"guarantor": {"name": "Luis Pérez", "address": ["1 Main St", "01103 Springfield"]},
                                "statement": {
                      "number": "S00000042", "date": "November 27, 2026", "amount_due": "$40.00",
                      "insurance_pending": "$60.00",
                      "rows": [{"kind": "visit", "date": "October 2, 2026", "provider": "Ana Ruiz, MD",
                                "pending": "$60.00", "reference": "", "charges": "$150.00", "insurance_paid": "$50.00",
                                "adjustments": "$0.00", "patient_paid": "$0.00", "balance": "$100.00"},
                               {"kind": "payment", "date": "November 2, 2026", "provider": "", "pending": "",
                                "reference": "P0000007", "charges": "", "insurance_paid": "", "adjustments": "",
                                "patient_paid": "$0.00", "balance": "$0.00"}],
                      "totals": {"charges": "$150.00", "insurance_paid": "$50.00", "adjustments": "$0.00",
                                 "patient_paid": "$0.00", "balance": "$100.00"},
                      "aging": {"current": "$0.00", "days_31_60": "$40.00", "days_61_90": "$0.00",
                                "days_91_120": "$0.00", "days_121_plus": "$0.00"}}}}


# Referral letters: app/services/referrals.py builds this data.
_SAMPLE_REFERRAL = {
    "referral": {"id": 7, "date": "November 27, 2026", "due_date": "December 11, 2026", "urgency": "urgent",
                 "reason": "Chest pain on exertion.", "notes": "ECG attached.", "referring_provider": "Ana Ruiz, MD",
                 "referring_provider_npi": "1234567893"},
    "specialist": {"name": "Dr. Paul Heart", "specialty": "Cardiology", "organisation": "Springfield Cardiology",
                   "address": ["5 Oak St", "Springfield, MA 01103"], "phone": "(413) 555-0199",
                   "fax": "(413) 555-0198", "email": "", "npi": "1245319599"}}
SAMPLE_BY_KIND["referral_patient"] = _SAMPLE_REFERRAL
SAMPLE_BY_KIND["referral_specialist"] = {
    **_SAMPLE_REFERRAL, "diagnoses": [{"code": "I10", "description": "Essential (primary) hypertension"}],
    "documents": [{"title": "ECG", "date": "Nov 20, 2026"}],
    "insurance": [{"payer": "Acme Health", "plan": "Gold", "member_id": "XK123", "group": "G1"}]}
SAMPLE_BY_KIND["payment_receipt"] = SAMPLE_BY_KIND["copay_receipt"]  # a payment on account


def check_templates(kinds=KINDS):
    """Render every template file with sample data; return (path, error) pairs."""
    problems = []
    for directory in template_dirs():
        for kind in kinds:
            folder = os.path.join(directory, kind)
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if not name.endswith(".html"):
                    continue
                try:
                    environment().get_template(f"{kind}/{name}").render(**SAMPLE, **SAMPLE_BY_KIND.get(kind, {}))
                except Exception as exc:  # noqa: BLE001 - report any template error with its file
                    problems.append((os.path.join(folder, name), f"{type(exc).__name__}: {exc}"))
    return problems
