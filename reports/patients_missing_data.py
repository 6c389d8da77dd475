"""Patients with missing contact data or consents: the front desk's list of records to complete."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, literal, select

from app.models import Patient, Provider
from app.reports import Column, Param, Report, unless_restricted
from app.services.registry_stats import MISSING_KINDS, filter_patients, missing_any, missing_conditions

MISSING = (("any", _l("Anything below")), ("phone", _l("No phone number")), ("email", _l("No e-mail address")),
           ("notice", _l("Privacy notice not acknowledged")), ("emergency", _l("No emergency contact")))
STATUSES = (("active", _l("Active patients")), ("all", _l("All but merged")))


def query(conn, p):
    missing = missing_conditions()
    kinds = MISSING_KINDS if p["missing"] == "any" else (p["missing"],)
    stmt = (
        select(Patient.id.label("patient_id"), Patient.mrn,
               (Patient.family_name + literal(", ") + Patient.given_name).label("name"), Patient.birth_date,
               unless_restricted(func.coalesce(Patient.phone_mobile, Patient.phone_home, Patient.phone_work)).label("phone"),
               *(missing[k].label(f"no_{k}") for k in MISSING_KINDS),
               (Provider.family_name + literal(", ") + Provider.given_name).label("provider"))
        .outerjoin(Provider, Provider.id == Patient.primary_provider_id)
        .where(missing_any(Patient, kinds))
        .order_by(Patient.family_name, Patient.given_name, Patient.id)
    )
    return filter_patients(stmt, status=p["status"], provider=p["provider"], registered=p["registered"])


REPORT = Report(
    title=_l("Patients missing contact data or consents"),
    description=_l("Patients with no phone number, no e-mail address, no acknowledged privacy notice "
                   "or no emergency contact, to complete at their next visit or call."),
    params=[
        Param("missing", "choice", _l("Missing"), default="any", required=True, choices=MISSING),
        Param("status", "choice", _l("Patients"), default="active", required=True, choices=STATUSES),
        Param("provider", "provider", _l("Primary provider")),
        Param("registered", "daterange", _l("Registered between"), help=_l("Leave empty for every patient.")),
    ],
    query=query,
    columns=[
        Column("mrn", _l("MRN"), link="patient", total="count"),
        Column("name", _l("Name")),
        Column("birth_date", _l("Birth date"), "date"),
        Column("phone", _l("Phone")),
        Column("no_phone", _l("No phone"), "bool", total="count"),
        Column("no_email", _l("No e-mail"), "bool", total="count"),
        Column("no_notice", _l("Notice not acknowledged"), "bool", total="count"),
        Column("no_emergency", _l("No emergency contact"), "bool", total="count"),
        Column("provider", _l("Primary provider")),
    ],
    roles=["FrontDesk", "OfficeManager"],
    patient_data=True,
    order=30,
)
