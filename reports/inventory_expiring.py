"""Expiring stock: the lots on hand that have expired or expire within a number of days, per location,
with the quantity on hand (the inventory service's own rules: app/services/inventory.py)."""
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.reports import Column, Param, Report
from app.services import dates, inventory

STATUS_LABELS = {"expired": _l("Expired"), "expiring": _l("Expiring")}


def query(conn, p):
    session = Session(bind=conn)
    today = dates.clinic_today()
    levels = [("expiring", lv) for lv in inventory.expiring(session, within_days=p["days"], today=today)]
    if p["expired"]:
        levels = [("expired", lv) for lv in inventory.expired(session, today=today)] + levels
    return [{"status": status, "expiry_date": lv.lot.expiry_date, "days": (lv.lot.expiry_date - today).days,
             "item": lv.item.name, "sku": lv.item.sku, "lot": lv.lot.lot_number, "location": lv.location.name,
             "on_hand": lv.quantity, "unit": lv.item.unit, "controlled": bool(lv.item.controlled)}
            for status, lv in levels]


REPORT = Report(
    title=_l("Expiring stock"),
    description=_l("The lots on hand that expire within the number of days given (and, if asked, those that have "
                   "already expired), per location, with the quantity on hand in the item's stock unit."),
    params=[
        Param("days", "int", _l("Expiring within (days)"), default=30, required=True, min=1, max=730),
        Param("expired", "bool", _l("Include expired lots"), default=True),
    ],
    query=query,
    columns=[
        Column("status", _l("Status"), labels=STATUS_LABELS),
        Column("expiry_date", _l("Expiry date"), "date"),
        Column("days", _l("Days left"), "int"),
        Column("item", _l("Item")),
        Column("sku", _l("SKU")),
        Column("lot", _l("Lot")),
        Column("location", _l("Location")),
        Column("on_hand", _l("On hand"), "decimal", "#,##0.##"),
        Column("unit", _l("Unit")),
        Column("controlled", _l("Controlled"), "bool"),
    ],
    roles=["OfficeManager"],
    patient_data=False,
    order=410,
)
