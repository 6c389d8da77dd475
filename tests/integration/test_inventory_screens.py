"""Inventory screens: setup rows (OfficeManager), stock on hand, history, the movement forms with
their messages, the witness fields, and the front desk's issue-only access."""
import html
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent
from app.models.inventory import InventoryItem, StockLocation, StockLot, StockMovement, Supplier
from app.services import inventory
from tests.conftest import PASSWORD, make_user
from tests.integration.test_inventory import make_stock

FUTURE = (date.today() + timedelta(days=400)).isoformat()
PAST = (date.today() - timedelta(days=30)).isoformat()


def text(resp):
    return html.unescape(resp.get_data(as_text=True))


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def post(client, path, **data):
    return client.post(path, data={"csrf_token": client.csrf_token, **data}, headers={"Accept-Language": "en"})


def move(client, kind, **data):
    path = "/inventory/issue" if kind == "issue" else f"/inventory/move/{kind}"
    return post(client, path, **data)


# --------------------------------------------------------------------------- setup

def test_office_manager_sets_up_suppliers_locations_and_items(client, login_as):
    login_as("OfficeManager")
    assert post(client, "/supplierview/add", name="MedSupply Co", contact="Dana", phone="413-555-0100",
                email="orders@medsupply.test", address="1 Main St", account_number="AC-1", active="y"
                ).status_code == 302
    assert post(client, "/stocklocationview/add", name="Vaccine fridge", kind="fridge", active="y").status_code == 302
    supplier = db.session.scalars(select(Supplier)).one()
    item = dict(name="Influenza vaccine", sku="VAC-FLU", category="Vaccines", unit="dose", pack_size="10",
                reorder_point="10", reorder_quantity="50", preferred_supplier=str(supplier.id), lot_tracked="y",
                active="y")
    assert post(client, "/inventoryitemview/add", **item).status_code == 302
    saved = db.session.scalars(select(InventoryItem)).one()
    assert (saved.lot_tracked, saved.controlled, saved.preferred_supplier_id) == (True, False, supplier.id)
    assert db.session.scalars(select(StockLocation)).one().kind == "fridge"
    # the same SKU twice is refused with a message
    resp = post(client, "/inventoryitemview/add", **dict(item, name="Another"))
    assert resp.status_code == 200 and "Already exists." in text(resp)
    assert count(InventoryItem) == 1
    # a zero pack size is refused
    resp = post(client, "/inventoryitemview/add", **dict(item, sku="X2", pack_size="0"))
    assert resp.status_code == 200 and count(InventoryItem) == 1
    # a location with stock is not deleted
    location = db.session.scalars(select(StockLocation)).one()
    inventory.receive(db.session, item=saved, location=location, quantity=5, lot_number="L1",
                      expiry_date=date.today() + timedelta(days=100), actor=make_user("OfficeManager"))
    post(client, f"/stocklocationview/delete/{location.id}")
    assert "cannot be deleted: make it inactive instead" in text(client.get("/stocklocationview/list/"))
    assert count(StockLocation) == 1


def test_the_front_desk_only_issues(client, login_as):
    s = make_stock()
    inventory.receive(db.session, item=s.gloves, location=s.cupboard, quantity=5, actor=s.manager)
    login_as("FrontDesk")
    for path in ("/inventory/", "/inventory/movements", "/inventory/move/receive", "/inventoryitemview/list/",
                 "/supplierview/list/", "/stocklocationview/list/"):
        assert client.get(path).status_code in (302, 403), path
    page = client.get("/inventory/issue", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    body = text(page)
    assert "Nitrile gloves M · GLV-M (box)" in body and "Back to stock" not in body
    resp = move(client, "issue", item=str(s.gloves.id), location=str(s.cupboard.id), quantity="2")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/inventory/issue")
    assert "Issue / use recorded: 2 box of Nitrile gloves M." in text(client.get("/inventory/issue"))
    assert inventory.on_hand(db.session, s.gloves) == Decimal("3")
    home = text(client.get("/", headers={"Accept-Language": "en"}))
    assert "/inventory/issue" in home and "/supplierview/list/" not in home


# --------------------------------------------------------------------------- movement forms

def test_receive_transfer_adjust_and_the_stock_and_history_pages(client, login_as):
    s = make_stock()
    login_as("OfficeManager")
    resp = move(client, "receive", item=str(s.vaccine.id), location=str(s.fridge.id), quantity="10",
                lot_number="FL-24", expiry_date=FUTURE, supplier="")
    assert resp.status_code == 302 and f"/inventory/movements?item={s.vaccine.id}" in resp.headers["Location"]
    assert move(client, "transfer", item=str(s.vaccine.id), from_location=str(s.fridge.id),
                to_location=str(s.room.id), quantity="3", lot_number="").status_code == 302
    assert move(client, "adjust", item=str(s.vaccine.id), location=str(s.room.id), quantity="-1",
                lot_number="FL-24", reason="dropped vial").status_code == 302
    stock = text(client.get("/inventory/", headers={"Accept-Language": "en"}))
    assert "FL-24" in stock and "Vaccine fridge" in stock and "Exam room 1" in stock
    history = text(client.get(f"/inventory/movements?item={s.vaccine.id}", headers={"Accept-Language": "en"}))
    assert "On hand: 9 dose" in history and "dropped vial" in history and "officemanager1" in history
    assert [m.kind for m in inventory.history(db.session, s.vaccine)] == ["adjust", "transfer", "receive"]


def _refused(client, kind, message, **data):
    before = (count(StockMovement), count(StockLot))
    resp = move(client, kind, **data)
    assert resp.status_code == 200, resp.status_code
    assert message in text(resp)
    assert (count(StockMovement), count(StockLot)) == before


def test_bad_input_on_the_forms_gets_a_message_and_changes_nothing(client, login_as):
    s = make_stock()
    login_as("OfficeManager")
    inventory.receive(db.session, item=s.gloves, location=s.cupboard, quantity=2, actor=s.manager)
    vac = dict(item=str(s.vaccine.id), location=str(s.fridge.id), quantity="5", lot_number="FL-1")
    _refused(client, "receive", "This expiry date has passed: expired stock cannot be received.",
             **dict(vac, expiry_date=PAST))
    _refused(client, "receive", "Not a valid date.", **dict(vac, expiry_date="soon"))
    _refused(client, "receive", "The quantity must be more than zero.", **dict(vac, quantity="-5", expiry_date=FUTURE))
    _refused(client, "receive", "The quantity cannot be zero.", **dict(vac, quantity="0", expiry_date=FUTURE))
    _refused(client, "issue", "Only 2 box on hand at Supply cupboard: nothing was changed.",
             item=str(s.gloves.id), location=str(s.cupboard.id), quantity="3")
    _refused(client, "transfer", "Choose two different locations.", item=str(s.gloves.id),
             from_location=str(s.cupboard.id), to_location=str(s.cupboard.id), quantity="1")
    _refused(client, "adjust", "Give the reason for this adjustment.", item=str(s.gloves.id),
             location=str(s.cupboard.id), quantity="1", reason="")
    _refused(client, "return", "Lot NOPE is not on file for this item.", item=str(s.vaccine.id),
             location=str(s.fridge.id), quantity="1", lot_number="NOPE")
    _refused(client, "issue", "Choose an item.", item="", location=str(s.cupboard.id), quantity="1")
    assert move(client, "nonsense", item=str(s.gloves.id)).status_code == 404


def test_a_controlled_issue_needs_a_witness_on_the_same_form(client, login_as):
    s = make_stock()
    inventory.receive(db.session, item=s.drug, location=s.cupboard, quantity=10, lot_number="CS-1",
                      expiry_date=date.today() + timedelta(days=300), actor=s.manager, confirmed_by=s.manager2)
    login_as("FrontDesk")
    data = dict(item=str(s.drug.id), location=str(s.cupboard.id), quantity="1")
    _refused(client, "issue", "This is a controlled substance: a second person must confirm", **data)
    resp = move(client, "issue", **dict(data, witness_username="officemanager2", witness_password="wrong one"))
    body = text(resp)
    assert "The witness's username or password is wrong." in body and "wrong one" not in body
    _refused(client, "issue", "The witness must be a different person",
             **dict(data, witness_username="frontdesk1", witness_password=PASSWORD))
    failed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "inventory_witness_failed")).all()
    assert len(failed) == 2 and all(e.flagged and e.username == "frontdesk1" for e in failed)
    assert move(client, "issue", **dict(data, witness_username="officemanager2", witness_password=PASSWORD)
                ).status_code == 302
    issued = db.session.scalars(select(StockMovement).where(StockMovement.kind == "issue")).one()
    assert (issued.created_by_fk, issued.confirmed_by_fk) == (s.desk.id, s.manager2.id)
