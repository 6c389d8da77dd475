"""purchase orders: orders, their lines and status history; stock_movement -> purchase_order_line

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa

import app.models.base


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('purchase_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('order_date', sa.Date(), nullable=False),
    sa.Column('expected_date', sa.Date(), nullable=True),
    sa.Column('notes', sa.String(length=1000), nullable=True),
    sa.Column('sent_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_by_fk', sa.Integer(), nullable=True),
    sa.Column('received_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_fk', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sa.String(length=300), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_fk', sa.Integer(), nullable=True),
    sa.Column('changed_by_fk', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'sent', 'partly_received', 'received', 'cancelled')",
                       name='ck_purchase_order_status'),
    sa.ForeignKeyConstraint(['cancelled_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['changed_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['created_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['sent_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.create_index('ix_purchase_order_status', ['status', 'order_date'], unique=False)
        batch_op.create_index('ix_purchase_order_supplier', ['supplier_id', 'order_date'], unique=False)

    op.create_table('purchase_order_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purchase_order_id', sa.Integer(), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('unit_cost', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.CheckConstraint('quantity > 0', name='ck_purchase_order_line_quantity'),
    sa.CheckConstraint('unit_cost >= 0', name='ck_purchase_order_line_cost'),
    sa.ForeignKeyConstraint(['item_id'], ['inventory_item.id'], ),
    sa.ForeignKeyConstraint(['purchase_order_id'], ['purchase_order.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('purchase_order_id', 'line_number', name='uq_purchase_order_line_number')
    )
    with op.batch_alter_table('purchase_order_line', schema=None) as batch_op:
        batch_op.create_index('ix_purchase_order_line_item', ['item_id'], unique=False)

    op.create_table('purchase_order_status_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purchase_order_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('changed_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by_fk', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['changed_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['purchase_order_id'], ['purchase_order.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('purchase_order_status_change', schema=None) as batch_op:
        batch_op.create_index('ix_purchase_order_status_change_order', ['purchase_order_id'], unique=False)

    # The receipts of an order line: the column came with 0019, its foreign key comes with the table.
    # (SQLite cannot add a constraint to a table: batch mode copies the table, CHECKs included.)
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_stock_movement_purchase_order_line', 'purchase_order_line',
                                    ['purchase_order_line_id'], ['id'])


def downgrade():
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.drop_constraint('fk_stock_movement_purchase_order_line', type_='foreignkey')
    with op.batch_alter_table('purchase_order_status_change', schema=None) as batch_op:
        batch_op.drop_index('ix_purchase_order_status_change_order')
    op.drop_table('purchase_order_status_change')
    with op.batch_alter_table('purchase_order_line', schema=None) as batch_op:
        batch_op.drop_index('ix_purchase_order_line_item')
    op.drop_table('purchase_order_line')
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.drop_index('ix_purchase_order_supplier')
        batch_op.drop_index('ix_purchase_order_status')
    op.drop_table('purchase_order')
