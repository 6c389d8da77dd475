"""patient documents: scans, faxes and card photos filed to the chart (files live under UPLOAD_FOLDER)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 12:17:21.268023

"""
from alembic import op
import sqlalchemy as sa

import app.models.base


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('patient_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('document_date', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('original_filename', sa.String(length=255), nullable=True),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('withdrawn_reason', sa.String(length=500), nullable=True),
    sa.Column('withdrawn_on', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by_fk', sa.Integer(), nullable=True),
    sa.Column('created_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_on', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_fk', sa.Integer(), nullable=True),
    sa.Column('changed_by_fk', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('referral', 'result', 'id_card', 'insurance_card', 'consent_form', 'other')", name='ck_patient_document_kind'),
    sa.CheckConstraint("status <> 'withdrawn' OR withdrawn_reason IS NOT NULL", name='ck_patient_document_withdrawn_reason'),
    sa.CheckConstraint("status IN ('active', 'withdrawn')", name='ck_patient_document_status'),
    sa.CheckConstraint('size_bytes > 0', name='ck_patient_document_size'),
    sa.ForeignKeyConstraint(['changed_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['created_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['withdrawn_by_fk'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stored_name')
    )
    with op.batch_alter_table('patient_document', schema=None) as batch_op:
        batch_op.create_index('ix_patient_document_patient', ['patient_id', 'status', 'document_date'], unique=False)



def downgrade():
    with op.batch_alter_table('patient_document', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_document_patient')

    op.drop_table('patient_document')
