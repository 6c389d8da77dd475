"""Eligibility verification: the coming appointments of insured patients and whether their insurance was checked."""
import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from app.models import Appointment
from app.models.billing import Coverage, Payer
from app.models.scheduling import INACTIVE_STATUSES
from app.reports import Column, Param, Report
from app.reports.definitions import clinic_timezone
from app.services import eligibility
from app.services.eligibility import RESULT_LABELS, service_date_of

NOT_CHECKED = "not_checked"
CHECK_LABELS = {**RESULT_LABELS, NOT_CHECKED: _l("not checked")}


class LocationChoices:
    """The active locations as (id, name) choices, read when the form or the check needs them."""

    def __iter__(self):
        from app.extensions import db
        from app.models import Location

        rows = db.session.execute(select(Location.id, Location.name).where(Location.active.is_(True))
                                  .order_by(Location.name))
        return iter([(str(pid), name) for pid, name in rows])

    def __bool__(self):
        return True


def query(conn, p):
    with Session(bind=conn) as session:  # the runner's read-only connection; the eligibility rules run on it
        return _rows(session, p)


def _rows(session, p):
    start, end = p["period"]
    # start_local is the wall clock at the appointment's location: its local day needs no zone arithmetic.
    stmt = (select(Appointment)
            .where(Appointment.start_local >= dt.datetime.combine(start, dt.time.min),
                   Appointment.start_local < dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min),
                   Appointment.status.notin_(INACTIVE_STATUSES))
            .options(joinedload(Appointment.patient), joinedload(Appointment.location))
            .order_by(Appointment.start_local, Appointment.id))
    if p["location"]:
        stmt = stmt.where(Appointment.location_id == int(p["location"]))
    appointments = list(session.scalars(stmt).unique())
    insured = eligibility.insured_appointments(session, appointments)
    appointments = [a for a in appointments if a.id in insured]
    if not appointments:
        return []
    checks = eligibility.status_for_appointments(session, appointments)
    # The insurances in force in the period, in order (one query): the row names the first one that day.
    days = [service_date_of(a) for a in appointments]
    coverages = session.execute(
        select(Coverage.patient_id, Coverage.effective_date, Coverage.end_date, Payer.name)
        .join(Payer, Payer.id == Coverage.payer_id)
        .where(Coverage.patient_id.in_({a.patient_id for a in appointments}), Coverage.status == "active",
               Coverage.self_pay.is_(False), Coverage.effective_date <= max(days),
               or_(Coverage.end_date.is_(None), Coverage.end_date >= min(days)))
        .order_by(Coverage.priority, Coverage.id)).all()
    tz = clinic_timezone()
    rows = []
    for a, day in zip(appointments, days):
        payer = next((c.name for c in coverages if c.patient_id == a.patient_id and c.effective_date <= day
                      and (c.end_date is None or c.end_date >= day)), None)
        check = checks[a.id]
        rows.append({"day": day, "time": a.start_local.time(), "patient_id": a.patient_id,
                     "patient": f"{a.patient.family_name}, {a.patient.given_name}", "mrn": a.patient.mrn,
                     "location": a.location.name, "payer": payer,
                     "check": check.result if check is not None else NOT_CHECKED,
                     "checked_on": check.checked_at.astimezone(tz).date() if check is not None else None})
    return rows


REPORT = Report(
    title=_l("Eligibility verification"),
    description=_l("The appointments of the coming days whose patient has an insurance in force, with the payer "
                   "and the latest eligibility check for that day, or \"not checked\"."),
    params=[
        Param("period", "daterange", _l("Appointments between"),
              default=lambda today: (today, today + dt.timedelta(days=2)), required=True, max_days=31),
        Param("location", "choice", _l("Location"), choices=LocationChoices()),
    ],
    query=query,
    columns=[
        Column("day", _l("Day"), "date"),
        Column("time", _l("Time"), "time"),
        Column("patient", _l("Patient"), link="patient", total="count"),
        Column("mrn", _l("MRN")),
        Column("location", _l("Location")),
        Column("payer", _l("Payer")),
        Column("check", _l("Eligibility"), labels=CHECK_LABELS),
        Column("checked_on", _l("Checked on"), "date"),
    ],
    roles=["FrontDesk", "Billing", "OfficeManager"],
    patient_data=True,
    order=120,
)
