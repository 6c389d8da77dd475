"""payments: payer payments, claim and line postings, adjustments, patient payments

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=10, scale=2)


def _audit_columns():
    return [
        sa.Column('created_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('changed_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by_fk', sa.Integer(), sa.ForeignKey('ab_user.id'), nullable=True),
        sa.Column('changed_by_fk', sa.Integer(), sa.ForeignKey('ab_user.id'), nullable=True),
    ]


def upgrade():
    op.create_table('payer_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payer_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('reference', sa.String(length=50), nullable=False),
    sa.Column('paid_date', sa.Date(), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.Column('posted_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('posted_by_fk', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    *_audit_columns(),
    sa.CheckConstraint("method IN ('check', 'eft', 'none')", name='ck_payer_payment_method'),
    sa.CheckConstraint("source IN ('manual', '835')", name='ck_payer_payment_source'),
    sa.ForeignKeyConstraint(['payer_id'], ['payer.id'], ),
    sa.ForeignKeyConstraint(['posted_by_fk'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('file_sha256'),
    sa.UniqueConstraint('payer_id', 'reference', name='uq_payer_payment_reference')
    )
    with op.batch_alter_table('payer_payment', schema=None) as batch_op:
        batch_op.create_index('ix_payer_payment_paid_date', ['paid_date'], unique=False)

    op.create_table('claim_posting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payer_payment_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.String(length=2), nullable=False),
    sa.Column('charge', MONEY, nullable=False),
    sa.Column('paid', MONEY, nullable=False),
    sa.Column('patient_responsibility', MONEY, nullable=False),
    sa.Column('payer_claim_control_number', sa.String(length=50), nullable=True),
    sa.Column('remarks', sa.String(length=200), nullable=True),
    sa.Column('posted_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    *_audit_columns(),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
    sa.ForeignKeyConstraint(['payer_payment_id'], ['payer_payment.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('claim_posting', schema=None) as batch_op:
        batch_op.create_index('ix_claim_posting_claim', ['claim_id'], unique=False)
        batch_op.create_index('ix_claim_posting_payment', ['payer_payment_id'], unique=False)

    op.create_table('line_posting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_posting_id', sa.Integer(), nullable=False),
    sa.Column('claim_line_id', sa.Integer(), nullable=False),
    sa.Column('paid', MONEY, nullable=False),
    sa.Column('allowed', MONEY, nullable=True),
    sa.Column('remarks', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['claim_line_id'], ['claim_line.id'], ),
    sa.ForeignKeyConstraint(['claim_posting_id'], ['claim_posting.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('line_posting', schema=None) as batch_op:
        batch_op.create_index('ix_line_posting_claim_line', ['claim_line_id'], unique=False)
        batch_op.create_index('ix_line_posting_claim_posting', ['claim_posting_id'], unique=False)

    op.create_table('posting_adjustment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_posting_id', sa.Integer(), nullable=False),
    sa.Column('line_posting_id', sa.Integer(), nullable=True),
    sa.Column('group_code', sa.String(length=2), nullable=False),
    sa.Column('reason_code', sa.String(length=5), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('quantity', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.CheckConstraint("group_code IN ('CO', 'PR', 'OA', 'PI', 'CR')", name='ck_posting_adjustment_group'),
    sa.ForeignKeyConstraint(['claim_posting_id'], ['claim_posting.id'], ),
    sa.ForeignKeyConstraint(['line_posting_id'], ['line_posting.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('posting_adjustment', schema=None) as batch_op:
        batch_op.create_index('ix_posting_adjustment_claim_posting', ['claim_posting_id'], unique=False)
        batch_op.create_index('ix_posting_adjustment_line_posting', ['line_posting_id'], unique=False)

    op.create_table('patient_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receipt_number', sa.String(length=20), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=True),
    sa.Column('received_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_by_fk', sa.Integer(), nullable=True),
    sa.Column('voided', sa.Boolean(), nullable=False),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    *_audit_columns(),
    sa.CheckConstraint('amount > 0', name='ck_patient_payment_amount'),
    sa.CheckConstraint("method IN ('cash', 'card', 'check', 'other')", name='ck_patient_payment_method'),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['received_by_fk'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('receipt_number')
    )
    with op.batch_alter_table('patient_payment', schema=None) as batch_op:
        batch_op.create_index('ix_patient_payment_claim', ['claim_id'], unique=False)
        batch_op.create_index('ix_patient_payment_patient', ['patient_id', 'received_at'], unique=False)
        batch_op.create_index('ix_patient_payment_received', ['received_at'], unique=False)


def downgrade():
    with op.batch_alter_table('patient_payment', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_payment_received')
        batch_op.drop_index('ix_patient_payment_patient')
        batch_op.drop_index('ix_patient_payment_claim')
    op.drop_table('patient_payment')
    with op.batch_alter_table('posting_adjustment', schema=None) as batch_op:
        batch_op.drop_index('ix_posting_adjustment_line_posting')
        batch_op.drop_index('ix_posting_adjustment_claim_posting')
    op.drop_table('posting_adjustment')
    with op.batch_alter_table('line_posting', schema=None) as batch_op:
        batch_op.drop_index('ix_line_posting_claim_posting')
        batch_op.drop_index('ix_line_posting_claim_line')
    op.drop_table('line_posting')
    with op.batch_alter_table('claim_posting', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_posting_payment')
        batch_op.drop_index('ix_claim_posting_claim')
    op.drop_table('claim_posting')
    with op.batch_alter_table('payer_payment', schema=None) as batch_op:
        batch_op.drop_index('ix_payer_payment_paid_date')
    op.drop_table('payer_payment')
