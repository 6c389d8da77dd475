"""Patient list export: demographics and contact data by status, primary provider and language."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import literal, select

from app.models import Patient, Provider
from app.reports import Column, Param, Report, unless_restricted
from app.services.registry_stats import filter_patients

STATUSES = (("active", _l("Active")), ("inactive", _l("Inactive")), ("deceased", _l("Deceased")),
            ("all", _l("All but merged")))
SEXES = {"female": _l("Female"), "male": _l("Male"), "other": _l("Other"), "unknown": _l("Unknown")}


def query(conn, p):
    stmt = (
        select(Patient.id.label("patient_id"), Patient.mrn, Patient.family_name, Patient.given_name,
               Patient.birth_date, Patient.sex,
               # Only ever masked: the full number is not in any report or export.
               (literal("***-**-") + Patient.ssn_last4).label("ssn"), Patient.preferred_language.label("language"),
               Patient.interpreter_needed.label("interpreter"),
               # Restricted records are listed, but without a way to reach the person.
               unless_restricted(Patient.phone_mobile).label("phone_mobile"),
               unless_restricted(Patient.phone_home).label("phone_home"),
               unless_restricted(Patient.email).label("email"),
               unless_restricted(Patient.address_line1).label("address"),
               unless_restricted(Patient.city).label("city"),
               unless_restricted(Patient.postal_code).label("postal_code"),
               (Provider.family_name + literal(", ") + Provider.given_name).label("provider"),
               Patient.status, Patient.restricted)
        .outerjoin(Provider, Provider.id == Patient.primary_provider_id)
        .order_by(Patient.family_name, Patient.given_name, Patient.id)
    )
    return filter_patients(stmt, status=p["status"], provider=p["provider"], language=p["language"],
                           registered=p["registered"])


REPORT = Report(
    title=_l("Patient list"),
    description=_l("Patients with their contact data, by status, primary provider and language "
                   "(restricted records without contact data)."),
    params=[
        Param("status", "choice", _l("Status"), default="active", required=True, choices=STATUSES),
        Param("provider", "provider", _l("Primary provider")),
        Param("language", "language", _l("Preferred language")),
        Param("registered", "daterange", _l("Registered between"), help=_l("Leave empty for every patient.")),
    ],
    query=query,
    columns=[
        Column("mrn", _l("MRN"), link="patient", total="count"),
        Column("family_name", _l("Family name")),
        Column("given_name", _l("Given name")),
        Column("birth_date", _l("Birth date"), "date"),
        Column("sex", _l("Sex"), labels=SEXES),
        Column("ssn", _l("SSN")),
        Column("language", _l("Language"), "language"),
        Column("interpreter", _l("Interpreter"), "bool", total="count"),
        Column("phone_mobile", _l("Mobile phone")),
        Column("phone_home", _l("Home phone")),
        Column("email", _l("E-mail")),
        Column("address", _l("Address")),
        Column("city", _l("City")),
        Column("postal_code", _l("Postal code")),
        Column("provider", _l("Primary provider")),
        Column("status", _l("Status"), labels=dict(STATUSES)),
        Column("restricted", _l("Restricted"), "bool", total="count"),
    ],
    roles=["FrontDesk", "Billing", "OfficeManager"],
    patient_data=True,
    order=40,
)
