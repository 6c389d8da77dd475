"""Controlled substances log: every movement of the controlled items in a period, with who made it, who
witnessed it and the running balance of the item (all locations together), printable for the register."""
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import aliased

from app.models.inventory import MOVEMENT_KIND_LABELS, InventoryItem, StockLocation, StockLot, StockMovement
from app.models.user import ClinicUser
from app.reports import Column, Param, Report, day_bounds, last_days
from app.reports.definitions import clinic_timezone

CENT = Decimal("0.01")


def _signed():
    """+ what came into a location, − what left one (a transfer is both: 0 for the item's balance)."""
    return (case((StockMovement.to_location_id.is_not(None), StockMovement.quantity), else_=0)
            - case((StockMovement.from_location_id.is_not(None), StockMovement.quantity), else_=0))


def _name(user):
    return func.trim(func.coalesce(user.first_name, literal("")) + literal(" ")
                     + func.coalesce(user.last_name, literal("")))


def query(conn, p):
    start, end = p["period"]
    since, before = day_bounds(start, end)
    controlled = [InventoryItem.controlled.is_(True)]
    text = (p.get("item") or "").strip().lower()
    if text:
        pattern = f"%{text}%"
        controlled.append(func.lower(InventoryItem.name).like(pattern) | func.lower(InventoryItem.sku).like(pattern))
    opening = {item_id: Decimal(str(total or 0)) for item_id, total in conn.execute(
        select(StockMovement.item_id, func.sum(_signed()))
        .join(InventoryItem, InventoryItem.id == StockMovement.item_id)
        .where(StockMovement.created_at < since, *controlled).group_by(StockMovement.item_id))}
    source, target = aliased(StockLocation), aliased(StockLocation)
    by, witness = aliased(ClinicUser), aliased(ClinicUser)
    stmt = (
        select(StockMovement.id, StockMovement.item_id, StockMovement.created_at, StockMovement.kind,
               StockMovement.quantity, StockMovement.from_location_id, StockMovement.to_location_id,
               StockMovement.reason, InventoryItem.name.label("item_name"), InventoryItem.sku, InventoryItem.unit,
               StockLot.lot_number, source.name.label("source"), target.name.label("target"),
               _name(by).label("by_name"), _name(witness).label("witness_name"))
        .join(InventoryItem, InventoryItem.id == StockMovement.item_id)
        .outerjoin(StockLot, StockLot.id == StockMovement.lot_id)
        .outerjoin(source, source.id == StockMovement.from_location_id)
        .outerjoin(target, target.id == StockMovement.to_location_id)
        .outerjoin(by, by.id == StockMovement.created_by_fk)
        .outerjoin(witness, witness.id == StockMovement.confirmed_by_fk)
        .where(and_(StockMovement.created_at >= since, StockMovement.created_at < before), *controlled)
        .order_by(InventoryItem.name, InventoryItem.id, StockMovement.created_at, StockMovement.id)
    )
    tz = clinic_timezone()
    balances, rows = dict(opening), []
    for r in conn.execute(stmt):
        quantity = Decimal(str(r.quantity)).quantize(CENT)
        change = (quantity if r.to_location_id is not None else 0) - (quantity if r.from_location_id is not None else 0)
        balances[r.item_id] = balances.get(r.item_id, Decimal("0")) + change
        local = r.created_at.astimezone(tz)
        rows.append({
            "item": f"{r.item_name} ({r.sku}, {r.unit})", "day": local.date(),
            "time": local.time().replace(microsecond=0),
            "lot": r.lot_number or "", "kind": r.kind, "quantity": quantity,
            "source": r.source or "", "target": r.target or "", "by": r.by_name or "", "witness": r.witness_name or "",
            "reason": r.reason or "", "balance": balances[r.item_id].quantize(CENT),
        })
    return rows


REPORT = Report(
    title=_l("Controlled substances log"),
    description=_l("Every movement of the controlled items in the period: when, the lot, the kind of movement, "
                   "the quantity, from where and to where, who made it, who witnessed it and the item's running "
                   "balance (all locations together, counted from the first movement on file)."),
    params=[
        Param("period", "daterange", _l("Movements between"), default=last_days(30), required=True, max_days=3700),
        Param("item", "text", _l("Item name or SKU contains (optional)")),
    ],
    query=query,
    columns=[
        Column("item", _l("Item")),
        Column("day", _l("Date"), "date"),
        Column("time", _l("Time"), "time"),
        Column("lot", _l("Lot")),
        Column("kind", _l("Movement"), labels=MOVEMENT_KIND_LABELS),
        Column("quantity", _l("Quantity"), "decimal", "#,##0.##"),
        Column("source", _l("From")),
        Column("target", _l("To")),
        Column("by", _l("By")),
        Column("witness", _l("Witnessed by")),
        Column("reason", _l("Reason")),
        Column("balance", _l("Balance"), "decimal", "#,##0.##"),
    ],
    group_by="item",
    roles=["OfficeManager"],
    patient_data=False,
    order=400,
)
