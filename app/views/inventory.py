"""Inventory screens: suppliers, stock locations, items (setup), stock on hand, movement history and
one form per movement kind. The front desk sees only the issue form (can_issue).

Every rule lives in app/services/inventory.py. Resource "Inventory": can_read (stock, history),
can_write (setup rows and every movement), can_issue (the issue form), can_confirm (witness of
controlled-substance movements: checked by the service on the witness, not on the viewer).
Every view on "Inventory" declares all four in base_permissions: FAB removes a resource's
permissions that a view registered later does not declare.
"""
from decimal import Decimal

from babel.numbers import format_decimal
from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, ModelView, expose
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional

from ..extensions import db
from ..models.inventory import (
    LOCATION_KIND_LABELS,
    LOCATION_KINDS,
    MOVEMENT_KIND_LABELS,
    InventoryItem,
    StockLocation,
    StockLot,
    StockMovement,
    Supplier,
)
from ..services import dates
from ..services import inventory as service
from ..services.errors import DomainError, StaleRecordError, ValidationFailed
from .patients import apply_problems
from .scheduling_setup import InUse, _used, flags

RESOURCE = "Inventory"
INVENTORY_PERMISSIONS = ["can_read", "can_write", "can_issue", "can_confirm"]
SETUP = {"list": "read", "show": "read", "add": "write", "edit": "write", "delete": "write",
         "action": "write", "action_post": "write"}
FORM_KINDS = ("receive", "transfer", "adjust", "return", "dispose")  # /move/<kind>; issue has its own screen
FIELDS = {
    "receive": ["item", "location", "quantity", "lot_number", "expiry_date", "supplier", "reason"],
    "issue": ["item", "location", "quantity", "reason"],
    "transfer": ["item", "from_location", "to_location", "quantity", "lot_number", "reason"],
    "adjust": ["item", "location", "quantity", "lot_number", "reason"],
    "return": ["item", "location", "quantity", "lot_number", "supplier", "reason"],
    "dispose": ["item", "location", "lot_number", "reason"],
}
TITLES = {
    "receive": _l("Receive stock"), "issue": _l("Issue stock"), "transfer": _l("Transfer stock"),
    "adjust": _l("Adjust stock"), "return": _l("Return stock to the supplier"),
    "dispose": _l("Dispose of expired stock"),
}
HINTS = {
    "receive": _l("Lot-tracked items need the lot number and the expiry date printed on the package."),
    "issue": _l("Stock is taken from the lot that expires first."),
    "transfer": _l("Leave the lot empty to move the lots that expire first."),
    "adjust": _l("After a count: a positive quantity adds stock, a negative one (e.g. -2) removes it. "
                 "The reason is required."),
    "return": _l("Leave the lot empty to return the lots that expire first; the supplier defaults to the "
                 "item's preferred supplier."),
    "dispose": _l("Every expired lot of the item at this location leaves the stock (or only the lot given)."),
}


def _locale():
    return str(get_locale() or "en")


def qty(value):
    """A quantity in the reader's locale without trailing zeros: 12, 2.5."""
    return format_decimal(Decimal(value or 0), format="#,##0.##", locale=_locale()) if value is not None else ""


def _date_text(value):
    return format_date(value, "medium") if value else ""


def _int(raw):
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() else None


# --------------------------------------------------------------------------- setup screens

class _SetupView(ModelView):
    class_permission_name = RESOURCE
    method_permission_name = SETUP
    base_permissions = INVENTORY_PERMISSIONS

    def references(self, item):
        return []

    def pre_delete(self, item):
        if _used(*self.references(item)):
            raise InUse()


class SupplierView(_SetupView):
    datamodel = SQLAInterface(Supplier)
    list_title = _l("Suppliers")
    add_title = _l("Add supplier")
    edit_title = _l("Edit supplier")
    show_title = _l("Supplier")
    list_columns = ["name", "contact", "phone", "email", "account_number", "active"]
    search_columns = ["name", "contact", "active"]
    add_columns = edit_columns = show_columns = ["name", "contact", "phone", "email", "address", "account_number",
                                                 "active"]
    label_columns = {"name": _l("Name"), "contact": _l("Contact person"), "phone": _l("Phone"),
                     "email": _l("E-mail"), "address": _l("Address"), "account_number": _l("Our account number"),
                     "active": _l("Active")}
    add_form_extra_fields = edit_form_extra_fields = flags(active=_l("Active"))
    base_order = ("name", "asc")

    def references(self, item):
        from ..models.purchasing import PurchaseOrder

        return [select(InventoryItem.id).where(InventoryItem.preferred_supplier_id == item.id),
                select(StockMovement.id).where(StockMovement.supplier_id == item.id),
                select(PurchaseOrder.id).where(PurchaseOrder.supplier_id == item.id)]


class StockLocationView(_SetupView):
    datamodel = SQLAInterface(StockLocation)
    list_title = _l("Stock locations")
    add_title = _l("Add stock location")
    edit_title = _l("Edit stock location")
    show_title = _l("Stock location")
    list_columns = add_columns = edit_columns = show_columns = ["name", "kind", "active"]
    search_columns = ["name", "kind", "active"]
    label_columns = {"name": _l("Name"), "kind": _l("Kind"), "active": _l("Active")}
    formatters_columns = {"kind": lambda kind: LOCATION_KIND_LABELS.get(kind, kind)}
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(_l("Kind"), choices=[(k, LOCATION_KIND_LABELS[k]) for k in LOCATION_KINDS],
                            widget=Select2Widget()),
        **flags(active=_l("Active")),
    }
    base_order = ("name", "asc")

    def references(self, item):
        return [select(StockMovement.id).where(or_(StockMovement.from_location_id == item.id,
                                                   StockMovement.to_location_id == item.id))]


def _suppliers():
    return db.session.query(Supplier).order_by(Supplier.name)


class InventoryItemView(_SetupView):
    datamodel = SQLAInterface(InventoryItem)
    list_title = _l("Items")
    add_title = _l("Add item")
    edit_title = _l("Edit item")
    show_title = _l("Item")
    list_columns = ["name", "sku", "category", "unit", "pack_size", "reorder_point", "preferred_supplier",
                    "lot_tracked", "controlled", "active"]
    search_columns = ["name", "sku", "category", "preferred_supplier", "lot_tracked", "controlled", "active"]
    add_columns = edit_columns = show_columns = [
        "name", "sku", "category", "unit", "pack_size", "reorder_point", "reorder_quantity", "preferred_supplier",
        "lot_tracked", "controlled", "active"]
    label_columns = {"name": _l("Name"), "sku": _l("SKU"), "category": _l("Category"),
                     "unit": _l("Unit of measure"), "pack_size": _l("Pack size"),
                     "reorder_point": _l("Reorder point"), "reorder_quantity": _l("Reorder quantity"),
                     "preferred_supplier": _l("Preferred supplier"), "lot_tracked": _l("Lot and expiry tracked"),
                     "controlled": _l("Controlled substance"), "active": _l("Active")}
    description_columns = {
        "unit": _l("How stock is counted: each, box, vial, dose, mL ..."),
        "pack_size": _l("Units in one purchased pack."),
        "reorder_point": _l("The item is low on stock at or below this quantity."),
        "controlled": _l("Every movement needs a second person's confirmation (username and password)."),
    }
    formatters_columns = {"reorder_point": qty, "reorder_quantity": qty}
    validators_columns = {"pack_size": [InputRequired(), NumberRange(min=1)],
                          "reorder_point": [Optional(), NumberRange(min=0)],
                          "reorder_quantity": [Optional(), NumberRange(min=0)]}
    add_form_extra_fields = edit_form_extra_fields = {
        "pack_size": IntegerField(_l("Pack size"), default=1, validators=[InputRequired(), NumberRange(min=1)]),
        **flags(lot_tracked=_l("Lot and expiry tracked"), controlled=_l("Controlled substance"),
                active=_l("Active")),
    }
    base_order = ("name", "asc")

    def _check(self, item):
        for name in ("name", "sku", "category", "unit"):
            value = getattr(item, name)
            setattr(item, name, value.strip() if isinstance(value, str) else value)
        item.reorder_point = item.reorder_point if item.reorder_point is not None else Decimal("0")
        item.reorder_quantity = item.reorder_quantity if item.reorder_quantity is not None else Decimal("0")
        item.unit = item.unit or "each"
        problems = service.validate_item(item)
        with db.session.no_autoflush:
            stmt = select(InventoryItem.id).where(InventoryItem.sku == item.sku)
            if item.id is not None:
                stmt = stmt.where(InventoryItem.id != item.id)
            if item.sku and db.session.execute(stmt).first() is not None:
                problems.append(("sku", _l("Another item already has the SKU “%(sku)s”.", sku=item.sku)))
            if item.id is not None and not item.lot_tracked:
                has_lots = db.session.execute(select(StockLot.id).where(StockLot.item_id == item.id).limit(1)).first()
                if has_lots:
                    problems.append(("lot_tracked", _l("This item has lots on file: it stays lot-tracked.")))
            if item.id is not None and item.lot_tracked:
                without_lot = db.session.execute(select(StockMovement.id).where(
                    StockMovement.item_id == item.id, StockMovement.lot_id.is_(None)).limit(1)).first()
                if without_lot:
                    problems.append(("lot_tracked", _l("This item has stock movements without a lot: it cannot "
                                                       "become lot-tracked. Create a new item instead.")))
        if problems:
            raise DomainError(" ".join(str(message) for _, message in problems))

    def pre_add(self, item):
        self._check(item)

    def pre_update(self, item):
        self._check(item)

    def references(self, item):
        from ..models.purchasing import PurchaseOrderLine

        return [select(StockMovement.id).where(StockMovement.item_id == item.id),
                select(PurchaseOrderLine.id).where(PurchaseOrderLine.item_id == item.id)]


# --------------------------------------------------------------------------- stock, history, movement forms

class MoveForm(FlaskForm):
    item = SelectField(_l("Item"), choices=[], validate_choice=False)
    location = SelectField(_l("Location"), choices=[], validate_choice=False)
    from_location = SelectField(_l("From"), choices=[], validate_choice=False)
    to_location = SelectField(_l("To"), choices=[], validate_choice=False)
    quantity = StringField(_l("Quantity"))
    lot_number = StringField(_l("Lot number"))
    expiry_date = StringField(_l("Expiry date"))
    supplier = SelectField(_l("Supplier"), choices=[], validate_choice=False)
    reason = StringField(_l("Reason"))
    witness_username = StringField(_l("Witness: username"))
    witness_password = PasswordField(_l("Witness: password"))


def _item_label(item):
    label = f"{item.name} · {item.sku} ({item.unit})"
    return label + " · " + str(_l("controlled")) if item.controlled else label


def _fill_choices(form):
    items = db.session.scalars(select(InventoryItem).where(InventoryItem.active.is_(True))
                               .order_by(InventoryItem.name)).all()
    locations = db.session.scalars(select(StockLocation).where(StockLocation.active.is_(True))
                                   .order_by(StockLocation.name)).all()
    blank = [("", "—")]
    form.item.choices = blank + [(str(i.id), _item_label(i)) for i in items]
    for field in (form.location, form.from_location, form.to_location):
        field.choices = blank + [(str(loc.id), loc.name) for loc in locations]
    form.supplier.choices = [("", str(_l("The item's preferred supplier")))] + [
        (str(s.id), s.name) for s in db.session.scalars(select(Supplier).where(Supplier.active.is_(True))
                                                         .order_by(Supplier.name))]


PROBLEM_FIELDS = {"lot": "lot_number"}


def _run(kind, form):
    """Call the service for `kind` with the form's values; returns the movements made."""
    item = _int(form.item.data)
    common = dict(item=item, actor=g.user, reason=form.reason.data,
                  confirmed_by=service.Witness(form.witness_username.data or "", form.witness_password.data or ""))
    if item is None:
        raise ValidationFailed([("item", _l("Choose an item."))])
    if kind == "receive":
        expiry = None
        raw = (form.expiry_date.data or "").strip()
        if raw:
            expiry = dates.parse_input(raw, _locale())
            if expiry is None:
                raise ValidationFailed([("expiry_date", _l("Not a valid date."))])
        return [service.receive(db.session, location=_int(form.location.data), quantity=form.quantity.data,
                                lot_number=form.lot_number.data, expiry_date=expiry,
                                supplier=_int(form.supplier.data), **common)]
    if kind == "issue":
        return service.issue(db.session, location=_int(form.location.data), quantity=form.quantity.data, **common)
    if kind == "transfer":
        return service.transfer(db.session, from_location=_int(form.from_location.data),
                                to_location=_int(form.to_location.data), quantity=form.quantity.data,
                                lot=form.lot_number.data, **common)
    if kind == "adjust":
        return [service.adjust(db.session, location=_int(form.location.data), quantity=form.quantity.data,
                               lot=form.lot_number.data, **common)]
    if kind == "return":
        return service.return_to_supplier(db.session, location=_int(form.location.data), quantity=form.quantity.data,
                                          lot=form.lot_number.data, supplier=_int(form.supplier.data), **common)
    if kind == "dispose":
        return service.dispose_expired(db.session, location=_int(form.location.data), lot=form.lot_number.data,
                                       **common)
    abort(404)


def _done_message(kind, moves):
    item = moves[0].item
    total = sum((m.quantity for m in moves), Decimal("0"))
    lots = ", ".join(m.lot.lot_number for m in moves if m.lot is not None)
    message = _l("%(kind)s recorded: %(quantity)s %(unit)s of %(item)s.", kind=MOVEMENT_KIND_LABELS[kind],
                 quantity=qty(total), unit=item.unit, item=item.name)
    return str(message) + (" " + str(_l("Lots: %(lots)s.", lots=lots)) if lots else "")


def movement_row(m):
    return {"m": m, "when": format_datetime(m.created_at, "short"), "kind": MOVEMENT_KIND_LABELS.get(m.kind, m.kind),
            "quantity": ("+" if m.kind != "transfer" and m.signed_quantity > 0 else
                         "" if m.kind == "transfer" else "−") + qty(m.quantity),
            "by": m.created_by.username if m.created_by else "",
            "witness": m.confirmed_by.username if m.confirmed_by else "",
            "expiry": _date_text(m.lot.expiry_date) if m.lot else ""}


class StockView(BaseView):
    route_base = "/inventory"
    class_permission_name = RESOURCE
    method_permission_name = {"index": "read", "movements": "read", "move": "write", "issue": "issue"}
    base_permissions = INVENTORY_PERMISSIONS
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        """Stock on hand per item, location and lot (filters: item, location)."""
        item = db.session.get(InventoryItem, _int(request.args.get("item")) or 0)
        location = db.session.get(StockLocation, _int(request.args.get("location")) or 0)
        levels = service.stock_levels(db.session, item=item, location=location)
        totals = {}
        for lv in levels:
            totals[lv.item.id] = totals.get(lv.item.id, Decimal("0")) + lv.quantity
        today = dates.clinic_today()
        items = db.session.scalars(select(InventoryItem).order_by(InventoryItem.name)).all()
        locations = db.session.scalars(select(StockLocation).order_by(StockLocation.name)).all()
        return self.render_template("inventory/stock.html", levels=levels, totals=totals, qty=qty,
                                    date_text=_date_text, today=today, items=items, locations=locations,
                                    item=item, location=location, kinds=FORM_KINDS, titles=TITLES)

    @expose("/movements")
    @has_access
    def movements(self):
        """Movement history: of one item (?item=) or the latest of all."""
        item = db.session.get(InventoryItem, _int(request.args.get("item")) or 0)
        stmt = select(StockMovement).order_by(StockMovement.created_at.desc(), StockMovement.id.desc()).limit(500)
        if item is not None:
            stmt = stmt.where(StockMovement.item_id == item.id)
        rows = [movement_row(m) for m in db.session.scalars(stmt)]
        items = db.session.scalars(select(InventoryItem).order_by(InventoryItem.name)).all()
        on_hand = service.on_hand(db.session, item) if item is not None else None
        levels = service.stock_levels(db.session, item=item) if item is not None else []
        return self.render_template("inventory/movements.html", rows=rows, item=item, items=items, levels=levels,
                                    on_hand=on_hand, qty=qty, date_text=_date_text, kinds=FORM_KINDS, titles=TITLES)

    def _form(self, kind, endpoint):
        form = MoveForm()
        _fill_choices(form)
        form.reason.label.text = _l("Reason (required)") if kind == "adjust" else _l("Note (optional)")
        if kind == "adjust":
            form.quantity.label.text = _l("Quantity (+ adds, − removes)")
        if request.method == "POST" and form.validate_on_submit():
            try:
                moves = _run(kind, form)
            except ValidationFailed as exc:
                db.session.rollback()
                apply_problems(form, [(PROBLEM_FIELDS.get(f, f), m) for f, m in exc.problems])
            except StaleRecordError as exc:
                db.session.rollback()
                flash(str(exc.message), "danger")
            except DomainError as exc:
                db.session.rollback()
                flash(str(exc.message), "danger")
            else:
                flash(_done_message(kind, moves), "success")
                if self.appbuilder.sm.has_access("can_read", RESOURCE):
                    return redirect(url_for("StockView.movements", item=moves[0].item_id))
                return redirect(url_for(endpoint))
        elif request.method == "GET":
            preset = _int(request.args.get("item"))
            if preset is not None:
                form.item.data = str(preset)
            form.witness_username.data = ""
        form.witness_password.data = ""
        return self.render_template("inventory/move.html", form=form, kind=kind, fields=FIELDS[kind],
                                    title=TITLES[kind], hint=HINTS[kind],
                                    can_read=self.appbuilder.sm.has_access("can_read", RESOURCE))

    @expose("/issue", methods=["GET", "POST"])
    @has_access
    def issue(self):
        """Issue (use) stock: the front desk's only inventory screen."""
        return self._form("issue", "StockView.issue")

    @expose("/move/<kind>", methods=["GET", "POST"])
    @has_access
    def move(self, kind):
        if kind not in FORM_KINDS:
            abort(404)
        return self._form(kind, "StockView.index")

