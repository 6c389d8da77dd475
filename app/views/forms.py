"""Patient registration/edit form: fields carry what staff type; services/patients.py decides."""
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField

from ..models.patient import GENDER_IDENTITIES, GUARANTOR_RELATIONSHIPS, SEXES
from ..services import dates

SEX_LABELS = {"female": _l("Female"), "male": _l("Male"), "other": _l("Other"), "unknown": _l("Unknown")}
GENDER_LABELS = {
    "female": _l("Woman"),
    "male": _l("Man"),
    "nonbinary": _l("Non-binary"),
    "transgender_female": _l("Transgender woman"),
    "transgender_male": _l("Transgender man"),
    "other": _l("Other"),
    "declined": _l("Chose not to disclose"),
}
STATUS_LABELS = {
    "active": _l("Active"),
    "inactive": _l("Inactive"),
    "deceased": _l("Deceased"),
    "merged": _l("Merged"),
}
GUARANTOR_LABELS = {
    "self": _l("Self"),
    "parent": _l("Parent"),
    "spouse": _l("Spouse"),
    "guardian": _l("Legal guardian"),
    "other": _l("Other person"),
}


class LocaleDateField(StringField):
    """A date typed in the user's locale order (or ISO); the view converts it."""

    def process_data(self, value):
        self.data = dates.format_input(value, get_locale()) if value else ""


class PatientForm(FlaskForm):
    version = HiddenField()
    allow_duplicate = BooleanField(_l("This is a different person: register anyway"))

    family_name = StringField(_l("Family name"))
    given_name = StringField(_l("Given name"))
    middle_name = StringField(_l("Middle name"))
    preferred_name = StringField(_l("Preferred name"))
    birth_date = LocaleDateField(_l("Birth date"))
    sex = SelectField(_l("Sex"), choices=[(s, SEX_LABELS[s]) for s in SEXES], default="unknown", validate_choice=False)
    gender_identity = SelectField(
        _l("Gender identity"), choices=[("", "—")] + [(g, GENDER_LABELS[g]) for g in GENDER_IDENTITIES], validate_choice=False
    )
    # Write-only: never filled from the record (the template renders it empty); a number
    # typed here replaces the one on file.
    ssn = StringField(_l("SSN"))
    ssn_remove = BooleanField(_l("Remove the SSN on file"))

    address_line1 = StringField(_l("Address"))
    address_line2 = StringField(_l("Address (line 2)"))
    city = StringField(_l("City"))
    state = StringField(_l("State / region"))
    postal_code = StringField(_l("Postal code"))
    country = StringField(_l("Country (ISO code)"))

    phone_mobile = StringField(_l("Mobile phone"))
    phone_home = StringField(_l("Home phone"))
    phone_work = StringField(_l("Work phone"))
    email = StringField(_l("E-mail"))

    preferred_language = StringField(_l("Preferred language"))
    interpreter_needed = BooleanField(_l("Needs an interpreter"))

    hipaa_notice_ack_date = LocaleDateField(_l("Notice of privacy practices acknowledged on"))
    consent_voicemail = BooleanField(_l("May leave voicemail"))
    consent_sms = BooleanField(_l("May send text messages"))
    consent_email = BooleanField(_l("May send e-mail"))

    emergency_contact_name = StringField(_l("Emergency contact"))
    emergency_contact_relationship = StringField(_l("Relationship"))
    emergency_contact_phone = StringField(_l("Emergency contact phone"))

    guardian_name = StringField(_l("Parent or guardian"))
    guardian_relationship = StringField(_l("Guardian relationship"))
    guardian_phone = StringField(_l("Guardian phone"))

    guarantor_relationship = SelectField(
        _l("Guarantor (financially responsible)"),
        choices=[(g, GUARANTOR_LABELS[g]) for g in GUARANTOR_RELATIONSHIPS],
        default="self",
        validate_choice=False,
    )
    guarantor_mrn = StringField(_l("Guarantor's MRN (if a patient here)"))
    guarantor_name = StringField(_l("Guarantor name"))
    guarantor_phone = StringField(_l("Guarantor phone"))
    guarantor_address = StringField(_l("Guarantor address"))
    guarantor_language = StringField(_l("Guarantor's language"))

    primary_provider_id = SelectField(_l("Primary provider"), choices=[], validate_choice=False)
    status = SelectField(_l("Status"), choices=[(s, STATUS_LABELS[s]) for s in ("active", "inactive", "deceased")], validate_choice=False)
    deceased_date = LocaleDateField(_l("Date of death"))
    notes = TextAreaField(_l("Notes"))
    restricted = BooleanField(_l("Restricted record: opening it needs a reason (break-glass)"))

    SECTIONS = (
        (_l("Name and birth"), ("family_name", "given_name", "middle_name", "preferred_name", "birth_date", "sex", "gender_identity", "ssn", "ssn_remove")),
        (_l("Contact"), ("phone_mobile", "phone_home", "phone_work", "email", "address_line1", "address_line2", "city", "state", "postal_code", "country")),
        (_l("Language and consents"), ("preferred_language", "interpreter_needed", "hipaa_notice_ack_date", "consent_voicemail", "consent_sms", "consent_email")),
        (_l("Emergency contact and guardian"), ("emergency_contact_name", "emergency_contact_relationship", "emergency_contact_phone", "guardian_name", "guardian_relationship", "guardian_phone")),
        (_l("Guarantor"), ("guarantor_relationship", "guarantor_mrn", "guarantor_name", "guarantor_phone", "guarantor_address", "guarantor_language")),
        (_l("Care and status"), ("primary_provider_id", "status", "deceased_date", "notes", "restricted")),
    )


class PatientMergeForm(FlaskForm):
    target_mrn = StringField(_l("MRN of the record to keep"))
    confirm = BooleanField(_l("I checked both records: they are the same person"))


class BreakGlassForm(FlaskForm):
    reason = TextAreaField(_l("Why do you need to open this record now?"))
