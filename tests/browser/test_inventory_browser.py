"""Inventory in a real Chromium: the office manager receives a lot-tracked vaccine with its expiry date;
the front desk issues doses and the lot that expires first is taken; a controlled drug is refused without
a witness and issued when another office manager types their username and password on the same form."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.inventory import StockLot, StockMovement
from app.services import inventory
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.integration.test_inventory import make_stock

pytestmark = pytest.mark.browser


def movements(kind=None):
    db.session.expire_all()
    query = select(StockMovement).order_by(StockMovement.id)
    if kind:
        query = query.where(StockMovement.kind == kind)
    return db.session.scalars(query).all()


def lot_stock(item, location):
    db.session.expire_all()
    return {lv.lot.lot_number: lv.quantity for lv in inventory.stock_levels(db.session, item=item, location=location)
            if lv.lot is not None}


def fill_move(page, kind, item, location, quantity, **more):
    page.select_option("#item", str(item.id))
    page.select_option("#location", str(location.id))
    page.fill("#quantity", quantity)
    for name, value in more.items():
        page.fill(f"#{name}", value)
    with page.expect_navigation():
        page.click(f"#inventory-move-{kind} button[type=submit]")


def success(page):
    return " ".join(page.locator(".alert-success").all_inner_texts())


def test_receive_with_expiry_then_the_front_desk_issues_from_the_lot_expiring_first(page):
    s = make_stock()
    later = date.today() + timedelta(days=300)
    sooner = date.today() + timedelta(days=60)
    # Received first, but expires last: FIFO would take it, FEFO must not.
    inventory.receive(db.session, item=s.vaccine, location=s.fridge, quantity=5, lot_number="FL-LATE",
                      expiry_date=later, actor=s.manager)

    log_in(page, s.manager.username)
    page.goto("/inventory/move/receive")
    fill_move(page, "receive", s.vaccine, s.fridge, "10", lot_number="FL-SOON", expiry_date=sooner.isoformat())
    assert "Receive recorded: 10 dose of Influenza vaccine. Lots: FL-SOON." in success(page)
    assert page.url.endswith(f"/inventory/movements?item={s.vaccine.id}")
    assert "On hand: 15 dose" in page.inner_text("body")
    lot = db.session.scalars(select(StockLot).where(StockLot.lot_number == "FL-SOON")).one()
    assert lot.expiry_date == sooner
    received = movements("receive")[-1]
    assert (received.quantity, received.lot_id, received.created_by_fk) == (Decimal("10"), lot.id, s.manager.id)

    page.goto("/logout/")
    log_in(page, s.desk.username)
    page.goto("/inventory/issue")
    assert "Stock is taken from the lot that expires first." in page.inner_text("#inventory-move-issue")
    fill_move(page, "issue", s.vaccine, s.fridge, "3")
    assert "Issue / use recorded: 3 dose of Influenza vaccine. Lots: FL-SOON." in success(page)
    assert page.url.endswith("/inventory/issue")  # the front desk reads no stock pages
    (issued,) = movements("issue")
    assert (issued.lot_id, issued.quantity, issued.created_by_fk) == (lot.id, Decimal("3"), s.desk.id)
    assert lot_stock(s.vaccine, s.fridge) == {"FL-SOON": Decimal("7"), "FL-LATE": Decimal("5")}
    assert page.requests.foreign() == []


def test_a_controlled_drug_needs_a_witness_on_the_same_form(page):
    s = make_stock()
    inventory.receive(db.session, item=s.drug, location=s.cupboard, quantity=10, lot_number="CS-1",
                      expiry_date=date.today() + timedelta(days=300), actor=s.manager, confirmed_by=s.manager2)
    before = len(movements())
    log_in(page, s.desk.username)
    page.goto("/inventory/issue")
    fill_move(page, "issue", s.drug, s.cupboard, "1")
    witness = page.inner_text("#inventory-witness")
    assert "This is a controlled substance: a second person must confirm" in witness, page.inner_text("form")
    assert page.locator(".alert-success").count() == 0
    assert len(movements()) == before

    # The form kept the item, place and quantity; the witness types their own username and password.
    assert page.input_value("#item") == str(s.drug.id) and page.input_value("#quantity") == "1"
    page.fill("#witness_username", s.manager2.username)
    page.fill("#witness_password", PASSWORD)
    with page.expect_navigation():
        page.click("#inventory-move-issue button[type=submit]")
    assert "Issue / use recorded: 1 tablet of Lorazepam 1 mg. Lots: CS-1." in success(page)
    (issued,) = movements("issue")
    assert (issued.created_by_fk, issued.confirmed_by_fk, issued.quantity) == (s.desk.id, s.manager2.id, Decimal("1"))
    assert inventory.on_hand(db.session, s.drug) == Decimal("9")
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == before + 1
    assert page.requests.foreign() == []
