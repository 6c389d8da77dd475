"""Authorizations expiring: active prior authorizations that end soon or are running out of units (the alert
list's rule, app/services/authorizations.alerts)."""
import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.reports import Column, Param, Report
from app.reports.definitions import clinic_timezone
from app.services import authorizations

def query(conn, p):
    today = dt.datetime.now(clinic_timezone()).date()
    with Session(bind=conn) as session:  # the runner's read-only connection; the service's rules run on it
        rows = []
        for auth, reasons, used, left in authorizations.alerts(session, today=today, within_days=p["days"]):
            rows.append({"patient_id": auth.patient_id,
                         "patient": f"{auth.patient.family_name}, {auth.patient.given_name}",
                         "mrn": auth.patient.mrn, "payer": auth.payer.name, "number": auth.number,
                         "valid_to": auth.valid_to, "authorized": auth.units_authorized, "used": used, "left": left,
                         "reason": ", ".join(str(authorizations.ALERT_LABELS[r]) for r in reasons)})
        return rows


REPORT = Report(
    title=_l("Authorizations expiring"),
    description=_l("Active prior authorizations that end within the given number of days, or with a fifth of "
                   "their units (or a single unit) or less left; the soonest to end comes first."),
    params=[Param("days", "int", _l("Ending within (days)"), default=authorizations.EXPIRING_DAYS, required=True,
                  min=1, max=365)],
    query=query,
    columns=[
        Column("patient", _l("Patient"), link="patient", total="count"),
        Column("mrn", _l("MRN")),
        Column("payer", _l("Payer")),
        Column("number", _l("Authorization")),
        Column("valid_to", _l("Valid to"), "date"),
        Column("authorized", _l("Units authorized"), "decimal"),
        Column("used", _l("Units used"), "decimal"),
        Column("left", _l("Units left"), "decimal"),
        Column("reason", _l("Why")),
    ],
    roles=["FrontDesk", "Billing", "OfficeManager"],
    patient_data=True,
    order=135,
)
