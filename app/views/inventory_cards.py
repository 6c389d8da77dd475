"""The home-page cards of inventory for the office manager: items at or under their reorder point,
and lots on hand that expire within 30 days (or have expired). Each hides itself when there is nothing
to do."""
from flask import url_for
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..services import dates, inventory
from .home import Link, register_home_card

EXPIRING_DAYS = 30


def _low_stock(user, ctx):
    n = len(inventory.low_stock(db.session))
    if not n:
        return None
    return {"value": n, "attention": True, "text": _l("items at or under their reorder point"),
            "links": [Link(_l("See the low-stock list"), url_for("InventoryListView.low_stock"))]}


def _expiring(user, ctx):
    today = dates.clinic_today()
    soon = {lv.lot.id for lv in inventory.expiring(db.session, within_days=EXPIRING_DAYS, today=today)}
    gone = {lv.lot.id for lv in inventory.expired(db.session, today=today)}
    if not soon and not gone:
        return None
    text = _l("lots on hand expire within %(days)d days", days=EXPIRING_DAYS)
    if gone:
        text = _l("lots on hand expire within %(days)d days; %(expired)d more have expired", days=EXPIRING_DAYS,
                  expired=len(gone))
    return {"value": len(soon), "attention": bool(gone) or bool(soon), "text": text,
            "links": [Link(_l("See the expiring stock"), url_for("InventoryListView.expiring"))]}


register_home_card("inventory_low_stock", _l("Low stock"), _low_stock, permission=("can_read", "Inventory"), order=45)
register_home_card("inventory_expiring", _l("Expiring stock"), _expiring, permission=("can_read", "Inventory"),
                   order=46)
