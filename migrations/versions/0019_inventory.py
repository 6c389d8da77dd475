"""inventory core: suppliers, stock locations, items, lots, stock movements

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa

import app.models.base


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_SHAPE = (
    "(kind = 'receive' AND from_location_id IS NULL AND to_location_id IS NOT NULL)"
    " OR (kind IN ('issue', 'return', 'dispose') AND from_location_id IS NOT NULL AND to_location_id IS NULL)"
    " OR (kind = 'transfer' AND from_location_id IS NOT NULL AND to_location_id IS NOT NULL"
    " AND from_location_id <> to_location_id)"
    " OR (kind = 'adjust' AND reason IS NOT NULL AND ((from_location_id IS NULL AND to_location_id IS NOT NULL)"
    " OR (from_location_id IS NOT NULL AND to_location_id IS NULL)))"
)


def _audit_columns():
    return [
        sa.Column('created_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('changed_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by_fk', sa.Integer(), nullable=True),
        sa.Column('changed_by_fk', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['changed_by_fk'], ['ab_user.id'], ),
        sa.ForeignKeyConstraint(['created_by_fk'], ['ab_user.id'], ),
    ]


def upgrade():
    op.create_table('supplier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('contact', sa.String(length=100), nullable=True),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('email', sa.String(length=120), nullable=True),
    sa.Column('address', sa.String(length=400), nullable=True),
    sa.Column('account_number', sa.String(length=50), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    *_audit_columns(),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )

    op.create_table('stock_location',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    *_audit_columns(),
    sa.CheckConstraint("kind IN ('room', 'cupboard', 'fridge', 'other')", name='ck_stock_location_kind'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )

    op.create_table('inventory_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('sku', sa.String(length=50), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('pack_size', sa.Integer(), nullable=False),
    sa.Column('reorder_point', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('reorder_quantity', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('preferred_supplier_id', sa.Integer(), nullable=True),
    sa.Column('lot_tracked', sa.Boolean(), nullable=False),
    sa.Column('controlled', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    *_audit_columns(),
    sa.CheckConstraint('pack_size > 0', name='ck_inventory_item_pack_size'),
    sa.CheckConstraint('reorder_point >= 0', name='ck_inventory_item_reorder_point'),
    sa.CheckConstraint('reorder_quantity >= 0', name='ck_inventory_item_reorder_quantity'),
    sa.ForeignKeyConstraint(['preferred_supplier_id'], ['supplier.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sku')
    )
    with op.batch_alter_table('inventory_item', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_item_name', ['name'], unique=False)

    op.create_table('stock_lot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('lot_number', sa.String(length=50), nullable=False),
    sa.Column('expiry_date', sa.Date(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['inventory_item.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id', 'lot_number', name='uq_stock_lot_item_number')
    )
    with op.batch_alter_table('stock_lot', schema=None) as batch_op:
        batch_op.create_index('ix_stock_lot_expiry', ['expiry_date'], unique=False)

    op.create_table('stock_movement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('from_location_id', sa.Integer(), nullable=True),
    sa.Column('to_location_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('supplier_id', sa.Integer(), nullable=True),
    sa.Column('created_by_fk', sa.Integer(), nullable=False),
    sa.Column('confirmed_by_fk', sa.Integer(), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('purchase_order_line_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('receive', 'issue', 'transfer', 'adjust', 'return', 'dispose')",
                       name='ck_stock_movement_kind'),
    sa.CheckConstraint('quantity > 0', name='ck_stock_movement_quantity'),
    sa.CheckConstraint(_SHAPE, name='ck_stock_movement_shape'),
    sa.CheckConstraint('confirmed_by_fk IS NULL OR confirmed_by_fk <> created_by_fk', name='ck_stock_movement_witness'),
    sa.ForeignKeyConstraint(['confirmed_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['created_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['from_location_id'], ['stock_location.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['inventory_item.id'], ),
    sa.ForeignKeyConstraint(['lot_id'], ['stock_lot.id'], ),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], ),
    sa.ForeignKeyConstraint(['to_location_id'], ['stock_location.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.create_index('ix_stock_movement_item', ['item_id', 'created_at'], unique=False)
        batch_op.create_index('ix_stock_movement_lot', ['lot_id'], unique=False)
        batch_op.create_index('ix_stock_movement_from', ['from_location_id'], unique=False)
        batch_op.create_index('ix_stock_movement_to', ['to_location_id'], unique=False)
        batch_op.create_index('ix_stock_movement_po_line', ['purchase_order_line_id'], unique=False)


def downgrade():
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_movement_po_line')
        batch_op.drop_index('ix_stock_movement_to')
        batch_op.drop_index('ix_stock_movement_from')
        batch_op.drop_index('ix_stock_movement_lot')
        batch_op.drop_index('ix_stock_movement_item')
    op.drop_table('stock_movement')
    with op.batch_alter_table('stock_lot', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_lot_expiry')
    op.drop_table('stock_lot')
    with op.batch_alter_table('inventory_item', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_item_name')
    op.drop_table('inventory_item')
    op.drop_table('stock_location')
    op.drop_table('supplier')
