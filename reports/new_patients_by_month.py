"""New patients by month: registrations per calendar month (clinic time), with how many need an interpreter."""
import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Integer, case, func, literal, select, union_all

from app.models import Patient
from app.reports import Chart, Column, Param, Report, day_bounds, last_months


def months(start, end):
    """First day of every month from start's to end's."""
    day = start.replace(day=1)
    while day <= end:
        yield day
        day = (day + dt.timedelta(days=32)).replace(day=1)


def query(conn, p):
    start, end = p["period"]
    # One indexed range count per month (ix_patient_created_on), month edges in the clinic's zone.
    selects = []
    for first in months(start, end):
        last = min((first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1), end)
        since, before = day_bounds(max(first, start), last)
        selects.append(
            select(literal(first, Date).label("month"), func.count().label("patients"),
                   func.coalesce(func.sum(case((Patient.interpreter_needed.is_(True), 1), else_=0)), 0)
                   .cast(Integer).label("interpreter"))
            .where(Patient.created_on >= since, Patient.created_on < before, Patient.status != "merged")
        )
    rows = conn.execute(union_all(*selects)).mappings().all()
    return sorted(rows, key=lambda r: r["month"])


REPORT = Report(
    title=_l("New patients by month"),
    description=_l("Patients registered in each month of a period, and how many of them need an interpreter."),
    params=[Param("period", "daterange", _l("Registered between"), default=last_months(12), required=True,
                  max_days=3700)],
    query=query,
    columns=[
        Column("month", _l("Month"), "date", format="month"),
        Column("patients", _l("New patients"), "int", total="sum"),
        Column("interpreter", _l("Need an interpreter"), "int", total="sum"),
    ],
    chart=Chart("bar", x="month", y=["patients", "interpreter"]),
    roles=["OfficeManager"],
    patient_data=False,
    order=10,
)
