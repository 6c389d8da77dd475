"""No-show rate by provider and month: booked appointments (not cancelled) and how many were no-shows."""
import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Integer, case, func, literal, select, union_all

from app.models import Appointment, Provider
from app.reports import Column, Param, Report, last_months


def months(start, end):
    """First day of every month from start's to end's."""
    day = start.replace(day=1)
    while day <= end:
        yield day
        day = (day + dt.timedelta(days=32)).replace(day=1)


def query(conn, p):
    start, end = p["period"]
    provider = (Provider.family_name + literal(", ") + Provider.given_name).label("provider")
    selects = []
    # One range count per month on start_local, the wall clock at the appointment's location:
    # an appointment at 9 pm on the 31st in Los Angeles counts in that month, whatever UTC says.
    for first in months(start, end):
        following = (first + dt.timedelta(days=32)).replace(day=1)
        since = dt.datetime.combine(max(first, start), dt.time.min)
        before = dt.datetime.combine(min(following - dt.timedelta(days=1), end) + dt.timedelta(days=1), dt.time.min)
        stmt = (
            select(Provider.id.label("provider_id"), provider, literal(first, Date).label("month"),
                   func.count().label("booked"),
                   func.coalesce(func.sum(case((Appointment.status == "no_show", 1), else_=0)), 0)
                   .cast(Integer).label("no_shows"))
            .join(Provider, Provider.id == Appointment.provider_id)
            .where(Appointment.start_local >= since, Appointment.start_local < before,
                   Appointment.status != "cancelled")
            .group_by(Provider.id, Provider.family_name, Provider.given_name)
        )
        if p["provider"] is not None:
            stmt = stmt.where(Appointment.provider_id == p["provider"])
        selects.append(stmt)
    rows = [dict(r) for r in conn.execute(union_all(*selects)).mappings()]
    for r in rows:
        r["rate"] = r["no_shows"] / r["booked"] if r["booked"] else 0
    return sorted(rows, key=lambda r: (r["provider"], r["provider_id"], r["month"]))


REPORT = Report(
    title=_l("No-show rate by provider and month"),
    description=_l("For each provider and month: the appointments booked (cancelled ones left out), "
                   "how many patients did not come, and the share of no-shows."),
    params=[
        Param("period", "daterange", _l("Appointments between"), default=last_months(12), required=True,
              max_days=3700),
        Param("provider", "provider", _l("Provider")),
    ],
    query=query,
    columns=[
        Column("provider", _l("Provider")),
        Column("month", _l("Month"), "date", format="month"),
        Column("booked", _l("Booked"), "int", total="sum"),
        Column("no_shows", _l("No-shows"), "int", total="sum"),
        Column("rate", _l("No-show rate"), "percent"),
    ],
    roles=["OfficeManager"],
    patient_data=False,
    order=70,
)
