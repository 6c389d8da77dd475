"""Charges by provider and month: encounters ready to bill or billed, their charge lines, units and charges."""
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, literal, select

from app.models import Provider
from app.models.billing import ChargeLine, Encounter
from app.reports import Column, Param, Report, last_months

CENT = Decimal("0.01")


def _decimal(value):
    return Decimal(str(value or 0))


def query(conn, p):
    start, end = p["period"]
    provider = (Provider.family_name + literal(", ") + Provider.given_name).label("provider")
    # One row per provider and date of service (the database adds up the lines); the days fold into months here.
    stmt = (
        select(Provider.id.label("provider_id"), provider, Encounter.service_date,
               func.count(func.distinct(Encounter.id)).label("encounters"), func.count(ChargeLine.id).label("lines"),
               func.sum(ChargeLine.units).label("units"), func.sum(ChargeLine.units * ChargeLine.fee).label("charges"))
        .join(Provider, Provider.id == Encounter.provider_id)
        .outerjoin(ChargeLine, ChargeLine.encounter_id == Encounter.id)
        .where(Encounter.service_date >= start, Encounter.service_date <= end,
               Encounter.status.in_(("ready", "billed")))
        .group_by(Provider.id, Provider.family_name, Provider.given_name, Encounter.service_date)
    )
    if p["provider"] is not None:
        stmt = stmt.where(Encounter.provider_id == p["provider"])
    groups = {}
    for r in conn.execute(stmt):
        month = r.service_date.replace(day=1)
        row = groups.setdefault((r.provider_id, month), {
            "provider_id": r.provider_id, "provider": r.provider, "month": month, "encounters": 0, "lines": 0,
            "units": Decimal("0"), "charges": Decimal("0")})
        row["encounters"] += r.encounters
        row["lines"] += r.lines
        row["units"] += _decimal(r.units)
        row["charges"] += _decimal(r.charges)
    for row in groups.values():
        row["charges"] = row["charges"].quantize(CENT)
        row["units"] = row["units"].quantize(CENT).normalize() if row["units"] else Decimal("0")
    return sorted(groups.values(), key=lambda r: (r["provider"], r["provider_id"], r["month"]))


REPORT = Report(
    title=_l("Charges by provider and month"),
    description=_l("For each rendering provider and month of service: the encounters ready to bill or billed, "
                   "their charge lines, the units and the charges (units times fee)."),
    params=[
        Param("period", "daterange", _l("Services between"), default=last_months(12), required=True,
              max_days=3700),
        Param("provider", "provider", _l("Provider")),
    ],
    query=query,
    columns=[
        Column("provider", _l("Provider")),
        Column("month", _l("Month"), "date", format="month"),
        Column("encounters", _l("Encounters"), "int", total="sum"),
        Column("lines", _l("Charge lines"), "int", total="sum"),
        Column("units", _l("Units"), "decimal", format="#,##0.##", total="sum"),
        Column("charges", _l("Charges"), "money", total="sum"),
    ],
    roles=["Billing", "OfficeManager"],
    patient_data=False,
    order=130,
)
