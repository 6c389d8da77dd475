"""Inventory lists (issue #10): low stock with "Create purchase orders", expiring and expired lots, the office
manager's home cards, and the reports "Expiring stock" and "Controlled substances log" through the runner."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.inventory import StockMovement
from app.models.purchasing import PurchaseOrder
from app.reports.definitions import clinic_timezone, day_bounds
from app.services import inventory
from tests.conftest import make_user
from tests.integration.test_purchasing import make_item, make_location, make_supplier, stock
from tests.integration.test_reports import _cards, pdf_text, post_report
from tests.integration.test_schedule_reports import csv_rows


def clinic_today():
    return dt.datetime.now(clinic_timezone()).date()


@pytest.fixture
def shelf(app):
    """Gauze low (supplier), tape low (no supplier), vaccine lots: expired, expiring in 10 days, in 90 days."""
    user = make_user("OfficeManager", "stockkeeper")
    supplier = make_supplier()
    cupboard, fridge = make_location(), make_location("Vaccine fridge", "fridge")
    today = clinic_today()
    gauze = make_item("Gauze pads", "GZ-4", supplier=supplier, reorder_point=10, reorder_quantity=50)
    tape = make_item("Medical tape", "TP-1", reorder_point=5, reorder_quantity=12)
    cotton = make_item("Cotton balls", "CB-1", supplier=supplier, reorder_point=2, reorder_quantity=10)
    vaccine = make_item("Flu vaccine", "FLU-25", supplier=supplier, unit="dose", lot_tracked=True)
    stock(gauze, cupboard, "7", user)
    stock(tape, cupboard, "5", user)
    stock(cotton, cupboard, "40", user)
    stock(vaccine, fridge, "3", user, lot="OLD-1", expiry=today - dt.timedelta(days=2),
          today=today - dt.timedelta(days=60))  # received two months ago, expired two days ago
    stock(vaccine, fridge, "6", user, lot="SOON-1", expiry=today + dt.timedelta(days=10))
    stock(vaccine, fridge, "20", user, lot="LATE-1", expiry=today + dt.timedelta(days=90))
    return {"user": user, "supplier": supplier, "gauze": gauze, "tape": tape, "vaccine": vaccine, "fridge": fridge,
            "cupboard": cupboard}


def test_low_stock_list_and_create_purchase_orders(client, login_as, shelf):
    login_as("OfficeManager")
    page = client.get("/inventory/lists/low-stock").get_data(as_text=True)
    listed = page.split('id="low-stock-list"')[1].split("</table>")[0]
    assert "Gauze pads" in listed and "MedSupply Inc." in listed and "7 box" in listed and "Cotton balls" not in listed
    apart = page.split('id="low-stock-no-supplier"')[1].split("</table>")[0]
    assert "Medical tape" in apart
    assert 'id="low-stock-order"' in page

    resp = client.post("/purchase-orders/generate", data={"csrf_token": client.csrf_token}, follow_redirects=True)
    body = resp.get_data(as_text=True)
    order = db.session.scalars(select(PurchaseOrder)).one()
    assert order.status == "draft" and order.supplier.name == "MedSupply Inc."
    assert [(line.item.sku, line.quantity) for line in order.lines] == [("GZ-4", Decimal("50"))]
    assert order.number in body and "Not ordered, no preferred supplier: Medical tape." in body
    assert "50" in client.get("/inventory/lists/low-stock").get_data(as_text=True).split(
        'id="low-stock-item-%d"' % shelf["gauze"].id)[1].split("</tr>")[0]  # now on order


def test_expiring_and_expired_lots_with_what_is_on_hand(client, login_as, shelf):
    login_as("OfficeManager")
    page = client.get("/inventory/lists/expiring").get_data(as_text=True)
    expired = page.split('id="expired-list"')[1].split("</table>")[0]
    soon = page.split('id="expiring-list"')[1].split("</table>")[0]
    assert "OLD-1" in expired and "3 dose" in expired and "2 days ago" in expired
    assert "SOON-1" in soon and "6 dose" in soon and "in 10 days" in soon and "Vaccine fridge" in soon
    assert "LATE-1" not in page


def test_office_manager_home_cards(client, login_as, shelf):
    login_as("OfficeManager")
    body, cards = _cards(client)
    assert {"inventory_low_stock", "inventory_expiring"} <= cards
    low = body.split('id="card-inventory_low_stock"')[1].split("</section>")[0]
    assert ">2<" in low.replace(" ", "") and "/inventory/lists/low-stock" in low  # gauze and tape
    expiring = body.split('id="card-inventory_expiring"')[1].split("</section>")[0]
    assert ">1<" in expiring.replace(" ", "") and "1 more have expired" in expiring
    assert "/inventory/lists/expiring" in expiring


@pytest.mark.parametrize("role", ["FrontDesk", "Billing", "Clinician"])
def test_other_roles_see_neither_the_lists_nor_the_cards(client, login_as, shelf, role):
    login_as(role)
    _body, cards = _cards(client)
    assert not {"inventory_low_stock", "inventory_expiring"} & cards
    for url in ("/inventory/lists/low-stock", "/inventory/lists/expiring"):
        resp = client.get(url)
        assert resp.status_code in (302, 403) and "Gauze pads" not in resp.get_data(as_text=True)
    assert post_report(client, "inventory_expiring", "csv").status_code in (302, 403)
    assert post_report(client, "controlled_substance_log", "csv").status_code in (302, 403)


def test_expiring_stock_report(client, login_as, shelf):
    login_as("OfficeManager")
    rows = csv_rows(post_report(client, "inventory_expiring", "csv", days="30", expired="y"))
    assert rows[0][:8] == ["Status", "Expiry date", "Days left", "Item", "SKU", "Lot", "Location", "On hand"]
    assert [(r[0], r[5], r[7]) for r in rows[1:]] == [("expired", "OLD-1", "3.00"), ("expiring", "SOON-1", "6.00")]
    rows = csv_rows(post_report(client, "inventory_expiring", "csv", days="100", expired="y"))
    assert [r[5] for r in rows[1:]] == ["OLD-1", "SOON-1", "LATE-1"]
    rows = csv_rows(post_report(client, "inventory_expiring", "csv", days="100"))  # box not ticked
    assert [r[5] for r in rows[1:]] == ["SOON-1", "LATE-1"]


def test_controlled_substances_log_with_running_balance(client, login_as, shelf, tmp_path):
    user = login_as("OfficeManager")
    witness = make_user("OfficeManager", "witness1")
    witness.first_name, witness.last_name = "Wanda", "Witness"
    db.session.commit()
    morphine = make_item("Morphine 10 mg/mL", "MOR-10", unit="ampoule", lot_tracked=True, controlled=True)
    today = clinic_today()
    expiry = today + dt.timedelta(days=200)
    first = inventory.receive(db.session, item=morphine, location=shelf["cupboard"], quantity=Decimal("10"),
                              lot_number="M-1", expiry_date=expiry, actor=user, confirmed_by=witness)
    inventory.transfer(db.session, item=morphine, from_location=shelf["cupboard"], to_location=shelf["fridge"],
                       quantity=Decimal("4"), actor=user, confirmed_by=witness)
    inventory.issue(db.session, item=morphine, location=shelf["fridge"], quantity=Decimal("1"), actor=user,
                    confirmed_by=witness)
    # the receipt happened before the period: it is the opening balance
    first.created_at = day_bounds(today - dt.timedelta(days=40), today)[0] + dt.timedelta(hours=12)
    db.session.commit()

    fields = {"period_from": (today - dt.timedelta(days=7)).isoformat(), "period_to": today.isoformat()}
    rows = csv_rows(post_report(client, "controlled_substance_log", "csv", **fields))
    assert rows[0] == ["Item", "Date", "Time", "Lot", "Movement", "Quantity", "From", "To", "By", "Witnessed by",
                       "Reason", "Balance"]
    body = [(r[4], r[5], r[6], r[7], r[9], r[11]) for r in rows[1:]]
    assert body == [("transfer", "4.00", "Main cupboard", "Vaccine fridge", "Wanda Witness", "10.00"),
                    ("issue", "1.00", "Vaccine fridge", "", "Wanda Witness", "9.00")]
    assert all(r[0] == "Morphine 10 mg/mL (MOR-10, ampoule)" and r[3] == "M-1" for r in rows[1:])
    assert not any("Gauze" in cell or "Flu vaccine" in cell for r in rows for cell in r)  # controlled items only

    everything = csv_rows(post_report(client, "controlled_substance_log", "csv", **{
        **fields, "period_from": (today - dt.timedelta(days=60)).isoformat()}))
    assert [(r[4], r[11]) for r in everything[1:]] == [("receive", "10.00"), ("transfer", "10.00"), ("issue", "9.00")]

    screen = post_report(client, "controlled_substance_log", **fields)
    assert screen.status_code == 200 and "Wanda Witness" in screen.get_data(as_text=True)
    pdf = post_report(client, "controlled_substance_log", "pdf", **fields)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data, tmp_path)
    assert "Controlled substances log" in text and "Morphine 10 mg/mL" in text and "Wanda Witness" in text
    assert db.session.scalars(select(StockMovement).where(StockMovement.item_id == morphine.id)).all()
