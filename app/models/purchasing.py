"""Purchase orders: a supplier's order, its lines and its status history.

Quantities are in the item's stock **units** (InventoryItem.unit: "box", "vial", "each"...), the
same unit as on-hand quantities and receive movements; the unit cost is the price of one such
unit. What was received on a line is not stored here: it is the sum of the receive movements
(`stock_movement.purchase_order_line_id`), so stock and order can never disagree.

The lifecycle and every rule live in app/services/purchasing.py; the database only guards the
vocabulary (statuses), positive quantities and the optimistic lock.
"""
from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import relationship

from .base import AuditMixin, Model, UTCDateTime

MONEY = Numeric(10, 2)
QUANTITY = Numeric(10, 2)
PO_STATUSES = ("draft", "sent", "partly_received", "received", "cancelled")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PurchaseOrder(AuditMixin, Model):
    __tablename__ = "purchase_order"
    __table_args__ = (
        Index("ix_purchase_order_status", "status", "order_date"),  # the list, open orders first
        Index("ix_purchase_order_supplier", "supplier_id", "order_date"),
        CheckConstraint(_in("status", PO_STATUSES), name="ck_purchase_order_status"),
    )

    id = Column(Integer, primary_key=True)
    number = Column(String(20), nullable=False, unique=True)  # "PO000042", from the counter table
    supplier_id = Column(Integer, ForeignKey("supplier.id"), nullable=False)
    status = Column(String(20), nullable=False, default="draft")
    order_date = Column(Date, nullable=False)
    expected_date = Column(Date)
    notes = Column(String(1000))
    sent_at = Column(UTCDateTime)
    sent_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    received_at = Column(UTCDateTime)  # when the last unit came in
    cancelled_at = Column(UTCDateTime)
    cancelled_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    cancel_reason = Column(String(300))
    version = Column(Integer, nullable=False)

    supplier = relationship("Supplier")
    lines = relationship("PurchaseOrderLine", back_populates="order", order_by="PurchaseOrderLine.line_number",
                         cascade="all, delete-orphan")
    status_changes = relationship("PurchaseOrderStatusChange", back_populates="order",
                                  order_by="PurchaseOrderStatusChange.id", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}
    # No patient data, but every change goes into the audit trail (under no patient).
    __audit_patient__ = "audit_patient_id"
    audit_patient_id = None

    def __str__(self):
        return self.number


class PurchaseOrderLine(Model):
    __tablename__ = "purchase_order_line"
    __table_args__ = (
        UniqueConstraint("purchase_order_id", "line_number", name="uq_purchase_order_line_number"),
        Index("ix_purchase_order_line_item", "item_id"),
        CheckConstraint("quantity > 0", name="ck_purchase_order_line_quantity"),
        CheckConstraint("unit_cost >= 0", name="ck_purchase_order_line_cost"),
    )

    id = Column(Integer, primary_key=True)
    purchase_order_id = Column(Integer, ForeignKey("purchase_order.id"), nullable=False)
    line_number = Column(Integer, nullable=False)
    item_id = Column(Integer, ForeignKey("inventory_item.id"), nullable=False)
    quantity = Column(QUANTITY, nullable=False)  # ordered, in the item's stock units
    unit_cost = Column(MONEY, nullable=False)  # price of one stock unit

    order = relationship("PurchaseOrder", back_populates="lines")
    item = relationship("InventoryItem")

    __audit_patient__ = "audit_patient_id"
    audit_patient_id = None


class PurchaseOrderStatusChange(Model):
    """When an order changed status, who changed it, and why."""

    __tablename__ = "purchase_order_status_change"
    __table_args__ = (Index("ix_purchase_order_status_change_order", "purchase_order_id"),)

    id = Column(Integer, primary_key=True)
    purchase_order_id = Column(Integer, ForeignKey("purchase_order.id"), nullable=False)
    from_status = Column(String(20))
    to_status = Column(String(20), nullable=False)
    changed_at = Column(UTCDateTime, nullable=False)
    changed_by_fk = Column(Integer, ForeignKey("ab_user.id"))
    note = Column(String(300))

    order = relationship("PurchaseOrder", back_populates="status_changes")
    changed_by = relationship("User", foreign_keys=[changed_by_fk], viewonly=True)

