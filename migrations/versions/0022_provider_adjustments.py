"""provider adjustments: the PLB segments of a payer payment (interest, recoupments, forwarding balances ...)

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=10, scale=2)


def upgrade():
    op.create_table('provider_adjustment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payer_payment_id', sa.Integer(), nullable=False),
    sa.Column('reason_code', sa.String(length=2), nullable=False),
    sa.Column('reference', sa.String(length=50), nullable=True),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('fiscal_period_date', sa.Date(), nullable=True),
    sa.Column('created_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_fk', sa.Integer(), nullable=True),
    sa.Column('changed_by_fk', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['payer_payment_id'], ['payer_payment.id'], ),
    sa.ForeignKeyConstraint(['created_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['changed_by_fk'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('provider_adjustment', schema=None) as batch_op:
        batch_op.create_index('ix_provider_adjustment_payment', ['payer_payment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('provider_adjustment', schema=None) as batch_op:
        batch_op.drop_index('ix_provider_adjustment_payment')
    op.drop_table('provider_adjustment')
