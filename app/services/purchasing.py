"""Purchase orders: draft -> sent -> partly received -> received, or cancelled. The only writer.

Quantities are in the item's stock units (InventoryItem.unit), the unit cost is the price of one
unit. What a line has received is the sum of its receive movements (the inventory service writes
them, with `purchase_order_line_id`): receiving goes through app.services.inventory.receive(), so
the stock rules (lots, expiry, witnesses for controlled items) are the inventory's own.

Every function changes nothing when it refuses (ValidationFailed with translated messages).
"""
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..models.base import utcnow
from ..models.inventory import InventoryItem, StockLocation, StockMovement, Supplier
from ..models.purchasing import PO_STATUSES, PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatusChange
from . import counters, dates, inventory
from .copays import parse_amount
from .errors import StaleRecordError, ValidationFailed, commit_or_stale

PO_COUNTER = "purchase_order"
PO_PREFIX = "PO"
PO_DIGITS = 6
MAX_QUANTITY = Decimal("99999999.99")
MAX_COST = Decimal("99999999.99")
NOTES_MAX = 1000
REASON_MAX = 300
LOT_MAX = 50

STATUS_LABELS = {
    "draft": _l("draft"), "sent": _l("sent"), "partly_received": _l("partly received"),
    "received": _l("received"), "cancelled": _l("cancelled"),
}
assert set(STATUS_LABELS) == set(PO_STATUSES)
TRANSITIONS = {
    "draft": ("sent", "cancelled"),
    "sent": ("partly_received", "received", "cancelled"),
    "partly_received": ("received", "cancelled"),  # cancelled: the rest will not come
    "received": (),
    "cancelled": (),
}
OPEN_STATUSES = ("draft", "sent", "partly_received")
RECEIVABLE_STATUSES = ("sent", "partly_received")


def status_label(status):
    return STATUS_LABELS.get(status, status)




def reserve_number(session):
    """The next order number ("PO000042"), taken in the caller's transaction."""
    return f"{PO_PREFIX}{counters.take(session, PO_COUNTER):0{PO_DIGITS}d}"


def _fail(session, problems):
    session.rollback()
    raise ValidationFailed(problems)


def _check_version(session, order, expected_version):
    if expected_version is not None and order.version != expected_version:
        session.rollback()
        raise StaleRecordError()


def _stamp(session, order, old, new, actor, note=None, now=None):
    session.add(PurchaseOrderStatusChange(order=order, from_status=old, to_status=new, changed_at=now or utcnow(),
                                          changed_by_fk=actor.id if actor is not None else None,
                                          note=(note or "").strip()[:REASON_MAX] or None))


def _move(session, order, new, actor, note=None, now=None):
    old = order.status
    if new not in TRANSITIONS.get(old, ()):
        _fail(session, [("status", _l("Purchase order %(number)s is %(current)s: it cannot become %(new)s.",
                                      number=order.number, current=status_label(old), new=status_label(new)))])
    order.status = new
    _stamp(session, order, old, new, actor, note, now)


# --------------------------------------------------------------------------- parsing and checks

def parse_quantity(value, locale="en"):
    """A typed quantity as Decimal (in the user's locale), or None when nothing/garbage was typed."""
    return parse_amount(value, locale) if not isinstance(value, Decimal) else value


def _quantity_problems(field_name, value, raw=None):
    if value is None:
        if raw is None or not str(raw).strip():
            return [(field_name, _l("Give the quantity."))]
        return [(field_name, _l("Enter the quantity as a number, for example 10."))]
    if not value.is_finite():
        return [(field_name, _l("Enter the quantity as a number, for example 10."))]
    if value <= 0:
        return [(field_name, _l("The quantity must be more than zero."))]
    if value > MAX_QUANTITY or value != value.quantize(Decimal("0.01")):
        return [(field_name, _l("Enter the quantity with at most two decimals."))]
    return []


def _cost_problems(field_name, value, raw=None):
    if value is None:
        if raw is None or not str(raw).strip():
            return [(field_name, _l("Give the unit cost (0 if it is free)."))]
        return [(field_name, _l("Enter the unit cost as a number, for example 12.50."))]
    if not value.is_finite():
        return [(field_name, _l("Enter the unit cost as a number, for example 12.50."))]
    if value < 0:
        return [(field_name, _l("The unit cost cannot be negative."))]
    if value > MAX_COST or value != value.quantize(Decimal("0.01")):
        return [(field_name, _l("Enter the unit cost in dollars and cents, for example 12.50."))]
    return []


def _line_problems(item, quantity, unit_cost, prefix="", raw_quantity=None, raw_cost=None):
    problems = []
    if item is None:
        problems.append((prefix + "item", _l("Choose an item.")))
    elif not item.active:
        problems.append((prefix + "item", _l("%(item)s is no longer in use: it cannot be ordered.", item=item.name)))
    problems += _quantity_problems(prefix + "quantity", quantity, raw_quantity)
    problems += _cost_problems(prefix + "unit_cost", unit_cost, raw_cost)
    return problems


def _date_problems(order_date, expected_date):
    if order_date is not None and expected_date is not None and expected_date < order_date:
        return [("expected_date", _l("The expected date is before the order date."))]
    return []


def _clean_notes(notes):
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX:
        return notes, [("notes", _l("At most %(n)d characters.", n=NOTES_MAX))]
    return notes or None, []


# --------------------------------------------------------------------------- amounts

def line_total(line):
    return (Decimal(line.quantity) * Decimal(line.unit_cost)).quantize(Decimal("0.01"))


def order_total(order):
    return sum((line_total(line) for line in order.lines), Decimal("0.00"))


def received_quantities(session, order):
    """{line id: quantity received} from the order's receive movements."""
    ids = [line.id for line in order.lines if line.id is not None]
    if not ids:
        return {}
    rows = session.execute(
        select(StockMovement.purchase_order_line_id, func.coalesce(func.sum(StockMovement.quantity), 0))
        .where(StockMovement.purchase_order_line_id.in_(ids), StockMovement.kind == "receive")
        .group_by(StockMovement.purchase_order_line_id)).all()
    got = {line_id: Decimal(str(qty)) for line_id, qty in rows}
    return {i: got.get(i, Decimal("0")) for i in ids}


def on_order(session):
    """{item id: quantity still expected} over the open orders (drafts included)."""
    lines = session.scalars(select(PurchaseOrderLine).join(PurchaseOrder)
                            .where(PurchaseOrder.status.in_(OPEN_STATUSES))).all()
    if not lines:
        return {}
    received = {}
    rows = session.execute(
        select(StockMovement.purchase_order_line_id, func.sum(StockMovement.quantity))
        .where(StockMovement.purchase_order_line_id.in_([line.id for line in lines]), StockMovement.kind == "receive")
        .group_by(StockMovement.purchase_order_line_id)).all()
    received = {line_id: Decimal(str(qty)) for line_id, qty in rows}
    out = {}
    for line in lines:
        left = Decimal(line.quantity) - received.get(line.id, Decimal("0"))
        if left > 0:
            out[line.item_id] = out.get(line.item_id, Decimal("0")) + left
    return out


def last_unit_cost(session, item, supplier=None):
    """The unit cost of the item on its latest order (from this supplier when given), else None."""
    stmt = (select(PurchaseOrderLine.unit_cost).join(PurchaseOrder)
            .where(PurchaseOrderLine.item_id == item.id, PurchaseOrder.status != "cancelled")
            .order_by(PurchaseOrder.order_date.desc(), PurchaseOrderLine.id.desc()).limit(1))
    if supplier is not None:
        stmt = stmt.where(PurchaseOrder.supplier_id == supplier.id)
    return session.scalar(stmt)


# --------------------------------------------------------------------------- drafts

@dataclass
class NewLine:
    item: InventoryItem
    quantity: Decimal
    unit_cost: Decimal


def create_order(session, *, supplier, lines=(), order_date=None, expected_date=None, notes=None, actor=None,
                 today=None, commit=True):
    """A draft order for `supplier` with `lines` (NewLine or (item, quantity, unit_cost))."""
    today = today or dates.clinic_today()
    order_date = order_date or today
    notes, problems = _clean_notes(notes)
    if supplier is None:
        problems.append(("supplier", _l("Choose a supplier.")))
    elif not supplier.active:
        problems.append(("supplier", _l("%(supplier)s is no longer in use: choose another supplier.",
                                        supplier=supplier.name)))
    problems += _date_problems(order_date, expected_date)
    lines = [line if isinstance(line, NewLine) else NewLine(*line) for line in lines]
    for i, line in enumerate(lines, start=1):
        problems += _line_problems(line.item, line.quantity, line.unit_cost, prefix=f"line_{i}_")
    if problems:
        _fail(session, problems)
    order = PurchaseOrder(number=reserve_number(session), supplier=supplier, status="draft", order_date=order_date,
                          expected_date=expected_date, notes=notes)
    for i, line in enumerate(lines, start=1):
        order.lines.append(PurchaseOrderLine(line_number=i, item=line.item, quantity=line.quantity,
                                             unit_cost=line.unit_cost))
    session.add(order)
    _stamp(session, order, None, "draft", actor)
    if commit:
        session.commit()
    return order


def _check_draft(session, order, expected_version):
    if order.status != "draft":
        _fail(session, [(None, _l("Purchase order %(number)s is %(status)s: its lines can only be changed while it "
                                  "is a draft.", number=order.number, status=status_label(order.status)))])
    _check_version(session, order, expected_version)


def update_order(session, order, *, order_date, expected_date, notes, actor=None, expected_version=None):
    """Change a draft's dates and notes."""
    _check_draft(session, order, expected_version)
    notes, problems = _clean_notes(notes)
    if order_date is None:
        problems.append(("order_date", _l("Give the order date.")))
    problems += _date_problems(order_date, expected_date)
    if problems:
        _fail(session, problems)
    order.order_date, order.expected_date, order.notes = order_date, expected_date, notes
    commit_or_stale(session)
    return order


def add_line(session, order, *, item, quantity, unit_cost, actor=None, expected_version=None,
             raw_quantity=None, raw_cost=None):
    """A line on a draft; an item already on the order gets its quantity added instead."""
    _check_draft(session, order, expected_version)
    problems = _line_problems(item, quantity, unit_cost, raw_quantity=raw_quantity, raw_cost=raw_cost)
    if problems:
        _fail(session, problems)
    existing = next((line for line in order.lines if line.item_id == item.id), None)
    if existing is not None:
        total = Decimal(existing.quantity) + quantity
        if total > MAX_QUANTITY:
            _fail(session, _quantity_problems("quantity", MAX_QUANTITY + 1))
        existing.quantity, existing.unit_cost = total, unit_cost
        line = existing
    else:
        number = max((line.line_number for line in order.lines), default=0) + 1
        line = PurchaseOrderLine(line_number=number, item=item, quantity=quantity, unit_cost=unit_cost)
        order.lines.append(line)
    order.changed_on = utcnow()  # the order's version moves with its lines
    commit_or_stale(session)
    return line


def update_line(session, order, line, *, quantity, unit_cost, actor=None, expected_version=None,
                raw_quantity=None, raw_cost=None):
    _check_draft(session, order, expected_version)
    if line is None or line.purchase_order_id != order.id:
        _fail(session, [(None, _l("This line is not part of the order."))])
    problems = _quantity_problems("quantity", quantity, raw_quantity) + _cost_problems("unit_cost", unit_cost, raw_cost)
    if problems:
        _fail(session, problems)
    line.quantity, line.unit_cost = quantity, unit_cost
    order.changed_on = utcnow()
    commit_or_stale(session)
    return line


def remove_line(session, order, line, *, actor=None, expected_version=None):
    _check_draft(session, order, expected_version)
    if line is None or line.purchase_order_id != order.id:
        _fail(session, [(None, _l("This line is not part of the order."))])
    order.lines.remove(line)
    order.changed_on = utcnow()
    commit_or_stale(session)


# --------------------------------------------------------------------------- the lifecycle

def send(session, order, *, actor, expected_version=None, now=None):
    """draft -> sent (the order went to the supplier): needs at least one line."""
    if order.status == "draft" and not order.lines:
        _fail(session, [(None, _l("Purchase order %(number)s has no lines: add what to order first.",
                                  number=order.number))])
    _check_version(session, order, expected_version)
    now = now or utcnow()
    _move(session, order, "sent", actor, now=now)
    order.sent_at, order.sent_by_fk = now, actor.id if actor is not None else None
    commit_or_stale(session)
    return order


def cancel(session, order, *, reason, actor, expected_version=None, now=None):
    """Any open order -> cancelled, with a reason. What was received stays in stock."""
    reason = (reason or "").strip()
    if order.status in TRANSITIONS and "cancelled" not in TRANSITIONS[order.status]:
        _fail(session, [("status", _l("Purchase order %(number)s is %(current)s: it cannot be cancelled.",
                                      number=order.number, current=status_label(order.status)))])
    if not reason:
        _fail(session, [("reason", _l("Say why the order is cancelled."))])
    if len(reason) > REASON_MAX:
        _fail(session, [("reason", _l("At most %(n)d characters.", n=REASON_MAX))])
    _check_version(session, order, expected_version)
    now = now or utcnow()
    _move(session, order, "cancelled", actor, note=reason, now=now)
    order.cancelled_at, order.cancelled_by_fk, order.cancel_reason = now, actor.id if actor else None, reason
    commit_or_stale(session)
    return order


@dataclass
class Receipt:
    """What came in for one order line: a quantity in stock units, into a location; lot and expiry
    for lot-tracked items."""

    line: PurchaseOrderLine
    quantity: Decimal
    location: StockLocation = None
    lot_number: str = None
    expiry_date: dt.date = None
    raw_quantity: str = None  # what was typed, for the messages


def receive(session, order, receipts, *, actor, confirmed_by=None, expected_version=None, today=None, now=None):
    """Receive `receipts` (a Receipt per line that came in) in one go: each is a receive movement
    through the inventory service; the order becomes partly received or received. All or nothing."""
    today = today or dates.clinic_today()
    if order.status not in RECEIVABLE_STATUSES:
        _fail(session, [("status", _l("Purchase order %(number)s is %(status)s: nothing can be received on it.",
                                      number=order.number, status=status_label(order.status)))])
    _check_version(session, order, expected_version)
    received = received_quantities(session, order)
    problems, todo = [], []
    for receipt in receipts:
        line = receipt.line
        prefix = f"line_{line.id}_" if line is not None else ""
        if line is None or line.purchase_order_id != order.id:
            problems.append((None, _l("This line is not part of the order.")))
            continue
        quantity = receipt.quantity
        if quantity is None and not (receipt.raw_quantity or "").strip():
            continue  # nothing came for this line
        found = _quantity_problems(prefix + "quantity", quantity, receipt.raw_quantity)
        if found:
            problems += found
            continue
        item = line.item
        left = Decimal(line.quantity) - received.get(line.id, Decimal("0"))
        if quantity > left:
            problems.append((prefix + "quantity", _l(
                "Line %(line)d (%(item)s): %(ordered)s ordered, %(received)s already received: at most %(left)s more "
                "can be received.", line=line.line_number, item=item.name, ordered=_qty(line.quantity),
                received=_qty(received.get(line.id, 0)), left=_qty(max(left, Decimal("0"))))))
        if receipt.location is None:
            problems.append((prefix + "location", _l("Choose where it is put away.")))
        elif not receipt.location.active:
            problems.append((prefix + "location", _l("%(location)s is no longer in use.",
                                                     location=receipt.location.name)))
        lot = (receipt.lot_number or "").strip()
        if item.lot_tracked:
            if not lot:
                problems.append((prefix + "lot_number", _l("%(item)s is tracked by lot: give the lot number.",
                                                           item=item.name)))
            elif len(lot) > LOT_MAX:
                problems.append((prefix + "lot_number", _l("At most %(n)d characters.", n=LOT_MAX)))
            if receipt.expiry_date is None:
                problems.append((prefix + "expiry_date", _l("%(item)s is tracked by lot: give the expiry date.",
                                                            item=item.name)))
        elif receipt.expiry_date is not None or lot:
            problems.append((prefix + "lot_number", _l("%(item)s is not tracked by lot: leave the lot and expiry "
                                                       "empty.", item=item.name)))
        if receipt.expiry_date is not None and receipt.expiry_date < today:
            problems.append((prefix + "expiry_date", _l(
                "The expiry date %(date)s is in the past: expired stock cannot be received.",
                date=format_date(receipt.expiry_date, "medium"))))
        todo.append((receipt, quantity, lot or None))
    if not problems and not todo:
        problems.append((None, _l("Give the quantity received for at least one line.")))
    if problems:
        _fail(session, _unique(problems))
    witness = None
    controlled = [receipt.line.item for receipt, _qty_, _lot in todo if receipt.line.item.controlled]
    if controlled:  # checked once (a password hash is slow), then named on each movement
        try:
            witness = inventory.check_witness(session, controlled[0], confirmed_by, actor)
        except ValidationFailed:
            session.rollback()
            raise
    receipt = None
    try:
        for receipt, quantity, lot in todo:
            line = receipt.line
            inventory.receive(session, item=line.item, location=receipt.location, quantity=quantity,
                              lot_number=lot if line.item.lot_tracked else None,
                              expiry_date=receipt.expiry_date if line.item.lot_tracked else None, actor=actor,
                              confirmed_by=witness if line.item.controlled else None,
                              purchase_order_line_id=line.id, today=today, supplier=order.supplier, commit=False)
            received[line.id] = received.get(line.id, Decimal("0")) + quantity
    except ValidationFailed as exc:
        session.rollback()
        raise ValidationFailed([(f"line_{receipt.line.id}_{f}" if f and not f.startswith("witness") else f, m)
                                for f, m in exc.problems]) from None
    now = now or utcnow()
    complete = all(received.get(line.id, Decimal("0")) >= Decimal(line.quantity) for line in order.lines)
    if complete:
        _move(session, order, "received", actor, now=now)
        order.received_at = now
    elif order.status != "partly_received":
        _move(session, order, "partly_received", actor, now=now)
    else:
        order.changed_on = now  # the version moves: two people receiving the same order at once
    commit_or_stale(session)
    return order


def _unique(problems):
    seen, out = set(), []
    for f, m in problems:
        key = (f, str(m))
        if key not in seen:
            seen.add(key)
            out.append((f, m))
    return out


def _qty(value):
    from babel.numbers import format_decimal
    from flask_babel import get_locale

    return format_decimal(Decimal(value), format="#,##0.##", locale=str(get_locale() or "en"))


# --------------------------------------------------------------------------- from the low-stock list

@dataclass
class LowStockRow:
    item: InventoryItem
    on_hand: Decimal
    on_order: Decimal

    @property
    def supplier(self):
        return self.item.preferred_supplier


def low_stock_rows(session):
    """Items at or under their reorder point, with what is already on order, by supplier then name."""
    ordered = on_order(session)
    rows = [LowStockRow(item, Decimal(on_hand), ordered.get(item.id, Decimal("0")))
            for item, on_hand in inventory.low_stock(session)]
    return sorted(rows, key=lambda r: (r.supplier is None, r.supplier.name if r.supplier else "", r.item.name))


@dataclass
class Generated:
    orders: list = field(default_factory=list)  # the new drafts
    without_supplier: list = field(default_factory=list)  # items: choose a supplier first
    already_ordered: list = field(default_factory=list)  # items on an open order already
    no_quantity: list = field(default_factory=list)  # items without a reorder quantity


def generate_from_low_stock(session, *, actor, today=None):
    """One draft per preferred supplier for the low-stock items: quantity = the item's reorder quantity,
    unit cost = the last one paid (else 0, to fill in). Items already on an open order, without a
    supplier or without a reorder quantity are listed apart, not ordered."""
    result = Generated()
    by_supplier = {}
    for row in low_stock_rows(session):
        item = row.item
        if row.on_order > 0:
            result.already_ordered.append(item)
        elif item.preferred_supplier is None or not item.preferred_supplier.active:
            result.without_supplier.append(item)
        elif not item.reorder_quantity or Decimal(item.reorder_quantity) <= 0:
            result.no_quantity.append(item)
        else:
            by_supplier.setdefault(item.preferred_supplier.id, (item.preferred_supplier, []))[1].append(item)
    for supplier, items in sorted(by_supplier.values(), key=lambda pair: pair[0].name):
        lines = [NewLine(item, Decimal(item.reorder_quantity), last_unit_cost(session, item, supplier)
                         or last_unit_cost(session, item) or Decimal("0.00")) for item in items]
        result.orders.append(create_order(session, supplier=supplier, lines=lines, actor=actor, today=today,
                                          notes=None, commit=False))
    session.commit()
    return result


# --------------------------------------------------------------------------- lookups for the screens

def open_orders_count(session):
    return session.scalar(select(func.count()).select_from(PurchaseOrder)
                          .where(PurchaseOrder.status.in_(OPEN_STATUSES)))


def active_suppliers(session):
    return session.scalars(select(Supplier).where(Supplier.active.is_(True)).order_by(Supplier.name)).all()


def active_items(session):
    return session.scalars(select(InventoryItem).where(InventoryItem.active.is_(True))
                           .order_by(InventoryItem.name)).all()


def active_locations(session):
    return session.scalars(select(StockLocation).where(StockLocation.active.is_(True))
                           .order_by(StockLocation.name)).all()


# --------------------------------------------------------------------------- demo data

def seed_demo(session, *, now=None):
    """Demo purchase orders (after the inventory's demo stock): drafts from the low-stock list with demo
    prices, the first one sent. Once: returns {} when an order exists or there is no office manager."""
    from ..models.user import ClinicUser

    if session.scalar(select(PurchaseOrder.id).limit(1)) is not None:
        return {}
    users = session.scalars(select(ClinicUser).where(ClinicUser.active.is_(True)).order_by(ClinicUser.id)).all()
    manager = next((u for u in users if any(r.name == "OfficeManager" for r in u.roles)), None)
    if manager is None:
        return {}
    result = generate_from_low_stock(session, actor=manager)
    for order in result.orders:
        for line in order.lines:
            if not line.unit_cost:
                line.unit_cost = Decimal(2 + len(line.item.name) % 9) + Decimal("0.50")  # a demo price
    session.commit()
    if result.orders:
        send(session, result.orders[0], actor=manager, now=now)
    return {"purchase_orders": len(result.orders)}
