"""Purchase orders (issue #10, inventory part): drafts, the lifecycle, receiving through the inventory
service, orders from the low-stock list, the printed order, and every bad input refused with nothing changed."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.audit import AuditEvent
from app.models.inventory import InventoryItem, StockLocation, StockMovement, Supplier
from app.models.purchasing import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatusChange
from app.services import inventory
from app.services import purchasing as po
from app.services.errors import ValidationFailed
from tests.conftest import PASSWORD, make_user
from tests.integration.test_reports import pdf_text

TODAY = dt.date.today()
NEXT_YEAR = TODAY + dt.timedelta(days=365)


# --------------------------------------------------------------------------- setup (test_inventory_lists uses it too)

def make_supplier(name="MedSupply Inc.", **fields):
    supplier = Supplier(name=name, active=True, **fields)
    db.session.add(supplier)
    db.session.commit()
    return supplier


def make_location(name="Main cupboard", kind="cupboard"):
    loc = StockLocation(name=name, kind=kind, active=True)
    db.session.add(loc)
    db.session.commit()
    return loc


def make_item(name, sku, *, supplier=None, reorder_point=0, reorder_quantity=0, lot_tracked=False, controlled=False,
              unit="box", pack_size=1, active=True):
    item = InventoryItem(name=name, sku=sku, unit=unit, pack_size=pack_size, reorder_point=Decimal(reorder_point),
                         reorder_quantity=Decimal(reorder_quantity), preferred_supplier=supplier,
                         lot_tracked=lot_tracked, controlled=controlled, active=active)
    db.session.add(item)
    db.session.commit()
    return item


def stock(item, location, quantity, actor, *, lot=None, expiry=None, witness=None, today=None):
    return inventory.receive(db.session, item=item, location=location, quantity=Decimal(quantity), lot_number=lot,
                             expiry_date=expiry, actor=actor, confirmed_by=witness, today=today)


@pytest.fixture
def setup(app):
    user = make_user("OfficeManager")
    supplier = make_supplier(account_number="ACC-778", address="12 Harbor Rd, Boston MA")
    return {
        "user": user,
        "supplier": supplier,
        "cupboard": make_location(),
        "gloves": make_item("Nitrile gloves", "GLV-M", supplier=supplier, unit="box", pack_size=10),
        "vaccine": make_item("Flu vaccine", "FLU-25", supplier=supplier, unit="dose", lot_tracked=True),
    }


def draft(setup, lines=None, **fields):
    lines = lines if lines is not None else [(setup["gloves"], Decimal("20"), Decimal("8.50")),
                                             (setup["vaccine"], Decimal("10"), Decimal("14.25"))]
    return po.create_order(db.session, supplier=setup["supplier"], lines=lines, actor=setup["user"], **fields)


def sent(setup, **fields):
    order = draft(setup, **fields)
    return po.send(db.session, order, actor=setup["user"])


def receipt(order, index, quantity, location, **fields):
    return po.Receipt(line=order.lines[index], quantity=Decimal(quantity) if quantity is not None else None,
                      location=location, **fields)


def snapshot(order=None):
    """What a refused call must leave untouched."""
    state = {"movements": db.session.scalar(select(func.count()).select_from(StockMovement)),
             "orders": db.session.scalar(select(func.count()).select_from(PurchaseOrder)),
             "lines": [(line.purchase_order_id, line.item_id, line.quantity, line.unit_cost)
                       for line in db.session.scalars(select(PurchaseOrderLine).order_by(PurchaseOrderLine.id))],
             "changes": db.session.scalar(select(func.count()).select_from(PurchaseOrderStatusChange))}
    if order is not None:
        db.session.expire_all()
        state["status"] = db.session.get(PurchaseOrder, order.id).status
    return state


def refused(call, text):
    with pytest.raises(ValidationFailed) as caught:
        call()
    messages = " | ".join(str(m) for _f, m in caught.value.problems)
    assert text in messages, messages
    return caught.value


# --------------------------------------------------------------------------- the lifecycle

def test_draft_sent_partly_received_received_through_the_inventory_service(setup):
    user, cupboard = setup["user"], setup["cupboard"]
    order = draft(setup, expected_date=TODAY + dt.timedelta(days=7))
    assert order.number.startswith("PO") and order.status == "draft"
    assert [line.line_number for line in order.lines] == [1, 2]
    assert po.order_total(order) == Decimal("312.50")  # 20 x 8.50 + 10 x 14.25
    second = draft(setup)
    assert second.number != order.number

    po.send(db.session, order, actor=user)
    assert order.status == "sent" and order.sent_by_fk == user.id and order.sent_at is not None

    po.receive(db.session, order, [receipt(order, 0, "5", cupboard),
                                   receipt(order, 1, "10", cupboard, lot_number="L-1", expiry_date=NEXT_YEAR)],
               actor=user)
    assert order.status == "partly_received"
    gloves_line, vaccine_line = order.lines
    assert po.received_quantities(db.session, order) == {gloves_line.id: Decimal("5"), vaccine_line.id: Decimal("10")}
    assert inventory.on_hand(db.session, setup["gloves"]) == Decimal("5")
    assert inventory.on_hand(db.session, setup["vaccine"]) == Decimal("10")
    movements = db.session.scalars(select(StockMovement).order_by(StockMovement.id)).all()
    assert [(m.kind, m.purchase_order_line_id, m.supplier_id) for m in movements] == [
        ("receive", gloves_line.id, setup["supplier"].id), ("receive", vaccine_line.id, setup["supplier"].id)]
    assert movements[1].lot.lot_number == "L-1" and movements[1].lot.expiry_date == NEXT_YEAR

    po.receive(db.session, order, [receipt(order, 0, "15", cupboard)], actor=user)
    assert order.status == "received" and order.received_at is not None
    assert inventory.on_hand(db.session, setup["gloves"]) == Decimal("20")
    history = [(c.from_status, c.to_status, c.changed_by_fk) for c in order.status_changes]
    assert history == [(None, "draft", user.id), ("draft", "sent", user.id), ("sent", "partly_received", user.id),
                       ("partly_received", "received", user.id)]
    assert all(c.changed_at is not None for c in order.status_changes)


def test_changes_are_audited(setup):
    order = draft(setup)
    po.send(db.session, order, actor=setup["user"])
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type.in_(
        ("PurchaseOrder", "PurchaseOrderLine")))).all()
    kinds = {(e.object_type, e.action) for e in events}
    assert ("PurchaseOrder", "create") in kinds and ("PurchaseOrderLine", "create") in kinds
    assert ("PurchaseOrder", "update") in kinds  # draft -> sent
    assert all(e.patient_id is None for e in events)


def test_illegal_moves_are_refused_and_change_nothing(setup):
    user = setup["user"]
    empty = draft(setup, lines=[])
    before = snapshot(empty)
    refused(lambda: po.send(db.session, empty, actor=user), "has no lines")
    assert snapshot(empty) == before

    order = sent(setup)
    before = snapshot(order)
    refused(lambda: po.send(db.session, order, actor=user), "it cannot become sent")
    assert snapshot(order) == before

    refused(lambda: po.cancel(db.session, order, reason="", actor=user), "Say why the order is cancelled.")
    assert snapshot(order) == before


def test_cancel_stamps_who_and_why_and_a_received_order_cannot_be_cancelled(setup):
    user = setup["user"]
    order = sent(setup)
    po.cancel(db.session, order, reason="Supplier out of stock", actor=user)
    assert order.status == "cancelled" and order.cancelled_by_fk == user.id
    assert order.cancel_reason == "Supplier out of stock"
    assert order.status_changes[-1].note == "Supplier out of stock"

    done = sent(setup, lines=[(setup["gloves"], Decimal("2"), Decimal("8.50"))])
    po.receive(db.session, done, [receipt(done, 0, "2", setup["cupboard"])], actor=user)
    assert done.status == "received"
    before = snapshot(done)
    refused(lambda: po.cancel(db.session, done, reason="Too late", actor=user),
            f"Purchase order {done.number} is received: it cannot be cancelled.")
    assert snapshot(done) == before


@pytest.mark.parametrize("quantity, message", [
    (Decimal("0"), "The quantity must be more than zero."),
    (Decimal("-3"), "The quantity must be more than zero."),
    (None, "Give the quantity."),
])
def test_a_po_line_needs_a_positive_quantity(setup, quantity, message):
    refused(lambda: draft(setup, lines=[(setup["gloves"], quantity, Decimal("8.50"))]), message)
    assert db.session.scalar(select(func.count()).select_from(PurchaseOrder)) == 0
    order = draft(setup)
    before = snapshot(order)
    refused(lambda: po.add_line(db.session, order, item=setup["gloves"], quantity=quantity, unit_cost=Decimal("1"),
                                actor=setup["user"]), message)
    assert snapshot(order) == before
    refused(lambda: po.update_line(db.session, order, order.lines[0], quantity=quantity, unit_cost=Decimal("1"),
                                   actor=setup["user"]), message)
    assert snapshot(order) == before


def test_negative_unit_cost_and_lines_of_a_sent_order_are_refused(setup):
    order = draft(setup)
    before = snapshot(order)
    refused(lambda: po.add_line(db.session, order, item=setup["gloves"], quantity=Decimal("1"), unit_cost=Decimal("-1"),
                                actor=setup["user"]), "The unit cost cannot be negative.")
    assert snapshot(order) == before
    po.send(db.session, order, actor=setup["user"])
    before = snapshot(order)
    refused(lambda: po.add_line(db.session, order, item=setup["gloves"], quantity=Decimal("1"), unit_cost=Decimal("1"),
                                actor=setup["user"]), "can only be changed while it is a draft")
    assert snapshot(order) == before


def test_receiving_more_than_ordered_is_refused_with_what_is_left(setup):
    order = sent(setup)
    po.receive(db.session, order, [receipt(order, 0, "15", setup["cupboard"])], actor=setup["user"])
    before = snapshot(order)
    error = refused(lambda: po.receive(db.session, order, [receipt(order, 0, "6", setup["cupboard"])],
                                       actor=setup["user"]),
                    "Line 1 (Nitrile gloves): 20 ordered, 15 already received: at most 5 more can be received.")
    assert error.problems[0][0] == f"line_{order.lines[0].id}_quantity"
    assert snapshot(order) == before
    assert inventory.on_hand(db.session, setup["gloves"]) == Decimal("15")


def test_all_or_nothing_when_one_line_is_wrong(setup):
    order = sent(setup)
    before = snapshot(order)
    refused(lambda: po.receive(db.session, order, [
        receipt(order, 0, "5", setup["cupboard"]),
        receipt(order, 1, "2", setup["cupboard"], lot_number="", expiry_date=NEXT_YEAR)], actor=setup["user"]),
        "Flu vaccine is tracked by lot: give the lot number.")
    assert snapshot(order) == before
    assert inventory.on_hand(db.session, setup["gloves"]) == 0


def test_receiving_on_a_cancelled_order_is_refused(setup):
    order = sent(setup)
    po.cancel(db.session, order, reason="Ordered twice", actor=setup["user"])
    before = snapshot(order)
    refused(lambda: po.receive(db.session, order, [receipt(order, 0, "1", setup["cupboard"])], actor=setup["user"]),
            f"Purchase order {order.number} is cancelled: nothing can be received on it.")
    assert snapshot(order) == before


def test_an_expiry_date_in_the_past_is_refused_on_receipt(setup):
    order = sent(setup)
    before = snapshot(order)
    refused(lambda: po.receive(db.session, order, [
        receipt(order, 1, "10", setup["cupboard"], lot_number="OLD-1", expiry_date=TODAY - dt.timedelta(days=1))],
        actor=setup["user"]), "is in the past: expired stock cannot be received.")
    assert snapshot(order) == before
    refused(lambda: po.receive(db.session, order, [receipt(order, 0, "0", setup["cupboard"])], actor=setup["user"]),
            "The quantity must be more than zero.")
    refused(lambda: po.receive(db.session, order, [receipt(order, 0, None, setup["cupboard"])], actor=setup["user"]),
            "Give the quantity received for at least one line.")
    assert snapshot(order) == before


def test_controlled_items_need_a_witness_on_receipt(setup):
    morphine = make_item("Morphine 10 mg/mL", "MOR-10", supplier=setup["supplier"], unit="ampoule", lot_tracked=True,
                         controlled=True)
    order = sent(setup, lines=[(morphine, Decimal("10"), Decimal("3.10"))])
    line = [receipt(order, 0, "10", setup["cupboard"], lot_number="M-77", expiry_date=NEXT_YEAR)]
    before = snapshot(order)
    refused(lambda: po.receive(db.session, order, line, actor=setup["user"]), "controlled substance")
    refused(lambda: po.receive(db.session, order, line, actor=setup["user"],
                               confirmed_by=inventory.Witness("manager2", "wrong")),
            "The witness's username or password is wrong.")
    assert snapshot(order) == before
    witness = make_user("OfficeManager", "manager2")
    po.receive(db.session, order, line, actor=setup["user"], confirmed_by=inventory.Witness("manager2", PASSWORD))
    movement = db.session.scalars(select(StockMovement)).one()
    assert movement.confirmed_by_fk == witness.id and order.status == "received"


# --------------------------------------------------------------------------- from the low-stock list

def test_low_stock_becomes_one_draft_per_supplier(setup):
    user, cupboard = setup["user"], setup["cupboard"]
    other = make_supplier("Pharma Direct")
    gauze = make_item("Gauze pads", "GZ-4", supplier=setup["supplier"], reorder_point=10, reorder_quantity=50)
    tape = make_item("Medical tape", "TP-1", supplier=setup["supplier"], reorder_point=5, reorder_quantity=12)
    saline = make_item("Saline 0.9%", "SAL-500", supplier=other, reorder_point=4, reorder_quantity=24)
    orphan = make_item("Tongue depressors", "TD-1", reorder_point=3, reorder_quantity=100)
    plenty = make_item("Cotton balls", "CB-1", supplier=other, reorder_point=2, reorder_quantity=10)
    stock(gauze, cupboard, "10", user)  # at the reorder point: low
    stock(tape, cupboard, "2", user)
    stock(plenty, cupboard, "30", user)
    earlier = po.create_order(db.session, supplier=setup["supplier"], actor=user,
                              lines=[(tape, Decimal("12"), Decimal("1.75"))])
    po.send(db.session, earlier, actor=user)  # tape is on order already
    last = po.send(db.session, po.create_order(db.session, supplier=other, actor=user,
                                               lines=[(saline, Decimal("1"), Decimal("2.40"))]), actor=user)
    po.receive(db.session, last, [receipt(last, 0, "1", cupboard)], actor=user)  # 1 on hand: still low

    result = po.generate_from_low_stock(db.session, actor=user)
    assert [o.supplier.name for o in result.orders] == ["MedSupply Inc.", "Pharma Direct"]
    assert [[(line.item.sku, line.quantity) for line in o.lines] for o in result.orders] == [
        [("GZ-4", Decimal("50"))], [("SAL-500", Decimal("24"))]]
    assert all(o.status == "draft" for o in result.orders)
    assert result.without_supplier == [orphan]
    assert result.already_ordered == [tape]
    # the last price paid to that supplier is proposed; never ordered before: 0.00, to fill in
    assert [o.lines[0].unit_cost for o in result.orders] == [Decimal("0.00"), Decimal("2.40")]
    assert po.generate_from_low_stock(db.session, actor=user).orders == []  # now all on order


# --------------------------------------------------------------------------- the screens

def _form(client, **fields):
    return {"csrf_token": client.csrf_token, **fields}


def test_office_manager_drafts_sends_receives_and_prints_on_screen(client, login_as, setup, tmp_path):
    user = login_as("OfficeManager")
    page = client.get("/purchase-orders/new")
    assert page.status_code == 200 and "MedSupply Inc." in page.get_data(as_text=True)
    resp = client.post("/purchase-orders/new", data=_form(client, supplier=str(setup["supplier"].id),
                                                            order_date=TODAY.isoformat(), notes="Deliver mornings"))
    assert resp.status_code == 302
    order = db.session.scalars(select(PurchaseOrder)).one()
    assert order.created_by_fk == user.id

    bad = client.post(f"/purchase-orders/{order.id}/lines", data=_form(
        client, item=str(setup["gloves"].id), quantity="-2", unit_cost="8.50", version=str(order.version)))
    assert bad.status_code == 422 and "The quantity must be more than zero." in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PurchaseOrderLine)) == 0
    for item, quantity, cost in ((setup["gloves"], "20", "8.50"), (setup["vaccine"], "10", "14.25")):
        db.session.expire_all()
        version = db.session.get(PurchaseOrder, order.id).version
        resp = client.post(f"/purchase-orders/{order.id}/lines", data=_form(
            client, item=str(item.id), quantity=quantity, unit_cost=cost, version=str(version)))
        assert resp.status_code == 302
    db.session.expire_all()
    order = db.session.get(PurchaseOrder, order.id)
    assert [(line.item.sku, line.quantity, line.unit_cost) for line in order.lines] == [
        ("GLV-M", Decimal("20"), Decimal("8.50")), ("FLU-25", Decimal("10"), Decimal("14.25"))]
    show = client.get(f"/purchase-orders/{order.id}").get_data(as_text=True)
    assert "$312.50" in show and "(2 packs of 10)" not in show  # packs only shown once sent (read-only rows)

    stale = client.post(f"/purchase-orders/{order.id}/send", data=_form(client, version=str(order.version - 1)))
    assert stale.status_code == 302
    db.session.expire_all()
    assert db.session.get(PurchaseOrder, order.id).status == "draft"
    client.post(f"/purchase-orders/{order.id}/send", data=_form(client, version=str(order.version)))
    db.session.expire_all()
    order = db.session.get(PurchaseOrder, order.id)
    assert order.status == "sent"
    assert "(2 packs of 10)" in client.get(f"/purchase-orders/{order.id}").get_data(as_text=True)

    gloves_line, vaccine_line = order.lines
    form = client.get(f"/purchase-orders/{order.id}/receive")
    assert form.status_code == 200 and f'name="line_{vaccine_line.id}_lot_number"' in form.get_data(as_text=True)
    too_many = client.post(f"/purchase-orders/{order.id}/receive", data=_form(
        client, version=str(order.version), **{f"line_{gloves_line.id}_quantity": "25",
                                               f"line_{gloves_line.id}_location": str(setup["cupboard"].id)}))
    assert too_many.status_code == 422
    assert "at most 20 more can be received" in too_many.get_data(as_text=True)
    past = client.post(f"/purchase-orders/{order.id}/receive", data=_form(
        client, version=str(order.version), **{
            f"line_{vaccine_line.id}_quantity": "10", f"line_{vaccine_line.id}_location": str(setup["cupboard"].id),
            f"line_{vaccine_line.id}_lot_number": "F-1",
            f"line_{vaccine_line.id}_expiry_date": (TODAY - dt.timedelta(days=3)).isoformat()}))
    assert past.status_code == 422 and "expired stock cannot be received" in past.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0
    ok = client.post(f"/purchase-orders/{order.id}/receive", data=_form(
        client, version=str(order.version), **{
            f"line_{gloves_line.id}_quantity": "20", f"line_{gloves_line.id}_location": str(setup["cupboard"].id),
            f"line_{vaccine_line.id}_quantity": "4", f"line_{vaccine_line.id}_location": str(setup["cupboard"].id),
            f"line_{vaccine_line.id}_lot_number": "F-1", f"line_{vaccine_line.id}_expiry_date": NEXT_YEAR.isoformat()}))
    assert ok.status_code == 302
    db.session.expire_all()
    order = db.session.get(PurchaseOrder, order.id)
    assert order.status == "partly_received"
    assert inventory.on_hand(db.session, setup["vaccine"]) == Decimal("4")

    pdf = client.get(f"/purchase-orders/{order.id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data, tmp_path)
    for expected in (f"Purchase order {order.number}", "MedSupply Inc.", "12 Harbor Rd, Boston MA", "ACC-778",
                     "Nitrile gloves", "GLV-M", "Flu vaccine", "$170.00", "$142.50", "$312.50", "Deliver mornings",
                     "2 packs of 10"):
        assert expected in text, expected
    from flask import current_app

    assert current_app.config["CLINIC_NAME"] in text  # the letterhead
    printed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "print",
                                                          AuditEvent.object_type == "PurchaseOrder")).all()
    assert [e.object_id for e in printed] == [str(order.id)]

    listing = client.get("/purchase-orders/").get_data(as_text=True)
    assert order.number in listing and "partly received" in listing


def test_cancel_on_screen_needs_a_reason_and_a_received_order_offers_no_cancel(client, login_as, setup):
    login_as("OfficeManager")
    order = sent(setup, lines=[(setup["gloves"], Decimal("1"), Decimal("8.50"))])
    resp = client.post(f"/purchase-orders/{order.id}/cancel",
                       data=_form(client, version=str(order.version), reason=" "))
    assert resp.status_code == 422 and "Say why the order is cancelled." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PurchaseOrder, order.id).status == "sent"
    po.receive(db.session, order, [receipt(order, 0, "1", setup["cupboard"])], actor=setup["user"])
    page = client.get(f"/purchase-orders/{order.id}").get_data(as_text=True)
    assert 'id="po-cancel-form"' not in page and 'id="po-receive"' not in page
    resp = client.post(f"/purchase-orders/{order.id}/cancel", data=_form(client, version=str(order.version),
                                                                         reason="Too late"))
    assert resp.status_code == 422 and "it cannot be cancelled" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PurchaseOrder, order.id).status == "received"


@pytest.mark.parametrize("role", ["FrontDesk", "Billing", "Clinician"])
def test_other_roles_cannot_reach_purchase_orders(client, login_as, setup, role):
    login_as(role)
    order = draft(setup)
    for url in ("/purchase-orders/", f"/purchase-orders/{order.id}", f"/purchase-orders/{order.id}/pdf"):
        resp = client.get(url)
        assert resp.status_code in (302, 403) and order.number not in resp.get_data(as_text=True)
    client.post(f"/purchase-orders/{order.id}/send", data=_form(client, version=str(order.version)))
    db.session.expire_all()
    assert db.session.get(PurchaseOrder, order.id).status == "draft"


def test_receiving_a_controlled_item_on_screen_needs_the_witness_password(client, login_as, setup):
    login_as("OfficeManager")
    make_user("OfficeManager", "witness2")
    morphine = make_item("Morphine 10 mg/mL", "MOR-10", supplier=setup["supplier"], unit="ampoule", lot_tracked=True,
                         controlled=True)
    order = sent(setup, lines=[(morphine, Decimal("5"), Decimal("3.10"))])
    line = order.lines[0]
    page = client.get(f"/purchase-orders/{order.id}/receive").get_data(as_text=True)
    assert 'name="witness_username"' in page and 'name="witness_password"' in page
    fields = {f"line_{line.id}_quantity": "5", f"line_{line.id}_location": str(setup["cupboard"].id),
              f"line_{line.id}_lot_number": "M-9", f"line_{line.id}_expiry_date": NEXT_YEAR.isoformat()}
    wrong = client.post(f"/purchase-orders/{order.id}/receive", data=_form(
        client, version=str(order.version), witness_username="witness2", witness_password="nope", **fields))
    assert wrong.status_code == 422
    assert "The witness&#39;s username or password is wrong." in wrong.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0
    ok = client.post(f"/purchase-orders/{order.id}/receive", data=_form(
        client, version=str(order.version), witness_username="witness2", witness_password=PASSWORD, **fields))
    assert ok.status_code == 302
    movement = db.session.scalars(select(StockMovement)).one()
    assert movement.confirmed_by.username == "witness2" and movement.purchase_order_line_id == line.id


def test_the_inventory_menu_of_the_office_manager(client, login_as):
    login_as("OfficeManager")
    home = client.get("/").get_data(as_text=True)
    for href in ("/inventory/lists/low-stock", "/inventory/lists/expiring", "/purchase-orders/"):
        assert f'href="{href}"' in home, href


def test_demo_orders_follow_the_demo_stock(app):
    make_user("OfficeManager")
    make_user("OfficeManager", "manager2")
    inventory.seed_demo(db.session)
    stats = po.seed_demo(db.session)
    orders = db.session.scalars(select(PurchaseOrder).order_by(PurchaseOrder.id)).all()
    assert stats == {"purchase_orders": len(orders)} and orders
    assert orders[0].status == "sent" and all(o.status == "draft" for o in orders[1:])
    assert all(line.unit_cost > 0 for o in orders for line in o.lines)
    assert po.seed_demo(db.session) == {}


def test_draft_dates_on_screen_are_checked_and_a_stale_form_changes_nothing(client, login_as, setup):
    login_as("OfficeManager")
    order = draft(setup)
    before = (order.order_date, order.expected_date, order.notes)
    resp = client.post(f"/purchase-orders/{order.id}/edit", data=_form(
        client, version=str(order.version), order_date=TODAY.isoformat(),
        expected_date=(TODAY - dt.timedelta(days=1)).isoformat(), notes="x"))
    assert resp.status_code == 422 and "The expected date is before the order date." in resp.get_data(as_text=True)
    resp = client.post(f"/purchase-orders/{order.id}/edit", data=_form(
        client, version=str(order.version), order_date="31/31/2026", notes="x"))
    assert resp.status_code == 422 and "Not a valid date." in resp.get_data(as_text=True)
    resp = client.post(f"/purchase-orders/{order.id}/edit", data=_form(
        client, version=str(order.version - 1), order_date=TODAY.isoformat(), notes="x"), follow_redirects=True)
    assert "Someone else changed this record" in resp.get_data(as_text=True)
    db.session.expire_all()
    order = db.session.get(PurchaseOrder, order.id)
    assert (order.order_date, order.expected_date, order.notes) == before
    resp = client.post(f"/purchase-orders/{order.id}/edit", data=_form(
        client, version=str(order.version), order_date=TODAY.isoformat(),
        expected_date=(TODAY + dt.timedelta(days=5)).isoformat(), notes="Ring the bell"))
    assert resp.status_code == 302
    db.session.expire_all()
    order = db.session.get(PurchaseOrder, order.id)
    assert order.expected_date == TODAY + dt.timedelta(days=5) and order.notes == "Ring the bell"
