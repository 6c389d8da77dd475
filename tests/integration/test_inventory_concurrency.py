"""Concurrent issues of the last units: exactly what is on hand is issued, never more.

Each thread has its own connection and session and issues at the same moment. The item's row
is locked before the stock is read (FOR UPDATE on PostgreSQL; SQLite has one writer at a time),
so the late issues see the stock already taken and are refused with a clear message.
"""
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models.inventory import StockMovement
from app.services import inventory
from app.services.errors import ValidationFailed
from tests.concurrency import race
from tests.integration.test_inventory import TODAY, make_stock

THREADS = 8


def test_eight_simultaneous_issues_of_the_last_five_units_issue_exactly_five(app):
    s = make_stock()
    # Two lots, so that the FEFO split across lots is raced too.
    for lot, days, qty in (("A", 30, 2), ("B", 90, 3)):
        inventory.receive(db.session, item=s.vaccine, location=s.fridge, quantity=qty, lot_number=lot,
                          expiry_date=TODAY + timedelta(days=days), actor=s.manager, today=TODAY)
    ids = dict(item=s.vaccine.id, location=s.fridge.id, actor=s.desk.id)

    def issue(session, i):
        inventory.issue(session, quantity=1, today=TODAY, **ids)
        return "issued"

    results = race(app, THREADS, issue, expected=ValidationFailed)
    assert results.count("issued") == 5, results
    refused = [r for r in results if r != "issued"]
    assert all(isinstance(r, ValidationFailed) for r in refused), refused
    assert all("Only 0 dose on hand at Vaccine fridge" in str(r) for r in refused), refused
    db.session.expire_all()
    assert inventory.on_hand(db.session, s.vaccine) == Decimal("0")
    issued = db.session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0))
                               .where(StockMovement.kind == "issue"))
    assert Decimal(issued) == Decimal("5")
    levels = inventory.stock_levels(db.session, item=s.vaccine)
    assert levels == []  # no lot went below zero


def test_concurrent_issues_with_more_than_enough_stock_all_succeed(app):
    s = make_stock()
    inventory.receive(db.session, item=s.gloves, location=s.cupboard, quantity=100, actor=s.manager, today=TODAY)
    ids = dict(item=s.gloves.id, location=s.cupboard.id, actor=s.desk.id)

    def issue(session, i):
        inventory.issue(session, quantity=3, today=TODAY, **ids)
        return "issued"

    results = race(app, 4, issue)
    assert results == ["issued"] * 4
    db.session.expire_all()
    assert inventory.on_hand(db.session, s.gloves) == Decimal("88")
