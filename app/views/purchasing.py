"""Purchase orders (list, draft, send, cancel, receive, print) and the inventory lists that lead to
them (low stock, expiring lots). Every rule lives in app/services/purchasing.py and
app/services/inventory.py; these screens only read forms and show results.

Menu "Inventory": "Low stock", "Expiring", "Purchase orders".
"""
from datetime import timedelta
from decimal import Decimal

from babel.numbers import format_decimal
from flask import Response, abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..documents.pdf import render_pdf
from ..extensions import db
from ..models.inventory import InventoryItem, StockLocation, Supplier
from ..models.purchasing import PO_STATUSES, PurchaseOrder, PurchaseOrderLine
from ..models.user import ClinicUser
from ..services import audit, dates, inventory
from ..services import purchasing as po_service
from ..services.errors import StaleRecordError, ValidationFailed
from .inventory import INVENTORY_PERMISSIONS

PO_PERMISSIONS = {"index": "read", "show": "read", "pdf": "read", "new": "write", "edit": "write",
                  "add_line": "write", "update_line": "write", "remove_line": "write", "send": "write",
                  "cancel": "write", "receive": "write", "generate": "write"}
LIST_PERMISSIONS = {"low_stock": "read", "expiring": "read"}
EXPIRING_DAYS = 30
SHOW_FIELDS = ("item", "quantity", "unit_cost", "order_date", "expected_date", "notes", "reason")


def _locale():
    return str(get_locale() or "en")


def qty(value):
    """A quantity in the reader's locale, without trailing zeros: 12, 2.5."""
    return format_decimal(Decimal(value or 0), format="#,##0.##", locale=_locale()) if value is not None else ""


def staff_name(user_id):
    user = db.session.get(ClinicUser, user_id) if user_id else None
    return f"{user.first_name} {user.last_name}".strip() if user else ""


def _date(raw):
    """(date or None, problem or None) from a form field (ISO from <input type=date>, or the locale's order)."""
    raw = (raw or "").strip()
    if not raw:
        return None, None
    value = dates.parse_input(raw, _locale())
    return (value, None) if value else (None, _l("Not a valid date."))


def _int(raw):
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() else None


def _errors(problems, shown=None):
    """{field: [messages]} for the template; problems of no field (or of a field the form does not show)
    are flashed."""
    out = {}
    for field, message in problems:
        if field and (shown is None or field in shown):
            out.setdefault(field, []).append(str(message))
        else:
            flash(str(message), "danger")
    return out


def _flash_problems(problems):
    for _field, message in problems:
        flash(str(message), "danger")


def _version():
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else -1


def _order(pk):
    order = db.session.get(PurchaseOrder, pk)
    if order is None:
        abort(404)
    return order


def _line_rows(order, received):
    rows = []
    for line in order.lines:
        got = received.get(line.id, Decimal("0"))
        left = max(Decimal(line.quantity) - got, Decimal("0"))
        rows.append({"line": line, "item": line.item, "ordered": line.quantity, "received": got, "left": left,
                     "total": po_service.line_total(line),
                     "packs": (Decimal(line.quantity) / line.item.pack_size) if line.item.pack_size > 1 else None})
    return rows


class PurchaseOrderView(BaseView):
    route_base = "/purchase-orders"
    class_permission_name = "PurchaseOrder"
    method_permission_name = PO_PERMISSIONS
    default_view = "index"

    def _can_write(self):
        return self.appbuilder.sm.has_access("can_write", "PurchaseOrder")

    @expose("/")
    @has_access
    def index(self):
        status = request.args.get("status", "open")
        query = select(PurchaseOrder).options(selectinload(PurchaseOrder.lines), selectinload(PurchaseOrder.supplier))
        if status == "open":
            query = query.where(PurchaseOrder.status.in_(po_service.OPEN_STATUSES))
        elif status in PO_STATUSES:
            query = query.where(PurchaseOrder.status == status)
        else:
            status = "all"
        orders = db.session.scalars(query.order_by(PurchaseOrder.order_date.desc(), PurchaseOrder.id.desc())
                                    .limit(500)).all()
        filters = [("open", _l("Open (draft, sent, partly received)")), ("all", _l("All"))] + [
            (s, po_service.STATUS_LABELS[s]) for s in PO_STATUSES]
        return self.render_template("purchasing/index.html", orders=orders, status=status, filters=filters,
                                    status_labels=po_service.STATUS_LABELS, total=po_service.order_total,
                                    can_write=self._can_write())

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        errors, values = {}, {"order_date": dates.clinic_today().isoformat()}
        if request.method == "POST":
            values = request.form.to_dict()
            supplier = db.session.get(Supplier, _int(values.get("supplier")) or 0)
            order_date, bad_order_date = _date(values.get("order_date"))
            expected_date, bad_expected = _date(values.get("expected_date"))
            problems = [(f, m) for f, m in (("order_date", bad_order_date), ("expected_date", bad_expected)) if m]
            if not problems:
                try:
                    order = po_service.create_order(db.session, supplier=supplier, order_date=order_date,
                                                    expected_date=expected_date, notes=values.get("notes"),
                                                    actor=g.user)
                except ValidationFailed as exc:
                    problems = exc.problems
                else:
                    flash(str(_l("Purchase order %(number)s created as a draft: add its lines.",
                                 number=order.number)), "success")
                    return redirect(url_for("PurchaseOrderView.show", pk=order.id))
            errors = _errors(problems, ("supplier", "order_date", "expected_date", "notes"))
        return self.render_template("purchasing/new.html", errors=errors, values=values,
                                    suppliers=po_service.active_suppliers(db.session))

    @expose("/<int:pk>")
    @has_access
    def show(self, pk, errors=None, values=None):
        order = _order(pk)
        received = po_service.received_quantities(db.session, order)
        can_write = self._can_write()
        return self.render_template(
            "purchasing/show.html", order=order, rows=_line_rows(order, received), total=po_service.order_total(order),
            status_label=po_service.status_label(order.status), qty=qty, errors=errors or {}, values=values or {},
            history=[(c, po_service.status_label(c.to_status), staff_name(c.changed_by_fk),
                      format_datetime(c.changed_at, "short")) for c in order.status_changes],
            items=po_service.active_items(db.session) if order.status == "draft" and can_write else [],
            can_write=can_write, can_cancel=can_write and "cancelled" in po_service.TRANSITIONS[order.status],
            can_receive=can_write and order.status in po_service.RECEIVABLE_STATUSES,
            sent_by=staff_name(order.sent_by_fk), cancelled_by=staff_name(order.cancelled_by_fk))

    def _after(self, pk, call, success, form_values=None, shown=SHOW_FIELDS):
        """Run a service call; on refusal show the order again with the messages (nothing changed)."""
        try:
            call()
        except StaleRecordError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
        except ValidationFailed as exc:
            db.session.rollback()
            return self.show(pk, errors=_errors(exc.problems, shown), values=form_values), 422
        else:
            flash(str(success), "success")
        return redirect(url_for("PurchaseOrderView.show", pk=pk))

    @expose("/<int:pk>/edit", methods=["POST"])
    @has_access
    def edit(self, pk):
        order = _order(pk)
        order_date, bad_order = _date(request.form.get("order_date"))
        expected_date, bad_expected = _date(request.form.get("expected_date"))
        bad = [(f, m) for f, m in (("order_date", bad_order), ("expected_date", bad_expected)) if m]
        if bad:
            return self.show(pk, errors=_errors(bad, SHOW_FIELDS), values=request.form.to_dict()), 422
        return self._after(pk, lambda: po_service.update_order(
            db.session, order, order_date=order_date, expected_date=expected_date, notes=request.form.get("notes"),
            actor=g.user, expected_version=_version()), _l("The order is saved."), request.form.to_dict())

    @expose("/<int:pk>/lines", methods=["POST"])
    @has_access
    def add_line(self, pk):
        order = _order(pk)
        item = db.session.get(InventoryItem, _int(request.form.get("item")) or 0)
        raw_q, raw_c = request.form.get("quantity", ""), request.form.get("unit_cost", "")
        return self._after(pk, lambda: po_service.add_line(
            db.session, order, item=item, quantity=po_service.parse_quantity(raw_q, _locale()),
            unit_cost=po_service.parse_quantity(raw_c, _locale()), actor=g.user, expected_version=_version(),
            raw_quantity=raw_q, raw_cost=raw_c), _l("The line is added."), request.form.to_dict())

    @expose("/<int:pk>/lines/<int:line_id>", methods=["POST"])
    @has_access
    def update_line(self, pk, line_id):
        order = _order(pk)
        line = db.session.get(PurchaseOrderLine, line_id)
        raw_q, raw_c = request.form.get("quantity", ""), request.form.get("unit_cost", "")
        return self._after(pk, lambda: po_service.update_line(
            db.session, order, line, quantity=po_service.parse_quantity(raw_q, _locale()),
            unit_cost=po_service.parse_quantity(raw_c, _locale()), actor=g.user, expected_version=_version(),
            raw_quantity=raw_q, raw_cost=raw_c), _l("The line is saved."), shown=())

    @expose("/<int:pk>/lines/<int:line_id>/remove", methods=["POST"])
    @has_access
    def remove_line(self, pk, line_id):
        order = _order(pk)
        line = db.session.get(PurchaseOrderLine, line_id)
        return self._after(pk, lambda: po_service.remove_line(db.session, order, line, actor=g.user,
                                                              expected_version=_version()),
                           _l("The line is removed."))

    @expose("/<int:pk>/send", methods=["POST"])
    @has_access
    def send(self, pk):
        order = _order(pk)
        return self._after(pk, lambda: po_service.send(db.session, order, actor=g.user, expected_version=_version()),
                           _l("Purchase order %(number)s is marked as sent.", number=order.number))

    @expose("/<int:pk>/cancel", methods=["POST"])
    @has_access
    def cancel(self, pk):
        order = _order(pk)
        return self._after(pk, lambda: po_service.cancel(db.session, order, reason=request.form.get("reason"),
                                                         actor=g.user, expected_version=_version()),
                           _l("Purchase order %(number)s is cancelled.", number=order.number), request.form.to_dict())

    @expose("/<int:pk>/receive", methods=["GET", "POST"])
    @has_access
    def receive(self, pk):
        order = _order(pk)
        if order.status not in po_service.RECEIVABLE_STATUSES:
            flash(str(_l("Purchase order %(number)s is %(status)s: nothing can be received on it.",
                         number=order.number, status=po_service.status_label(order.status))), "danger")
            return redirect(url_for("PurchaseOrderView.show", pk=pk))
        received = po_service.received_quantities(db.session, order)
        rows = [r for r in _line_rows(order, received) if r["left"] > 0]
        locations = po_service.active_locations(db.session)
        controlled = any(r["item"].controlled for r in rows)
        errors, values = {}, {}
        if request.method == "POST":
            values = request.form.to_dict()
            receipts, problems = [], []
            for r in rows:
                line = r["line"]
                prefix = f"line_{line.id}_"
                raw_q = values.get(prefix + "quantity", "")
                expiry, bad_expiry = _date(values.get(prefix + "expiry_date"))
                if bad_expiry:
                    problems.append((prefix + "expiry_date", bad_expiry))
                receipts.append(po_service.Receipt(
                    line=line, quantity=po_service.parse_quantity(raw_q, _locale()), raw_quantity=raw_q,
                    location=db.session.get(StockLocation, _int(values.get(prefix + "location")) or 0),
                    lot_number=values.get(prefix + "lot_number"), expiry_date=expiry))
            witness = None
            if controlled and (values.get("witness_username") or "").strip():
                witness = inventory.Witness(values["witness_username"], values.get("witness_password", ""))
            if not problems:
                try:
                    po_service.receive(db.session, order, receipts, actor=g.user, confirmed_by=witness,
                                       expected_version=_version())
                except StaleRecordError as exc:
                    db.session.rollback()
                    flash(str(exc.message), "danger")
                    return redirect(url_for("PurchaseOrderView.receive", pk=pk))
                except ValidationFailed as exc:
                    db.session.rollback()
                    problems = exc.problems
                else:
                    flash(str(_l("Received on purchase order %(number)s: it is now %(status)s.", number=order.number,
                                 status=po_service.status_label(order.status))), "success")
                    return redirect(url_for("PurchaseOrderView.show", pk=pk))
            values.pop("witness_password", None)
            shown = {f"line_{r['line'].id}_{name}" for r in rows
                     for name in ("quantity", "location", "lot_number", "expiry_date")}
            errors = _errors(problems, shown | {"witness_username", "witness_password", "status"})
        return self.render_template(
            "purchasing/receive.html", order=order, rows=rows, locations=locations, errors=errors, values=values,
            qty=qty, controlled=controlled, today=dates.clinic_today().isoformat()), (422 if errors else 200)

    @expose("/<int:pk>/pdf")
    @has_access
    def pdf(self, pk):
        order = _order(pk)
        locale = _locale()
        received = po_service.received_quantities(db.session, order)
        data = render_pdf(
            "purchasing/purchase_order_pdf.html", locale=locale,
            title=str(_l("Purchase order %(number)s", number=order.number)), order=order,
            rows=_line_rows(order, received), total=po_service.order_total(order), qty=qty,
            status_label=po_service.status_label(order.status),
            order_date=format_date(order.order_date, "long"),
            expected_date=format_date(order.expected_date, "long") if order.expected_date else "",
            printed_by=f"{g.user.first_name} {g.user.last_name}".strip())
        audit.record(db.engine, action="print", object_type="PurchaseOrder", object_id=order.id,
                     details={"number": order.number})
        return Response(data, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{order.number}.pdf"', "Cache-Control": "no-store"})

    @expose("/generate", methods=["POST"])
    @has_access
    def generate(self):
        """Draft orders for the low-stock list: one per preferred supplier."""
        result = po_service.generate_from_low_stock(db.session, actor=g.user)
        if result.orders:
            flash(str(_l("Draft purchase orders created: %(orders)s. Check the quantities and costs, then send them.",
                         orders=", ".join(f"{o.number} ({o.supplier.name})" for o in result.orders))), "success")
        else:
            flash(str(_l("No purchase order was created.")), "info")
        def names(items):
            return ", ".join(i.name for i in items)

        if result.without_supplier:
            flash(str(_l("Not ordered, no preferred supplier: %(items)s.", items=names(result.without_supplier))),
                  "warning")
        if result.no_quantity:
            flash(str(_l("Not ordered, no reorder quantity: %(items)s.", items=names(result.no_quantity))), "warning")
        if result.already_ordered:
            flash(str(_l("Not ordered again, already on an open order: %(items)s.",
                         items=names(result.already_ordered))), "warning")
        return redirect(url_for("InventoryListView.low_stock"))


class InventoryListView(BaseView):
    """Low stock (with "Create purchase orders") and expiring / expired lots."""

    route_base = "/inventory/lists"
    class_permission_name = "Inventory"
    method_permission_name = LIST_PERMISSIONS
    # The resource's whole permission set: with fewer, every role sync would strip and re-add the rest.
    base_permissions = INVENTORY_PERMISSIONS
    default_view = "low_stock"

    @expose("/low-stock")
    @has_access
    def low_stock(self):
        rows = po_service.low_stock_rows(db.session)
        return self.render_template(
            "purchasing/low_stock.html", rows=[r for r in rows if r.supplier is not None],
            without_supplier=[r for r in rows if r.supplier is None], qty=qty,
            can_order=self.appbuilder.sm.has_access("can_write", "PurchaseOrder"))

    @expose("/expiring")
    @has_access
    def expiring(self):
        today = dates.clinic_today()
        return self.render_template(
            "purchasing/expiring.html", days=EXPIRING_DAYS, qty=qty,
            expired=expiry_rows(db.session, expired=True, today=today),
            expiring=expiry_rows(db.session, expired=False, today=today),
            until=format_date(today + timedelta(days=EXPIRING_DAYS), "medium"))


def expiry_rows(session, *, expired, today=None, days=EXPIRING_DAYS):
    """[{lot, item, location, expiry_date, on_hand, days}] for the lots on hand that have expired (or expire
    within `days`), one row per lot and location, soonest first."""
    today = today or dates.clinic_today()
    levels = (inventory.expired(session, today=today) if expired
              else inventory.expiring(session, within_days=days, today=today))
    return [{"lot": lv.lot, "item": lv.item, "location": lv.location, "expiry_date": lv.lot.expiry_date,
             "on_hand": lv.quantity, "days": (lv.lot.expiry_date - today).days} for lv in levels]
