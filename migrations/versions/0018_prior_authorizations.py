"""prior authorizations

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('prior_authorization',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('coverage_id', sa.Integer(), nullable=True),
    sa.Column('payer_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=50), nullable=False),
    sa.Column('appointment_type_id', sa.Integer(), nullable=True),
    sa.Column('codes', sa.String(length=200), nullable=True),
    sa.Column('units_authorized', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.String(length=1000), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_fk', sa.Integer(), nullable=True),
    sa.Column('changed_by_fk', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('active', 'void')", name='ck_prior_authorization_status'),
    sa.CheckConstraint('valid_to >= valid_from', name='ck_prior_authorization_dates'),
    sa.CheckConstraint('units_authorized IS NULL OR units_authorized > 0', name='ck_prior_authorization_units'),
    sa.ForeignKeyConstraint(['appointment_type_id'], ['appointment_type.id'], ),
    sa.ForeignKeyConstraint(['changed_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['coverage_id'], ['coverage.id'], ),
    sa.ForeignKeyConstraint(['created_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['payer_id'], ['payer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('prior_authorization', schema=None) as batch_op:
        batch_op.create_index('ix_prior_authorization_alerts', ['status', 'valid_to'], unique=False)
        batch_op.create_index('ix_prior_authorization_number', ['payer_id', 'number'], unique=False)
        batch_op.create_index('ix_prior_authorization_patient', ['patient_id', 'payer_id', 'valid_from'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('prior_authorization', schema=None) as batch_op:
        batch_op.drop_index('ix_prior_authorization_patient')
        batch_op.drop_index('ix_prior_authorization_number')
        batch_op.drop_index('ix_prior_authorization_alerts')

    op.drop_table('prior_authorization')
