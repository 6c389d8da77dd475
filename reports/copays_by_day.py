"""Copays collected: per local day and payment method, the receipts, the money taken and the voided receipts."""
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.models.billing import CopayPayment
from app.reports import Column, Param, Report, day_bounds
from app.reports.definitions import clinic_timezone
from app.services.copays import METHOD_LABELS, PAYMENT_METHODS


def query(conn, p):
    start, end = p["period"]
    since, before = day_bounds(start, end)
    stmt = (select(CopayPayment.received_at, CopayPayment.method, CopayPayment.amount, CopayPayment.voided)
            .where(CopayPayment.received_at >= since, CopayPayment.received_at < before))
    if p["method"] and p["method"] != "all":
        stmt = stmt.where(CopayPayment.method == p["method"])
    tz = clinic_timezone()
    groups = {}
    for r in conn.execute(stmt):
        # The clinic's local day of the receipt: 8 pm in New York on the 1st is the 2nd in UTC.
        key = (r.received_at.astimezone(tz).date(), r.method)
        row = groups.setdefault(key, {"day": key[0], "method": key[1], "receipts": 0,
                                      "amount": Decimal("0.00"), "voided": 0})
        if r.voided:
            row["voided"] += 1
        else:
            row["receipts"] += 1
            row["amount"] += Decimal(str(r.amount)).quantize(Decimal("0.01"))
    order = {m: i for i, m in enumerate(PAYMENT_METHODS)}
    return sorted(groups.values(), key=lambda r: (r["day"], order.get(r["method"], 99)))


REPORT = Report(
    title=_l("Copays collected"),
    description=_l("For each day (in the clinic's time) and payment method: the receipts, the money collected "
                   "and the receipts voided. Voided receipts are not counted in the amount."),
    params=[
        Param("period", "daterange", _l("Received between"), default=lambda today: (today, today), required=True,
              max_days=366),
        Param("method", "choice", _l("Payment method"), default="all",
              choices=(("all", _l("All")),) + tuple((m, METHOD_LABELS[m]) for m in PAYMENT_METHODS)),
    ],
    query=query,
    columns=[
        Column("day", _l("Day"), "date"),
        Column("method", _l("Payment method"), labels=METHOD_LABELS),
        Column("receipts", _l("Receipts"), "int", total="sum"),
        Column("amount", _l("Amount"), "money", total="sum"),
        Column("voided", _l("Voided receipts"), "int", total="sum"),
    ],
    roles=["FrontDesk", "Billing", "OfficeManager"],
    patient_data=False,
    order=110,
)
