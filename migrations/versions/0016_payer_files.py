"""payer files: 835 remittances, 999 and 277CA acknowledgements as received

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 17:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payer_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=5), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('received_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_by_fk', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('processed_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('processed_by_fk', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('835', '999', '277CA')", name='ck_payer_file_kind'),
    sa.CheckConstraint("status IN ('received', 'posted', 'applied', 'failed')", name='ck_payer_file_status'),
    sa.ForeignKeyConstraint(['batch_id'], ['claim_batch.id'], ),
    sa.ForeignKeyConstraint(['processed_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['received_by_fk'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    with op.batch_alter_table('payer_file', schema=None) as batch_op:
        batch_op.create_index('ix_payer_file_batch', ['batch_id'], unique=False)
        batch_op.create_index('ix_payer_file_received', ['received_at'], unique=False)
        batch_op.create_index('ix_payer_file_status', ['status', 'received_at'], unique=False)


def downgrade():
    with op.batch_alter_table('payer_file', schema=None) as batch_op:
        batch_op.drop_index('ix_payer_file_status')
        batch_op.drop_index('ix_payer_file_received')
        batch_op.drop_index('ix_payer_file_batch')

    op.drop_table('payer_file')
