"""Daily schedule: a day's appointments per provider, in each location's local time, to print (a page per provider)."""
import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import literal, select

from app.models import Appointment, AppointmentType, Location, Patient, Provider, Room
from app.models.scheduling import STATUS_LABELS
from app.reports import Column, Param, Report


class LocationChoices:
    """The active locations as (id, name) choices, read when the form or the check needs them."""

    def __iter__(self):
        from app.extensions import db

        rows = db.session.execute(select(Location.id, Location.name).where(Location.active.is_(True))
                                  .order_by(Location.name))
        return iter([(str(pid), name) for pid, name in rows])

    def __bool__(self):
        return True


def query(conn, p):
    # start_local is the wall clock at the appointment's location: its local day needs no zone arithmetic.
    since = dt.datetime.combine(p["date"], dt.time.min)
    stmt = (
        select(Appointment.start_local, Appointment.start_at, Appointment.end_at, Appointment.timezone,
               (Provider.family_name + literal(", ") + Provider.given_name).label("provider"),
               Patient.id.label("patient_id"), (Patient.family_name + literal(", ") + Patient.given_name).label("patient"),
               Patient.mrn, Patient.birth_date, AppointmentType.name.label("type"), Room.name.label("room"),
               Appointment.status, Location.name.label("location"))
        .join(Provider, Provider.id == Appointment.provider_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(AppointmentType, AppointmentType.id == Appointment.type_id)
        .join(Location, Location.id == Appointment.location_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .where(Appointment.start_local >= since, Appointment.start_local < since + dt.timedelta(days=1))
        .order_by(Provider.family_name, Provider.given_name, Provider.id, Appointment.start_local, Appointment.id)
    )
    if p["provider"] is not None:
        stmt = stmt.where(Appointment.provider_id == p["provider"])
    if p["location"]:
        stmt = stmt.where(Appointment.location_id == int(p["location"]))
    if not p["cancelled"]:
        stmt = stmt.where(Appointment.status != "cancelled")
    rows = []
    for r in conn.execute(stmt).mappings():
        row = dict(r)
        row["start"] = row["start_local"].time()
        row["end"] = (row["start_local"] + (row["end_at"] - row["start_at"])).time()
        rows.append(row)
    return rows


REPORT = Report(
    title=_l("Daily schedule"),
    description=_l("The appointments of one day for each provider, in the local time of their location, "
                   "to print with a page per provider."),
    params=[
        Param("date", "date", _l("Day"), default=lambda today: today, required=True),
        Param("provider", "provider", _l("Provider")),
        Param("location", "choice", _l("Location"), choices=LocationChoices()),
        Param("cancelled", "bool", _l("Include cancelled appointments"), default=False),
    ],
    query=query,
    columns=[
        Column("start", _l("Time"), "time"),
        Column("end", _l("Until"), "time"),
        Column("provider", _l("Provider")),
        Column("patient", _l("Patient"), link="patient", total="count"),
        Column("mrn", _l("MRN")),
        Column("birth_date", _l("Birth date"), "date"),
        Column("type", _l("Appointment type")),
        Column("room", _l("Room")),
        Column("status", _l("Status"), labels=STATUS_LABELS),
        Column("location", _l("Location")),
    ],
    group_by="provider",
    roles=["FrontDesk", "Clinician", "OfficeManager"],
    patient_data=True,
    order=60,
)
