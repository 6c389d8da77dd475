"""Inventory core: suppliers, stock locations, items, lots and stock movements.

Stock on hand is never stored: it is the sum of the movements (what came into a location minus
what left it). Every rule (FEFO, no negative stock, witnesses for controlled substances) lives in
app/services/inventory.py; the database guards the vocabularies, positive quantities and the
shape of each movement kind (which locations it names).

Inventory is not patient data: changes are still written to the audit trail (no patient link).
"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from .base import AuditMixin, Model, UTCDateTime, utcnow

QTY = Numeric(10, 2)
LOCATION_KINDS = ("room", "cupboard", "fridge", "other")
LOCATION_KIND_LABELS = {
    "room": _l("Room"),
    "cupboard": _l("Cupboard"),
    "fridge": _l("Fridge"),
    "other": _l("Other"),
}
MOVEMENT_KINDS = ("receive", "issue", "transfer", "adjust", "return", "dispose")
MOVEMENT_KIND_LABELS = {
    "receive": _l("Receive"),
    "issue": _l("Issue / use"),
    "transfer": _l("Transfer"),
    "adjust": _l("Adjust"),
    "return": _l("Return to supplier"),
    "dispose": _l("Dispose expired"),
}


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class _Audited:
    """Changes go into the audit trail (app/services/audit.py) without a patient."""

    __audit_patient__ = "audit_patient_id"
    audit_patient_id = None


class Supplier(_Audited, AuditMixin, Model):
    __tablename__ = "supplier"

    id = Column(Integer, primary_key=True)
    name = Column(String(150), nullable=False, unique=True)
    contact = Column(String(100))
    phone = Column(String(30))
    email = Column(String(120))
    address = Column(String(400))
    account_number = Column(String(50))
    active = Column(Boolean, nullable=False, default=True)
    version = Column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    def __str__(self):
        return self.name


class StockLocation(_Audited, AuditMixin, Model):
    """Where stock is kept: a room, a cupboard, a fridge."""

    __tablename__ = "stock_location"
    __table_args__ = (CheckConstraint(_in("kind", LOCATION_KINDS), name="ck_stock_location_kind"),)

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    kind = Column(String(10), nullable=False, default="cupboard")
    active = Column(Boolean, nullable=False, default=True)
    version = Column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    def __str__(self):
        return self.name


class InventoryItem(_Audited, AuditMixin, Model):
    __tablename__ = "inventory_item"
    __table_args__ = (
        Index("ix_inventory_item_name", "name"),
        CheckConstraint("pack_size > 0", name="ck_inventory_item_pack_size"),
        CheckConstraint("reorder_point >= 0", name="ck_inventory_item_reorder_point"),
        CheckConstraint("reorder_quantity >= 0", name="ck_inventory_item_reorder_quantity"),
    )

    id = Column(Integer, primary_key=True)
    name = Column(String(150), nullable=False)
    sku = Column(String(50), nullable=False, unique=True)
    category = Column(String(50))
    unit = Column(String(20), nullable=False, default="each")  # unit of measure: each, box, vial, mL...
    pack_size = Column(Integer, nullable=False, default=1)  # units per purchased pack
    reorder_point = Column(QTY, nullable=False, default=0)  # low stock at or below this
    reorder_quantity = Column(QTY, nullable=False, default=0)
    preferred_supplier_id = Column(Integer, ForeignKey("supplier.id"))
    lot_tracked = Column(Boolean, nullable=False, default=False)
    controlled = Column(Boolean, nullable=False, default=False)  # every movement needs a witness
    active = Column(Boolean, nullable=False, default=True)
    version = Column(Integer, nullable=False)

    preferred_supplier = relationship("Supplier")
    lots = relationship("StockLot", back_populates="item", order_by="StockLot.expiry_date")

    __mapper_args__ = {"version_id_col": version}

    def __str__(self):
        return f"{self.name} ({self.sku})"


class StockLot(_Audited, Model):
    __tablename__ = "stock_lot"
    __table_args__ = (
        UniqueConstraint("item_id", "lot_number", name="uq_stock_lot_item_number"),
        Index("ix_stock_lot_expiry", "expiry_date"),
    )

    id = Column(Integer, primary_key=True)
    item_id = Column(Integer, ForeignKey("inventory_item.id"), nullable=False)
    lot_number = Column(String(50), nullable=False)
    expiry_date = Column(Date, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    item = relationship("InventoryItem", back_populates="lots")

    def __str__(self):
        return self.lot_number


# Which locations each kind names: receive brings stock in, issue/return/dispose take it out,
# transfer moves it, adjust does either (to = +, from = −) and always has a reason.
_SHAPE = (
    "(kind = 'receive' AND from_location_id IS NULL AND to_location_id IS NOT NULL)"
    " OR (kind IN ('issue', 'return', 'dispose') AND from_location_id IS NOT NULL AND to_location_id IS NULL)"
    " OR (kind = 'transfer' AND from_location_id IS NOT NULL AND to_location_id IS NOT NULL"
    " AND from_location_id <> to_location_id)"
    " OR (kind = 'adjust' AND reason IS NOT NULL AND ((from_location_id IS NULL AND to_location_id IS NOT NULL)"
    " OR (from_location_id IS NOT NULL AND to_location_id IS NULL)))"
)


class StockMovement(_Audited, Model):
    """One change of stock; never edited or deleted (a mistake is corrected by an adjustment)."""

    __tablename__ = "stock_movement"
    __table_args__ = (
        Index("ix_stock_movement_item", "item_id", "created_at"),
        Index("ix_stock_movement_lot", "lot_id"),
        Index("ix_stock_movement_from", "from_location_id"),
        Index("ix_stock_movement_to", "to_location_id"),
        Index("ix_stock_movement_po_line", "purchase_order_line_id"),
        CheckConstraint(_in("kind", MOVEMENT_KINDS), name="ck_stock_movement_kind"),
        CheckConstraint("quantity > 0", name="ck_stock_movement_quantity"),
        CheckConstraint(_SHAPE, name="ck_stock_movement_shape"),
        CheckConstraint("confirmed_by_fk IS NULL OR confirmed_by_fk <> created_by_fk",
                        name="ck_stock_movement_witness"),
    )

    id = Column(Integer, primary_key=True)
    kind = Column(String(10), nullable=False)
    item_id = Column(Integer, ForeignKey("inventory_item.id"), nullable=False)
    lot_id = Column(Integer, ForeignKey("stock_lot.id"))
    from_location_id = Column(Integer, ForeignKey("stock_location.id"))
    to_location_id = Column(Integer, ForeignKey("stock_location.id"))
    quantity = Column(QTY, nullable=False)
    reason = Column(String(200))
    supplier_id = Column(Integer, ForeignKey("supplier.id"))  # receive / return
    created_by_fk = Column(Integer, ForeignKey("ab_user.id"), nullable=False)
    confirmed_by_fk = Column(Integer, ForeignKey("ab_user.id"))  # the witness (controlled items)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # The purchase order line a receipt fills (the column came in 0019, its foreign key with the table in 0020).
    purchase_order_line_id = Column(Integer, ForeignKey("purchase_order_line.id",
                                                        name="fk_stock_movement_purchase_order_line"))

    item = relationship("InventoryItem")
    lot = relationship("StockLot")
    from_location = relationship("StockLocation", foreign_keys=[from_location_id])
    to_location = relationship("StockLocation", foreign_keys=[to_location_id])
    supplier = relationship("Supplier")
    created_by = relationship("User", foreign_keys=[created_by_fk])
    confirmed_by = relationship("User", foreign_keys=[confirmed_by_fk])

    @property
    def signed_quantity(self):
        """+ for stock coming in (receive, adjust up), − for stock going out; 0 for transfers."""
        if self.kind == "transfer":
            return 0
        return self.quantity if self.to_location_id is not None else -self.quantity

    def __str__(self):
        return f"{self.kind} {self.quantity}"
