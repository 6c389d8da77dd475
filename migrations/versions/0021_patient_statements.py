"""patient statements: the history of statements printed (number, account, reader, amounts, who, when, batch)

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=10, scale=2)


def upgrade():
    op.create_table('patient_statement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_number', sa.String(length=20), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('addressee_name', sa.String(length=300), nullable=False),
    sa.Column('to_guarantor', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=False),
    sa.Column('amount_due', MONEY, nullable=False),
    sa.Column('aged_current', MONEY, nullable=False),
    sa.Column('aged_31_60', MONEY, nullable=False),
    sa.Column('aged_61_90', MONEY, nullable=False),
    sa.Column('aged_91_120', MONEY, nullable=False),
    sa.Column('aged_121_plus', MONEY, nullable=False),
    sa.Column('printed_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('printed_by_fk', sa.Integer(), nullable=True),
    sa.Column('batch_number', sa.Integer(), nullable=True),
    sa.Column('created_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_fk', sa.Integer(), nullable=True),
    sa.Column('changed_by_fk', sa.Integer(), nullable=True),
    sa.CheckConstraint('amount_due > 0', name='ck_patient_statement_amount_due'),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['printed_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['created_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['changed_by_fk'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('statement_number')
    )
    with op.batch_alter_table('patient_statement', schema=None) as batch_op:
        batch_op.create_index('ix_patient_statement_patient', ['patient_id', 'printed_at'], unique=False)
        batch_op.create_index('ix_patient_statement_printed_at', ['printed_at'], unique=False)
        batch_op.create_index('ix_patient_statement_batch', ['batch_number'], unique=False)


def downgrade():
    with op.batch_alter_table('patient_statement', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_statement_batch')
        batch_op.drop_index('ix_patient_statement_printed_at')
        batch_op.drop_index('ix_patient_statement_patient')
    op.drop_table('patient_statement')
