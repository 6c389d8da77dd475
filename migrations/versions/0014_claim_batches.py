"""claim batches: the 837P interchanges sent (claim_batch, claim_batch_claim); GS02/GS03 codes in the
billing settings

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 17:50:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('claim_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('interchange_control_number', sa.Integer(), nullable=False),
    sa.Column('group_control_number', sa.Integer(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_fk', sa.Integer(), nullable=True),
    sa.Column('claim_count', sa.Integer(), nullable=False),
    sa.Column('total_charge', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.CheckConstraint('claim_count > 0', name='ck_claim_batch_count'),
    sa.CheckConstraint('total_charge >= 0', name='ck_claim_batch_total'),
    sa.ForeignKeyConstraint(['created_by_fk'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('claim_batch', schema=None) as batch_op:
        batch_op.create_index('ix_claim_batch_created', ['created_at'], unique=False)
        batch_op.create_index('ix_claim_batch_group', ['group_control_number'], unique=False)
        batch_op.create_index('ix_claim_batch_interchange', ['interchange_control_number'], unique=False)

    op.create_table('claim_batch_claim',
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['claim_batch.id'], ),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
    sa.PrimaryKeyConstraint('batch_id', 'claim_id')
    )
    with op.batch_alter_table('claim_batch_claim', schema=None) as batch_op:
        batch_op.create_index('ix_claim_batch_claim_claim', ['claim_id'], unique=False)

    with op.batch_alter_table('billing_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gs02_sender_code', sa.String(length=15), nullable=True))
        batch_op.add_column(sa.Column('gs03_receiver_code', sa.String(length=15), nullable=True))


def downgrade():
    with op.batch_alter_table('billing_settings', schema=None) as batch_op:
        batch_op.drop_column('gs03_receiver_code')
        batch_op.drop_column('gs02_sender_code')

    with op.batch_alter_table('claim_batch_claim', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_batch_claim_claim')

    op.drop_table('claim_batch_claim')
    with op.batch_alter_table('claim_batch', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_batch_interchange')
        batch_op.drop_index('ix_claim_batch_group')
        batch_op.drop_index('ix_claim_batch_created')

    op.drop_table('claim_batch')
