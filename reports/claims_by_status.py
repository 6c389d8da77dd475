"""Claims by status and payer: how many claims are in each status and for how much (their total charges)."""
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.models.billing import Payer
from app.models.claims import CLAIM_STATUSES, Claim
from app.reports import Column, Param, Report, last_months
from app.services.claims import STATUS_LABELS

CENT = Decimal("0.01")


def query(conn, p):
    start, end = p["period"]
    stmt = (select(Payer.id.label("payer_id"), Payer.name.label("payer"), Claim.status,
                   func.count(Claim.id).label("claims"), func.sum(Claim.total_charge).label("amount"))
            .join(Payer, Payer.id == Claim.payer_id)
            .where(Claim.service_date >= start, Claim.service_date <= end)
            .group_by(Payer.id, Payer.name, Claim.status))
    if p["status"] and p["status"] != "all":
        stmt = stmt.where(Claim.status == p["status"])
    order = {s: i for i, s in enumerate(CLAIM_STATUSES)}
    rows = [{"payer": r.payer, "payer_id": r.payer_id, "status": r.status, "claims": r.claims,
             "amount": Decimal(str(r.amount or 0)).quantize(CENT)} for r in conn.execute(stmt)]
    return sorted(rows, key=lambda r: (r["payer"], r["payer_id"], order.get(r["status"], 99)))


REPORT = Report(
    title=_l("Claims by status"),
    description=_l("For each payer and claim status: the number of claims with a date of service in the period "
                   "and their total charges."),
    params=[
        Param("period", "daterange", _l("Services between"), default=last_months(12), required=True, max_days=3700),
        Param("status", "choice", _l("Status"), default="all",
              choices=(("all", _l("All")),) + tuple((s, STATUS_LABELS[s]) for s in CLAIM_STATUSES)),
    ],
    query=query,
    columns=[
        Column("payer", _l("Payer")),
        Column("status", _l("Status"), labels=STATUS_LABELS),
        Column("claims", _l("Claims"), "int", total="sum"),
        Column("amount", _l("Charges"), "money", total="sum"),
    ],
    roles=["Billing", "OfficeManager"],
    patient_data=False,
    order=140,
)
