"""Inventory core: stock is the sum of movements, FEFO issues, lots and expiry, witnesses for
controlled substances, and every bad input refused with a message and nothing changed."""
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent
from app.models.inventory import InventoryItem, StockLocation, StockLot, StockMovement, Supplier
from app.services import inventory
from app.services.errors import ValidationFailed
from app.services.inventory import Witness
from tests.conftest import PASSWORD, make_user

TODAY = date(2027, 3, 1)


def make_stock():
    """A supplier, three locations, a plain item, a lot-tracked vaccine and a controlled drug."""
    supplier = Supplier(name="MedSupply Co", contact="Dana", phone="413-555-0100", email="orders@medsupply.test",
                        account_number="AC-1001")
    cupboard = StockLocation(name="Supply cupboard", kind="cupboard")
    fridge = StockLocation(name="Vaccine fridge", kind="fridge")
    room = StockLocation(name="Exam room 1", kind="room")
    gloves = InventoryItem(name="Nitrile gloves M", sku="GLV-M", category="Consumables", unit="box", pack_size=10,
                           reorder_point=Decimal("5"), reorder_quantity=Decimal("20"), preferred_supplier=supplier)
    vaccine = InventoryItem(name="Influenza vaccine", sku="VAC-FLU", category="Vaccines", unit="dose", pack_size=10,
                            reorder_point=Decimal("10"), reorder_quantity=Decimal("50"), lot_tracked=True,
                            preferred_supplier=supplier)
    drug = InventoryItem(name="Lorazepam 1 mg", sku="CS-LZP1", category="Controlled", unit="tablet", pack_size=30,
                         reorder_point=Decimal("0"), reorder_quantity=Decimal("0"), lot_tracked=True, controlled=True)
    db.session.add_all([supplier, cupboard, fridge, room, gloves, vaccine, drug])
    db.session.commit()
    manager = make_user("OfficeManager")
    desk = make_user("FrontDesk")
    manager2 = make_user("OfficeManager", username="officemanager2")
    return SimpleNamespace(supplier=supplier, cupboard=cupboard, fridge=fridge, room=room, gloves=gloves,
                           vaccine=vaccine, drug=drug, manager=manager, desk=desk, manager2=manager2)


def movements():
    return db.session.scalar(select(func.count()).select_from(StockMovement))


def lots():
    return db.session.scalar(select(func.count()).select_from(StockLot))


def receive_vaccine(s, lot, expiry, qty, location=None):
    return inventory.receive(db.session, item=s.vaccine, location=location or s.fridge, quantity=qty, lot_number=lot,
                             expiry_date=expiry, actor=s.manager, today=TODAY)


# --------------------------------------------------------------------------- stock from movements

def test_stock_on_hand_is_the_sum_of_movements_per_item_location_and_lot(app):
    s = make_stock()
    inventory.receive(db.session, item=s.gloves, location=s.cupboard, quantity="30", actor=s.manager, today=TODAY)
    inventory.transfer(db.session, item=s.gloves, from_location=s.cupboard, to_location=s.room, quantity=4,
                       actor=s.manager, today=TODAY)
    inventory.issue(db.session, item=s.gloves, location=s.room, quantity=1, actor=s.desk, today=TODAY)
    inventory.adjust(db.session, item=s.gloves, location=s.cupboard, quantity="-2", reason="count: two boxes torn",
                     actor=s.manager)
    inventory.adjust(db.session, item=s.gloves, location=s.room, quantity="1", reason="found in drawer",
                     actor=s.manager)
    assert inventory.on_hand(db.session, s.gloves) == Decimal("28")
    assert inventory.on_hand(db.session, s.gloves, s.cupboard) == Decimal("24")
    assert inventory.on_hand(db.session, s.gloves, s.room) == Decimal("4")
    levels = {(lv.location.name, lv.lot): lv.quantity for lv in inventory.stock_levels(db.session, item=s.gloves)}
    assert levels == {("Supply cupboard", None): Decimal("24"), ("Exam room 1", None): Decimal("4")}
    history = inventory.history(db.session, s.gloves)
    assert [m.kind for m in history] == ["adjust", "adjust", "issue", "transfer", "receive"]
    assert history[2].created_by_fk == s.desk.id and history[-1].supplier_id == s.supplier.id
    assert history[1].signed_quantity == Decimal("-2") and history[0].signed_quantity == Decimal("1")


def test_issue_takes_the_lot_that_expires_first_and_splits_across_lots(app):
    s = make_stock()
    receive_vaccine(s, "LATE", TODAY + timedelta(days=300), 10)
    receive_vaccine(s, "SOON", TODAY + timedelta(days=20), 3)
    receive_vaccine(s, "MID", TODAY + timedelta(days=100), 5)
    out = inventory.issue(db.session, item=s.vaccine, location=s.fridge, quantity=6, actor=s.desk, today=TODAY)
    assert [(m.lot.lot_number, m.quantity) for m in out] == [("SOON", Decimal("3")), ("MID", Decimal("3"))]
    by_lot = {lv.lot.lot_number: lv.quantity for lv in inventory.stock_levels(db.session, item=s.vaccine)}
    assert by_lot == {"MID": Decimal("2"), "LATE": Decimal("10")}


def test_receiving_the_same_lot_again_adds_to_it(app):
    s = make_stock()
    receive_vaccine(s, "A1", TODAY + timedelta(days=90), 5)
    receive_vaccine(s, "A1", TODAY + timedelta(days=90), 5)
    assert lots() == 1
    lot = db.session.scalar(select(StockLot))
    assert inventory.on_hand(db.session, s.vaccine, s.fridge, lot) == Decimal("10")


def test_expired_lots_are_never_issued_and_dispose_expired_moves_them_out(app):
    s = make_stock()
    receive_vaccine(s, "OLD", TODAY + timedelta(days=5), 4)
    receive_vaccine(s, "NEW", TODAY + timedelta(days=200), 2)
    later = TODAY + timedelta(days=10)  # OLD has expired by then
    assert [lv.lot.lot_number for lv in inventory.expired(db.session, today=later)] == ["OLD"]
    assert [lv.lot.lot_number for lv in inventory.expiring(db.session, within_days=30, today=TODAY)] == ["OLD"]
    before = movements()
    with pytest.raises(ValidationFailed) as err:
        inventory.issue(db.session, item=s.vaccine, location=s.fridge, quantity=3, actor=s.desk, today=later)
    text = str(err.value)
    assert "Only 2 dose on hand at Vaccine fridge" in text and "4 dose there have expired" in text
    assert movements() == before
    gone = inventory.dispose_expired(db.session, item=s.vaccine, location=s.fridge, actor=s.manager, today=later)
    assert [(m.kind, m.lot.lot_number, m.quantity) for m in gone] == [("dispose", "OLD", Decimal("4"))]
    assert inventory.expired(db.session, today=later) == []
    with pytest.raises(ValidationFailed, match="There is no expired stock of this item at Vaccine fridge"):
        inventory.dispose_expired(db.session, item=s.vaccine, location=s.fridge, actor=s.manager, today=later)


def test_return_to_supplier_and_low_stock(app):
    s = make_stock()
    inventory.receive(db.session, item=s.gloves, location=s.cupboard, quantity=8, actor=s.manager, today=TODAY)
    assert inventory.low_stock(db.session) == [(s.vaccine, Decimal("0"))]  # gloves 8 > 5
    out = inventory.return_to_supplier(db.session, item=s.gloves, location=s.cupboard, quantity=3,
                                       reason="wrong size", actor=s.manager, today=TODAY)
    assert out[0].kind == "return" and out[0].supplier_id == s.supplier.id
    assert inventory.low_stock(db.session) == [(s.vaccine, Decimal("0")), (s.gloves, Decimal("5"))]  # by name


def test_movements_of_setup_rows_are_audited_without_a_patient(app):
    s = make_stock()
    inventory.receive(db.session, item=s.gloves, location=s.cupboard, quantity=8, actor=s.manager, today=TODAY)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type.in_(
        ("InventoryItem", "StockMovement", "Supplier", "StockLocation")))).all()
    kinds = {(e.object_type, e.action) for e in events}
    assert {("InventoryItem", "create"), ("StockMovement", "create"), ("Supplier", "create"),
            ("StockLocation", "create")} <= kinds
    assert all(e.patient_id is None for e in events)


# --------------------------------------------------------------------------- bad input: message, nothing changed

def _refused(call, field, message):
    before = (movements(), lots())
    with pytest.raises(ValidationFailed) as err:
        call()
    assert any(f == field and message in str(m) for f, m in err.value.problems), err.value.problems
    assert (movements(), lots()) == before
    return err.value


@pytest.mark.parametrize("qty, message", [
    ("0", "The quantity cannot be zero."),
    ("-3", "The quantity must be more than zero."),
    ("1.234", "Enter the quantity with at most two decimals."),
    ("lots", "Enter the quantity as a number, for example 10."),
    ("", "Enter the quantity as a number, for example 10."),
])
def test_bad_quantities_are_refused(app, qty, message):
    s = make_stock()
    _refused(lambda: inventory.receive(db.session, item=s.gloves, location=s.cupboard, quantity=qty,
                                       actor=s.manager, today=TODAY), "quantity", message)
    _refused(lambda: inventory.issue(db.session, item=s.gloves, location=s.cupboard, quantity=qty,
                                     actor=s.manager, today=TODAY), "quantity", message)


def test_lot_tracked_receipts_need_a_lot_and_an_expiry_that_has_not_passed(app):
    s = make_stock()
    _refused(lambda: receive_vaccine(s, "X1", TODAY - timedelta(days=1), 5), "expiry_date",
             "This expiry date has passed: expired stock cannot be received.")
    _refused(lambda: receive_vaccine(s, "", TODAY + timedelta(days=1), 5), "lot_number",
             "This item is tracked by lot: enter the lot number.")
    _refused(lambda: receive_vaccine(s, "X1", None, 5), "expiry_date",
             "This item is tracked by lot: enter the expiry date.")
    receive_vaccine(s, "X1", TODAY + timedelta(days=30), 5)
    _refused(lambda: receive_vaccine(s, "X1", TODAY + timedelta(days=31), 5), "expiry_date",
             "Lot X1 is on file with another expiry date")
    _refused(lambda: inventory.receive(db.session, item=s.gloves, location=s.cupboard, quantity=1, lot_number="L",
                                       expiry_date=TODAY, actor=s.manager, today=TODAY), "lot_number",
             "This item is not tracked by lot")


def test_issuing_more_than_on_hand_is_refused(app):
    s = make_stock()
    inventory.receive(db.session, item=s.gloves, location=s.cupboard, quantity=2, actor=s.manager, today=TODAY)
    _refused(lambda: inventory.issue(db.session, item=s.gloves, location=s.cupboard, quantity=3, actor=s.desk,
                                     today=TODAY), "quantity",
             "Only 2 box on hand at Supply cupboard: nothing was changed.")
    _refused(lambda: inventory.issue(db.session, item=s.gloves, location=s.room, quantity=1, actor=s.desk,
                                     today=TODAY), "quantity", "Only 0 box on hand at Exam room 1")
    _refused(lambda: inventory.adjust(db.session, item=s.gloves, location=s.cupboard, quantity=-3, reason="count",
                                      actor=s.manager), "quantity", "Only 2 box on hand")
    assert inventory.on_hand(db.session, s.gloves) == Decimal("2")


def test_transfer_to_the_same_location_and_unknown_lots_are_refused(app):
    s = make_stock()
    receive_vaccine(s, "V1", TODAY + timedelta(days=60), 5)
    _refused(lambda: inventory.transfer(db.session, item=s.vaccine, from_location=s.fridge, to_location=s.fridge,
                                        quantity=1, actor=s.manager, today=TODAY), "to_location",
             "Choose two different locations.")
    _refused(lambda: inventory.transfer(db.session, item=s.vaccine, from_location=s.fridge, to_location=s.room,
                                        quantity=1, lot="NOPE", actor=s.manager, today=TODAY), "lot",
             "Lot NOPE is not on file for this item.")
    _refused(lambda: inventory.return_to_supplier(db.session, item=s.vaccine, location=s.fridge, quantity=1,
                                                  lot="NOPE", actor=s.manager, today=TODAY), "lot",
             "Lot NOPE is not on file for this item.")
    _refused(lambda: inventory.adjust(db.session, item=s.vaccine, location=s.fridge, quantity=1, lot="NOPE",
                                      reason="found", actor=s.manager), "lot", "Lot NOPE is not on file")
    moved = inventory.transfer(db.session, item=s.vaccine, from_location=s.fridge, to_location=s.room, quantity=2,
                               lot="V1", actor=s.manager, today=TODAY)
    assert moved[0].lot.lot_number == "V1" and inventory.on_hand(db.session, s.vaccine, s.room) == Decimal("2")


def test_adjustments_need_a_reason(app):
    s = make_stock()
    for reason in (None, "", "   "):
        _refused(lambda: inventory.adjust(db.session, item=s.gloves, location=s.cupboard, quantity=2, reason=reason,
                                          actor=s.manager), "reason", "Give the reason for this adjustment.")


# --------------------------------------------------------------------------- controlled substances

def receive_drug(s, witness, qty=30, actor=None):
    return inventory.receive(db.session, item=s.drug, location=s.cupboard, quantity=qty, lot_number="CS-1",
                             expiry_date=TODAY + timedelta(days=365), actor=actor or s.manager,
                             confirmed_by=witness, today=TODAY)


def failed_witness_events():
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "inventory_witness_failed")).all()


def test_controlled_movements_store_who_made_and_who_confirmed_them(app):
    s = make_stock()
    received = receive_drug(s, Witness("officemanager2", PASSWORD))
    assert received.created_by_fk == s.manager.id and received.confirmed_by_fk == s.manager2.id
    issued = inventory.issue(db.session, item=s.drug, location=s.cupboard, quantity=2, actor=s.desk,
                             confirmed_by=Witness("officemanager1", PASSWORD), today=TODAY)
    assert issued[0].created_by_fk == s.desk.id and issued[0].confirmed_by_fk == s.manager.id
    assert issued[0].confirmed_by.username == "officemanager1"
    assert inventory.on_hand(db.session, s.drug) == Decimal("28")


@pytest.mark.parametrize("witness, field, message, reason", [
    (None, "witness_username", "This is a controlled substance: a second person must confirm", None),
    (Witness("", ""), "witness_username", "This is a controlled substance", None),
    (Witness("officemanager2", "wrong password!"), "witness_password",
     "The witness's username or password is wrong.", "wrong password"),
    (Witness("nobody", PASSWORD), "witness_password", "The witness's username or password is wrong.",
     "unknown user"),
    (Witness("officemanager1", PASSWORD), "witness_username",
     "The witness must be a different person from the one making the movement.", "same user"),
    (Witness("frontdesk1", PASSWORD), "witness_username", "frontdesk1 may not confirm inventory movements.",
     "not allowed"),
])
def test_controlled_movements_without_a_good_witness_are_refused_and_audited(app, witness, field, message, reason):
    s = make_stock()
    _refused(lambda: receive_drug(s, witness), field, message)
    events = failed_witness_events()
    if reason is None:
        assert events == []
    else:
        assert len(events) == 1 and events[0].flagged and reason in events[0].details
        assert "wrong password!" not in (events[0].details or "")
    # a wrong password counts towards the witness's lockout, like a failed sign-in; nothing else does
    db.session.expire_all()
    assert (db.session.get(type(s.manager2), s.manager2.id).fail_login_count or 0) == (reason == "wrong password")


def test_wrong_witness_passwords_lock_the_witness_out_like_failed_sign_ins(app):
    s = make_stock()
    threshold = app.config["AUTH_LOCKOUT_THRESHOLD"]
    for _ in range(threshold):
        _refused(lambda: receive_drug(s, Witness("officemanager2", "guess")), "witness_password",
                 "The witness's username or password is wrong.")
    db.session.expire_all()
    assert db.session.get(type(s.manager2), s.manager2.id).locked_at is not None
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "lockout")).one().object_id == \
        str(s.manager2.id)
    _refused(lambda: receive_drug(s, Witness("officemanager2", PASSWORD)), "witness_username",
             "The witness's account is disabled or locked.")


def test_a_disabled_witness_is_refused(app):
    s = make_stock()
    s.manager2.active = False
    db.session.commit()
    _refused(lambda: receive_drug(s, Witness("officemanager2", PASSWORD)), "witness_username",
             "The witness's account is disabled or locked.")


def test_every_kind_of_controlled_movement_needs_the_witness(app):
    s = make_stock()
    receive_drug(s, Witness("officemanager2", PASSWORD))
    calls = [
        lambda w: inventory.issue(db.session, item=s.drug, location=s.cupboard, quantity=1, actor=s.manager,
                                  confirmed_by=w, today=TODAY),
        lambda w: inventory.transfer(db.session, item=s.drug, from_location=s.cupboard, to_location=s.room,
                                     quantity=1, actor=s.manager, confirmed_by=w, today=TODAY),
        lambda w: inventory.adjust(db.session, item=s.drug, location=s.cupboard, quantity=-1, lot="CS-1",
                                   reason="count", actor=s.manager, confirmed_by=w),
        lambda w: inventory.return_to_supplier(db.session, item=s.drug, location=s.cupboard, quantity=1,
                                               actor=s.manager, confirmed_by=w, today=TODAY),
    ]
    for call in calls:
        _refused(lambda: call(None), "witness_username", "This is a controlled substance")
        call(Witness("officemanager2", PASSWORD))
    assert inventory.on_hand(db.session, s.drug) == Decimal("27")
    assert all(m.confirmed_by_fk == s.manager2.id for m in inventory.history(db.session, s.drug))


# --------------------------------------------------------------------------- demo data

def test_demo_inventory_goes_through_the_rules_once(app):
    make_user("OfficeManager")
    make_user("Admin")  # the witness of the controlled receipts
    stats = inventory.seed_demo(db.session)
    assert stats == {"inventory_items": 9, "stock_movements": 20}
    assert [i.sku for i, _qty in inventory.low_stock(db.session)] == ["ALC-PREP", "SAN-500"]
    assert [lv.lot.lot_number for lv in inventory.expiring(db.session)] == ["FLU-24A17"]
    assert [lv.lot.lot_number for lv in inventory.expired(db.session)] == ["TD-9921"]
    controlled = db.session.scalars(select(StockMovement).join(InventoryItem).where(InventoryItem.controlled)).all()
    assert controlled and all(m.confirmed_by_fk is not None for m in controlled)
    assert inventory.seed_demo(db.session) == {}
