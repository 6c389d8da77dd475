"""Inventory: every change of stock is a movement; stock on hand is the sum of the movements.

Rules, in one place (forms, purchase-order receipts, seeds and the CLI call these functions):
- quantities are positive (an adjustment is signed: + adds, − removes, and always has a reason);
- stock never goes negative: each write first locks the item's row (SELECT ... FOR UPDATE on
  PostgreSQL, a no-op UPDATE that takes SQLite's single writer lock), then reads what is on hand,
  so concurrent issues of the last units queue and the late ones are refused;
- lot-tracked items are received with a lot number and an expiry date that has not passed;
  issuing takes the lot that expires first (FEFO), splitting across lots, and never expired stock;
  expired stock leaves through dispose_expired;
- every movement of a controlled substance names a witness: another active user holding
  can_confirm on Inventory, who types their username and password on the same form. Every refused
  witness is written to the audit trail (flagged). A wrong password also counts towards the
  witness's login lockout, exactly like a failed sign-in: otherwise the witness fields would let
  anyone logged in guess a manager's password without limit (and anyone can already lock an account
  out from the sign-in page, so this adds no new way to do that). A locked or disabled account
  cannot witness.

Each function commits (commit=False only flushes, for a caller that commits several things at
once, e.g. a purchase-order receipt) and, on ValidationFailed, has changed nothing.
"""
from collections import namedtuple
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from ..models.inventory import InventoryItem, StockLocation, StockLot, StockMovement, Supplier
from ..models.user import ClinicUser
from . import audit, auth, dates
from .errors import DomainError, ValidationFailed

CONFIRM_PERMISSION = ("can_confirm", "Inventory")
MAX_QUANTITY = Decimal("999999")
REASON_MAX = 200
LOT_MAX = 50
ZERO = Decimal("0")

# A witness as typed on the form; services check the password. A user object may be passed
# instead by trusted code (seed, CLI) that has verified the person some other way.
Witness = namedtuple("Witness", "username password")


class StockBusy(DomainError):
    status_code = 409
    default_message = _l("Someone else is changing this item's stock right now. Nothing was saved: try again.")


@dataclass
class Level:
    """Stock on hand of one item at one location, in one lot (lot None: not lot-tracked)."""

    item: InventoryItem
    location: StockLocation
    lot: StockLot | None
    quantity: Decimal


# --------------------------------------------------------------------------- input checks

def parse_quantity(value):
    """The Decimal typed ("12", "2.5"), or None if it is no number."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    text = str(value).strip().replace(",", ".")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def quantity_problems(quantity, *, field="quantity", signed=False):
    """Problems with a quantity; `signed` allows a negative number (adjustments) but never zero."""
    if quantity is None or not quantity.is_finite():
        return [(field, _l("Enter the quantity as a number, for example 10."))]
    if quantity == 0:
        return [(field, _l("The quantity cannot be zero."))]
    if quantity < 0 and not signed:
        return [(field, _l("The quantity must be more than zero."))]
    if quantity != quantity.quantize(Decimal("0.01")):
        return [(field, _l("Enter the quantity with at most two decimals."))]
    if abs(quantity) > MAX_QUANTITY:
        return [(field, _l("The quantity cannot be more than %(max)s.", max=MAX_QUANTITY))]
    return []


def _text(value):
    value = (value or "").strip() if isinstance(value, str) or value is None else value
    return value or None


def _get(session, model, value):
    if value is None or isinstance(value, model):
        return value
    return session.get(model, int(getattr(value, "id", value)))


def _user_id(user):
    return getattr(user, "id", user)


# --------------------------------------------------------------------------- stock on hand

def _sum_in_out(stmt_filter, session):
    """(in, out) sums of movements matching the filters."""
    incoming = session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0))
                              .where(StockMovement.to_location_id.is_not(None), *stmt_filter["in"]))
    outgoing = session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0))
                              .where(StockMovement.from_location_id.is_not(None), *stmt_filter["out"]))
    return Decimal(incoming), Decimal(outgoing)


def on_hand(session, item, location=None, lot=None):
    """Stock on hand of `item` (everywhere, or at `location`; all lots, or `lot`) as a Decimal."""
    item_id, location_id, lot_id = _user_id(item), _user_id(location), _user_id(lot)
    common = [StockMovement.item_id == item_id]
    if lot_id is not None:
        common.append(StockMovement.lot_id == lot_id)
    filters = {"in": list(common), "out": list(common)}
    if location_id is not None:
        filters["in"].append(StockMovement.to_location_id == location_id)
        filters["out"].append(StockMovement.from_location_id == location_id)
    incoming, outgoing = _sum_in_out(filters, session)
    return (incoming - outgoing).quantize(Decimal("0.01"))


def _balances(session, *, item_id=None, location_id=None):
    """{(item_id, location_id, lot_id): quantity} for every non-zero balance."""
    out = {}
    for column, sign in ((StockMovement.to_location_id, 1), (StockMovement.from_location_id, -1)):
        stmt = (select(StockMovement.item_id, column, StockMovement.lot_id, func.sum(StockMovement.quantity))
                .where(column.is_not(None))
                .group_by(StockMovement.item_id, column, StockMovement.lot_id))
        if item_id is not None:
            stmt = stmt.where(StockMovement.item_id == item_id)
        if location_id is not None:
            stmt = stmt.where(column == location_id)
        for i, loc, lot, qty in session.execute(stmt):
            key = (i, loc, lot)
            out[key] = out.get(key, ZERO) + sign * Decimal(qty)
    return {k: v.quantize(Decimal("0.01")) for k, v in out.items() if v != 0}


def stock_levels(session, *, item=None, location=None):
    """Every non-zero balance as Level rows, by item name, location name, expiry."""
    balances = _balances(session, item_id=_user_id(item), location_id=_user_id(location))
    items = {i.id: i for i in session.scalars(select(InventoryItem).where(
        InventoryItem.id.in_({k[0] for k in balances})))} if balances else {}
    locations = {loc.id: loc for loc in session.scalars(select(StockLocation).where(
        StockLocation.id.in_({k[1] for k in balances})))} if balances else {}
    lot_ids = {k[2] for k in balances if k[2] is not None}
    lots = {lot.id: lot for lot in session.scalars(select(StockLot).where(StockLot.id.in_(lot_ids)))} if lot_ids else {}
    levels = [Level(items[i], locations[loc], lots.get(lot), qty) for (i, loc, lot), qty in balances.items()]
    levels.sort(key=lambda lv: (lv.item.name.lower(), lv.location.name.lower(),
                                lv.lot.expiry_date if lv.lot else date.max, lv.lot.lot_number if lv.lot else ""))
    return levels


def item_totals(session):
    """{item_id: on hand everywhere} for every item with stock."""
    totals = {}
    for (item_id, _loc, _lot), qty in _balances(session).items():
        totals[item_id] = totals.get(item_id, ZERO) + qty
    return totals


def low_stock(session):
    """[(item, on_hand)] for active items at or below their reorder point (reorder point > 0)."""
    totals = item_totals(session)
    items = session.scalars(select(InventoryItem).where(InventoryItem.active.is_(True), InventoryItem.reorder_point > 0)
                            .order_by(InventoryItem.name))
    return [(item, totals.get(item.id, ZERO)) for item in items if totals.get(item.id, ZERO) <= item.reorder_point]


def _lot_levels(session, *, where):
    levels = [lv for lv in stock_levels(session) if lv.lot is not None and lv.quantity > 0 and where(lv.lot)]
    levels.sort(key=lambda lv: (lv.lot.expiry_date, lv.item.name.lower(), lv.location.name.lower()))
    return levels


def expiring(session, within_days=30, today=None):
    """Level rows of lots on hand that expire from today up to `within_days` ahead, soonest first."""
    today = today or dates.clinic_today()
    last = today + timedelta(days=within_days)
    return _lot_levels(session, where=lambda lot: today <= lot.expiry_date <= last)


def expired(session, today=None):
    """Level rows of lots still on hand whose expiry date has passed, oldest first."""
    today = today or dates.clinic_today()
    return _lot_levels(session, where=lambda lot: lot.expiry_date < today)


def history(session, item, *, limit=500):
    """Movements of `item`, newest first."""
    return list(session.scalars(select(StockMovement).where(StockMovement.item_id == _user_id(item))
                                .order_by(StockMovement.created_at.desc(), StockMovement.id.desc()).limit(limit)))


# --------------------------------------------------------------------------- witness

def can_confirm(user):
    """Does `user` hold can_confirm on Inventory (through any of their roles)?"""
    for role in user.roles:
        for pv in role.permissions:
            if pv.permission and pv.view_menu and (pv.permission.name, pv.view_menu.name) == CONFIRM_PERMISSION:
                return True
    return False


def _witness_failed(session, item, username, reason):
    """Record the refused witness in the audit trail (own transaction: kept although nothing is saved)."""
    audit.record(session.get_bind(), action="inventory_witness_failed", object_type="InventoryItem",
                 object_id=item.id, flagged=True, details={"witness": (username or "")[:128], "reason": reason})


def _count_failed_password(session, user):
    """One more consecutive failed password for `user`, as on the sign-in page (own transaction)."""
    from ..auth_manager import setting

    with Session(bind=session.get_bind()) as other:
        failures, locked_now = auth.register_failed_login(
            other, ClinicUser, user.id, threshold=setting("AUTH_LOCKOUT_THRESHOLD"), at=auth.now())
    session.expire(user, ["fail_login_count", "locked_at"])
    if locked_now:
        audit.record(session.get_bind(), action="lockout", object_type="User", object_id=user.id,
                     details={"failures": failures, "via": "inventory witness"})


def _locked(user):
    from ..auth_manager import setting

    locked_at = getattr(user, "locked_at", None)
    if locked_at is None:
        return False
    return not auth.lockout_expired(locked_at, minutes=setting("AUTH_LOCKOUT_MINUTES"), at=auth.now())


def check_witness(session, item, confirmed_by, actor):
    """The confirming user for a movement of `item`, or raise ValidationFailed (nothing written).

    Items that are not controlled need no witness (one given is still checked and kept)."""
    if confirmed_by is None or (isinstance(confirmed_by, Witness) and not (confirmed_by.username or "").strip()):
        if item.controlled:
            raise ValidationFailed([("witness_username", _l(
                "This is a controlled substance: a second person must confirm the movement with their "
                "username and password."))])
        return None
    if isinstance(confirmed_by, Witness):
        username = confirmed_by.username.strip()
        user = session.scalar(select(ClinicUser).where(ClinicUser.username == username))
        if user is None:
            fake = current_app.config.get("AUTH_DB_FAKE_PASSWORD_HASH_CHECK") if has_app_context() else None
            if fake:
                check_password_hash(fake, "password")  # as slow as a real check
            _witness_failed(session, item, username, "unknown user")
            raise ValidationFailed([("witness_password", _l("The witness's username or password is wrong."))])
        if not user.password or not check_password_hash(user.password, confirmed_by.password or ""):
            _witness_failed(session, item, username, "wrong password")
            _count_failed_password(session, user)
            raise ValidationFailed([("witness_password", _l("The witness's username or password is wrong."))])
    else:
        user = _get(session, ClinicUser, confirmed_by)
        username = user.username if user else ""
    problem, code = None, None
    if user is None:
        problem, code = _l("The witness's username or password is wrong."), "unknown user"
    elif user.id == _user_id(actor):
        problem, code = _l("The witness must be a different person from the one making the movement."), "same user"
    elif not user.active or _locked(user):
        problem, code = _l("The witness's account is disabled or locked."), "inactive or locked"
    elif not can_confirm(user):
        problem, code = _l("%(user)s may not confirm inventory movements.", user=username), "not allowed"
    if problem is not None:
        _witness_failed(session, item, username, code)
        raise ValidationFailed([("witness_username", problem)])
    return user


# --------------------------------------------------------------------------- locking and writing

def _lock_item(session, item_id):
    """Serialize stock changes of one item until the transaction ends."""
    table = InventoryItem.__table__
    if session.connection().dialect.name == "postgresql":
        session.execute(select(table.c.id).where(table.c.id == item_id).with_for_update())
    else:  # SQLite: the first write takes the database's single writer lock
        session.execute(update(table).where(table.c.id == item_id).values(id=table.c.id))


def _finish(session, commit):
    if commit:
        session.commit()
    else:
        session.flush()


class _Run:
    """One stock change: check the inputs, then lock, check stock and write; all or nothing."""

    def __init__(self, session, item, actor):
        self.session = session
        self.item = _get(session, InventoryItem, item)
        self.actor = actor
        self.problems = []
        if self.item is None:
            raise ValidationFailed([("item", _l("Choose an item."))])

    def location(self, value, field, *, incoming=False):
        loc = _get(self.session, StockLocation, value)
        if loc is None:
            self.problems.append((field, _l("Choose a location.")))
        elif incoming and not loc.active:
            self.problems.append((field, _l("%(location)s is inactive: choose another location.", location=loc.name)))
        return loc

    def quantity(self, value, *, signed=False):
        qty = parse_quantity(value)
        self.problems += quantity_problems(qty, signed=signed)
        return qty

    def reason(self, value, *, required=False):
        text = _text(value)
        if required and not text:
            self.problems.append(("reason", _l("Give the reason for this adjustment.")))
        elif text and len(text) > REASON_MAX:
            self.problems.append(("reason", _l("Keep this under %(max)d characters.", max=REASON_MAX)))
        return text

    def lot(self, value, *, required=False):
        """An existing lot of the item, by StockLot, id or lot number; unknown ones are refused."""
        if isinstance(value, StockLot):
            if value.item_id != self.item.id:
                self.problems.append(("lot", _l("Lot %(lot)s is not on file for this item.", lot=value.lot_number)))
                return None
            return value
        number = _text(str(value) if isinstance(value, int) else value)
        if number is None:
            if required:
                self.problems.append(("lot", _l("This item is tracked by lot: enter the lot number.")))
            return None
        if not self.item.lot_tracked:
            self.problems.append(("lot", _l("This item is not tracked by lot: leave the lot empty.")))
            return None
        lot = self.session.scalar(select(StockLot).where(StockLot.item_id == self.item.id,
                                                         StockLot.lot_number == number))
        if lot is None:
            self.problems.append(("lot", _l("Lot %(lot)s is not on file for this item.", lot=number)))
        return lot

    def check(self, confirmed_by):
        """Raise every input problem at once; then the witness. Nothing has been written yet."""
        if self.problems:
            self.session.rollback()
            raise ValidationFailed(self.problems)
        try:
            return check_witness(self.session, self.item, confirmed_by, self.actor)
        except ValidationFailed:
            self.session.rollback()
            raise

    def lock(self):
        try:
            _lock_item(self.session, self.item.id)
        except OperationalError as exc:
            self.session.rollback()
            if "locked" in str(exc).lower():
                raise StockBusy() from None
            raise

    def fail(self, problems):
        self.session.rollback()
        raise ValidationFailed(problems)

    def move(self, **values):
        movement = StockMovement(item_id=self.item.id, created_by_fk=_user_id(self.actor), **values)
        self.session.add(movement)
        return movement


def _fmt(qty):
    return format(qty.normalize() if qty == qty.to_integral() else qty, "f")


def _fefo(session, item, location, *, today, include_expired):
    """[(lot or None, quantity)] on hand at `location`, the lot that expires first first."""
    rows = []
    for (_i, _loc, lot_id), qty in _balances(session, item_id=item.id, location_id=location.id).items():
        if qty <= 0:
            continue
        lot = session.get(StockLot, lot_id) if lot_id is not None else None
        if lot is not None and lot.expiry_date < today and not include_expired:
            continue
        rows.append((lot, qty))
    rows.sort(key=lambda r: (r[0].expiry_date if r[0] else date.max, r[0].id if r[0] else 0))
    return rows


def _take(run, location, quantity, *, lot, today, include_expired, kind, **values):
    """Take `quantity` out of `location` (one lot, or FEFO across lots) as movements of `kind`."""
    session, item = run.session, run.item
    if lot is not None:
        available = [(lot, on_hand(session, item, location, lot))]
    else:
        available = _fefo(session, item, location, today=today, include_expired=include_expired)
    total = sum((qty for _lot, qty in available), ZERO)
    if total < quantity:
        problems = [("quantity", _l("Only %(available)s %(unit)s on hand at %(location)s: nothing was changed.",
                                    available=_fmt(total), unit=item.unit, location=location.name))]
        if lot is None and not include_expired:
            old = sum((q for lt, q in _fefo(session, item, location, today=today, include_expired=True)
                       if lt is not None and lt.expiry_date < today), ZERO)
            if old > 0:
                problems.append((None, _l("%(quantity)s %(unit)s there have expired: dispose of them instead.",
                                          quantity=_fmt(old), unit=item.unit)))
        run.fail(problems)
    movements, left = [], quantity
    for lt, qty in available:
        if left <= 0:
            break
        part = min(qty, left)
        movements.append(run.move(kind=kind, lot_id=lt.id if lt else None, from_location_id=location.id,
                                  quantity=part, **values))
        left -= part
    return movements


# --------------------------------------------------------------------------- movements

def receive(session, *, item, location, quantity, lot_number=None, expiry_date=None, actor, confirmed_by=None,
            purchase_order_line_id=None, today=None, supplier=None, reason=None, commit=True):
    """Stock comes in at `location`; returns the movement. Lot-tracked items need a lot number and
    an expiry date that has not passed (a lot already on file must have the same expiry date)."""
    today = today or dates.clinic_today()
    run = _Run(session, item, actor)
    item = run.item
    if not item.active:
        run.problems.append(("item", _l("This item is inactive: make it active before receiving it.")))
    loc = run.location(location, "location", incoming=True)
    qty = run.quantity(quantity)
    supplier = _get(session, Supplier, supplier)
    reason = run.reason(reason)
    lot_number = _text(lot_number)
    if lot_number and len(lot_number) > LOT_MAX:
        run.problems.append(("lot_number", _l("Keep this under %(max)d characters.", max=LOT_MAX)))
    existing = None
    if item.lot_tracked:
        if not lot_number:
            run.problems.append(("lot_number", _l("This item is tracked by lot: enter the lot number.")))
        if expiry_date is None:
            run.problems.append(("expiry_date", _l("This item is tracked by lot: enter the expiry date.")))
        elif expiry_date < today:
            run.problems.append(("expiry_date", _l("This expiry date has passed: expired stock cannot be received.")))
        if lot_number and expiry_date is not None:
            existing = session.scalar(select(StockLot).where(StockLot.item_id == item.id,
                                                             StockLot.lot_number == lot_number))
            if existing is not None and existing.expiry_date != expiry_date:
                run.problems.append(("expiry_date", _l(
                    "Lot %(lot)s is on file with another expiry date (%(date)s): check the package.",
                    lot=lot_number, date=existing.expiry_date.isoformat())))
    elif lot_number or expiry_date is not None:
        run.problems.append(("lot_number", _l("This item is not tracked by lot: leave the lot and expiry empty.")))
    witness = run.check(confirmed_by)
    run.lock()
    lot_id = None
    if item.lot_tracked:
        lot = existing or session.scalar(select(StockLot).where(StockLot.item_id == item.id,
                                                                StockLot.lot_number == lot_number))
        if lot is None:
            lot = StockLot(item_id=item.id, lot_number=lot_number, expiry_date=expiry_date)
            session.add(lot)
            session.flush()
        lot_id = lot.id
    movement = run.move(kind="receive", lot_id=lot_id, to_location_id=loc.id, quantity=qty, reason=reason,
                        supplier_id=(supplier.id if supplier else item.preferred_supplier_id),
                        confirmed_by_fk=_user_id(witness), purchase_order_line_id=purchase_order_line_id)
    _finish(session, commit)
    return movement


def issue(session, *, item, location, quantity, actor, confirmed_by=None, reason=None, today=None, commit=True):
    """Stock is used: taken from `location`, the lot that expires first first (never expired stock).
    Returns the movements (one per lot)."""
    today = today or dates.clinic_today()
    run = _Run(session, item, actor)
    loc = run.location(location, "location")
    qty = run.quantity(quantity)
    reason = run.reason(reason)
    witness = run.check(confirmed_by)
    run.lock()
    movements = _take(run, loc, qty, lot=None, today=today, include_expired=False, kind="issue", reason=reason,
                      confirmed_by_fk=_user_id(witness))
    _finish(session, commit)
    return movements


def transfer(session, *, item, from_location, to_location, quantity, actor, lot=None, confirmed_by=None,
             reason=None, today=None, commit=True):
    """Stock moves between two locations: one lot, or the lots that expire first. Returns the movements."""
    today = today or dates.clinic_today()
    run = _Run(session, item, actor)
    source = run.location(from_location, "from_location")
    target = run.location(to_location, "to_location", incoming=True)
    if source is not None and target is not None and source.id == target.id:
        run.problems.append(("to_location", _l("Choose two different locations.")))
    qty = run.quantity(quantity)
    lot = run.lot(lot)
    reason = run.reason(reason)
    witness = run.check(confirmed_by)
    run.lock()
    movements = _take(run, source, qty, lot=lot, today=today, include_expired=lot is not None, kind="transfer",
                      to_location_id=target.id, reason=reason, confirmed_by_fk=_user_id(witness))
    _finish(session, commit)
    return movements


def adjust(session, *, item, location, quantity, reason, actor, lot=None, confirmed_by=None, commit=True):
    """A count correction: + adds, − removes (never below zero); always with a reason.
    Lot-tracked items name an existing lot. Returns the movement."""
    run = _Run(session, item, actor)
    loc = run.location(location, "location")
    qty = run.quantity(quantity, signed=True)
    reason = run.reason(reason, required=True)
    lot = run.lot(lot, required=run.item.lot_tracked)
    witness = run.check(confirmed_by)
    run.lock()
    values = dict(kind="adjust", lot_id=lot.id if lot else None, quantity=abs(qty), reason=reason,
                  confirmed_by_fk=_user_id(witness))
    if qty > 0:
        movement = run.move(to_location_id=loc.id, **values)
    else:
        available = on_hand(session, run.item, loc, lot) if lot else on_hand(session, run.item, loc)
        if lot is None and run.item.lot_tracked:
            available = ZERO
        if available < -qty:
            run.fail([("quantity", _l("Only %(available)s %(unit)s on hand at %(location)s: nothing was changed.",
                                      available=_fmt(available), unit=run.item.unit, location=loc.name))])
        movement = run.move(from_location_id=loc.id, **values)
    _finish(session, commit)
    return movement


def return_to_supplier(session, *, item, location, quantity, actor, lot=None, supplier=None, reason=None,
                       confirmed_by=None, today=None, commit=True):
    """Stock goes back to the supplier (default: the item's preferred one): one lot, or the lots that
    expire first (expired ones included). Returns the movements."""
    today = today or dates.clinic_today()
    run = _Run(session, item, actor)
    loc = run.location(location, "location")
    qty = run.quantity(quantity)
    lot = run.lot(lot)
    reason = run.reason(reason)
    supplier = _get(session, Supplier, supplier) or run.item.preferred_supplier
    witness = run.check(confirmed_by)
    run.lock()
    movements = _take(run, loc, qty, lot=lot, today=today, include_expired=True, kind="return", reason=reason,
                      supplier_id=supplier.id if supplier else None, confirmed_by_fk=_user_id(witness))
    _finish(session, commit)
    return movements


def dispose_expired(session, *, item, location, actor, lot=None, confirmed_by=None, reason=None, today=None,
                    commit=True):
    """Every expired lot of `item` at `location` (or the one `lot`) leaves the stock. Returns the movements."""
    today = today or dates.clinic_today()
    run = _Run(session, item, actor)
    loc = run.location(location, "location")
    lot = run.lot(lot)
    reason = run.reason(reason)
    if lot is not None and lot.expiry_date >= today:
        run.problems.append(("lot", _l("Lot %(lot)s has not expired (it expires on %(date)s).",
                                       lot=lot.lot_number, date=lot.expiry_date.isoformat())))
    witness = run.check(confirmed_by)
    run.lock()
    rows = [(lt, qty) for lt, qty in _fefo(session, run.item, loc, today=today, include_expired=True)
            if lt is not None and lt.expiry_date < today and (lot is None or lt.id == lot.id)]
    if not rows:
        run.fail([(None, _l("There is no expired stock of this item at %(location)s.", location=loc.name))])
    movements = [run.move(kind="dispose", lot_id=lt.id, from_location_id=loc.id, quantity=qty, reason=reason,
                          confirmed_by_fk=_user_id(witness)) for lt, qty in rows]
    _finish(session, commit)
    return movements


# --------------------------------------------------------------------------- setup data checks

def validate_item(item):
    problems = []
    if not (item.name or "").strip():
        problems.append(("name", _l("This field is required.")))
    if not (item.sku or "").strip():
        problems.append(("sku", _l("This field is required.")))
    if item.pack_size is not None and item.pack_size <= 0:
        problems.append(("pack_size", _l("The pack size must be at least 1.")))
    for field in ("reorder_point", "reorder_quantity"):
        value = getattr(item, field)
        if value is not None and value < 0:
            problems.append((field, _l("This cannot be negative.")))
    return problems


# --------------------------------------------------------------------------- demo data

DEMO_SUPPLIERS = [
    dict(name="Northeast Medical Supply", contact="Dana Whitfield", phone="413-555-0142",
         email="orders@nemedsupply.example", address="120 Industrial Way, Springfield, MA 01104",
         account_number="NE-20417"),
    dict(name="PharmaDirect Wholesale", contact="Luis Ortega", phone="617-555-0188",
         email="service@pharmadirect.example", address="9 Harbor St, Boston, MA 02210", account_number="PD-88120"),
    dict(name="CleanCare Products", contact="Amy Chen", phone="860-555-0123",
         email="sales@cleancare.example", address="44 Mill Rd, Hartford, CT 06103", account_number="CC-3391"),
]
DEMO_LOCATIONS = [("Main supply cupboard", "cupboard"), ("Vaccine fridge", "fridge"), ("Exam room 1", "room"),
                  ("Locked drug cabinet", "cupboard")]
# name, sku, category, unit, pack, reorder point, reorder qty, supplier index, lot tracked, controlled,
# receipts [(location index, quantity, lot, expiry in days from today, received days ago)], issued
DEMO_ITEMS = [
    ("Nitrile gloves, medium", "GLV-NIT-M", "Consumables", "box", 10, 6, 20, 0, False, False,
     [(0, 24, None, None, 20)], 8),
    ("Gauze pads 4x4", "GZE-4X4", "Consumables", "pack", 25, 10, 30, 0, False, False, [(0, 40, None, None, 15)], 6),
    ("Syringe 3 mL with needle", "SYR-3ML", "Consumables", "each", 100, 100, 300, 0, False, False,
     [(0, 300, None, None, 25)], 120),
    ("Alcohol prep pads", "ALC-PREP", "Consumables", "box", 1, 4, 12, 2, False, False, [(0, 5, None, None, 30)], 2),
    ("Hand sanitizer 500 mL", "SAN-500", "Cleaning", "bottle", 12, 6, 24, 2, False, False, [(0, 6, None, None, 40)], 2),
    ("Influenza vaccine, quadrivalent", "VAC-FLU-Q", "Vaccines", "dose", 10, 10, 50, 1, True, False,
     [(1, 20, "FLU-24A17", 21, 60), (1, 30, "FLU-24C02", 160, 10)], 14),
    ("Tdap vaccine", "VAC-TDAP", "Vaccines", "dose", 10, 5, 20, 1, True, False,
     [(1, 4, "TD-9921", -10, 200), (1, 10, "TD-10455", 300, 12)], 2),
    ("Lidocaine 1% 20 mL vial", "LID-1-20", "Medications", "vial", 25, 5, 25, 1, True, False,
     [(0, 12, "LD-55102", 240, 35)], 3),
    ("Lorazepam 1 mg tablet", "CS-LZP-1", "Controlled", "tablet", 30, 10, 30, 1, True, True,
     [(3, 30, "LZ-30817", 400, 18)], 4),
]


def seed_demo(session, *, now=None):
    """Demo inventory (suppliers, locations, items with lots, receipts and issues through the rules
    above, an expired lot and one expiring soon, items at their reorder point). Once: returns {} when
    an item exists or there is no demo office manager; else counts."""
    if session.scalar(select(InventoryItem.id).limit(1)) is not None:
        return {}
    users = [u for u in session.scalars(select(ClinicUser).where(ClinicUser.active.is_(True)).order_by(ClinicUser.id))]
    manager = next((u for u in users if any(r.name == "OfficeManager" for r in u.roles)), None)
    if manager is None:
        return {}
    witness = next((u for u in users if u.id != manager.id and can_confirm(u)), None)
    today = now.astimezone(ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "UTC"))).date() \
        if now is not None else dates.clinic_today()
    suppliers = [Supplier(**values) for values in DEMO_SUPPLIERS]
    locations = [StockLocation(name=name, kind=kind) for name, kind in DEMO_LOCATIONS]
    session.add_all(suppliers + locations)
    count = 0
    for (name, sku, category, unit, pack, point, reorder, supplier, lot_tracked, controlled, receipts,
         issued) in DEMO_ITEMS:
        item = InventoryItem(name=name, sku=sku, category=category, unit=unit, pack_size=pack,
                             reorder_point=Decimal(point), reorder_quantity=Decimal(reorder),
                             preferred_supplier=suppliers[supplier], lot_tracked=lot_tracked, controlled=controlled)
        session.add(item)
        session.commit()
        if controlled and witness is None:
            continue
        confirm = witness if controlled else None
        for where, quantity, lot, expires, days_ago in receipts:
            received = today - timedelta(days=days_ago)
            receive(session, item=item, location=locations[where], quantity=quantity, lot_number=lot,
                    expiry_date=today + timedelta(days=expires) if lot else None, actor=manager,
                    confirmed_by=confirm, today=received)
            count += 1
        if issued:
            issue(session, item=item, location=locations[receipts[0][0]], quantity=issued, actor=manager,
                  confirmed_by=confirm, reason="demo: used in clinic", today=today)
            count += 1
    return {"inventory_items": len(DEMO_ITEMS), "stock_movements": count}
