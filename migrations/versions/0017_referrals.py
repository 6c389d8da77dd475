"""referrals: specialist directory, outgoing and incoming referrals, diagnoses, documents,
status history and replies

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

import app.models.base


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


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
    op.create_table('specialist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('specialty', sa.String(length=100), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=True),
    sa.Column('npi', sa.String(length=10), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('fax', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('languages', sa.String(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    *_audit_columns(),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('npi')
    )
    with op.batch_alter_table('specialist', schema=None) as batch_op:
        batch_op.create_index('ix_specialist_name', ['name'], unique=False)
        batch_op.create_index('ix_specialist_specialty', ['specialty'], unique=False)

    op.create_table('specialist_payer',
    sa.Column('specialist_id', sa.Integer(), nullable=False),
    sa.Column('payer_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['payer_id'], ['payer.id'], ),
    sa.ForeignKeyConstraint(['specialist_id'], ['specialist.id'], ),
    sa.PrimaryKeyConstraint('specialist_id', 'payer_id')
    )

    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('urgency', sa.String(length=8), nullable=False),
    sa.Column('referral_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('referring_provider_id', sa.Integer(), nullable=True),
    sa.Column('specialist_id', sa.Integer(), nullable=True),
    sa.Column('sent_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('referring_practice', sa.String(length=200), nullable=True),
    sa.Column('referring_provider_name', sa.String(length=200), nullable=True),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    *_audit_columns(),
    sa.CheckConstraint("direction IN ('outgoing', 'incoming')", name='ck_referral_direction'),
    sa.CheckConstraint("urgency IN ('routine', 'urgent', 'stat')", name='ck_referral_urgency'),
    sa.CheckConstraint("status IN ('draft', 'sent', 'received', 'scheduled', 'seen', 'report_received', 'closed', "
                       "'cancelled')", name='ck_referral_status'),
    sa.CheckConstraint('due_date >= referral_date', name='ck_referral_due_date'),
    sa.CheckConstraint("direction <> 'outgoing' OR specialist_id IS NOT NULL", name='ck_referral_outgoing'),
    sa.CheckConstraint("direction <> 'incoming' OR referring_practice IS NOT NULL", name='ck_referral_incoming'),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['referring_provider_id'], ['provider.id'], ),
    sa.ForeignKeyConstraint(['specialist_id'], ['specialist.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_patient', ['patient_id', 'referral_date'], unique=False)
        batch_op.create_index('ix_referral_status_due', ['status', 'due_date'], unique=False)
        batch_op.create_index('ix_referral_specialist', ['specialist_id'], unique=False)
        batch_op.create_index('ix_referral_appointment', ['appointment_id'], unique=False)

    op.create_table('referral_diagnosis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('code_set_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('position BETWEEN 1 AND 12', name='ck_referral_diagnosis_position'),
    sa.ForeignKeyConstraint(['code_set_id'], ['icd10_code_set.id'], ),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('referral_id', 'code', name='uq_referral_diagnosis_code')
    )

    op.create_table('referral_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['patient_document.id'], ),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('referral_id', 'document_id', name='uq_referral_document')
    )
    with op.batch_alter_table('referral_document', schema=None) as batch_op:
        batch_op.create_index('ix_referral_document_document', ['document_id'], unique=False)

    op.create_table('referral_status_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('changed_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by_fk', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['changed_by_fk'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('referral_status_change', schema=None) as batch_op:
        batch_op.create_index('ix_referral_status_change_referral', ['referral_id'], unique=False)

    op.create_table('referral_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('reply_date', sa.Date(), nullable=False),
    sa.Column('summary', sa.String(length=2000), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    *_audit_columns(),
    sa.ForeignKeyConstraint(['document_id'], ['patient_document.id'], ),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('referral_reply', schema=None) as batch_op:
        batch_op.create_index('ix_referral_reply_referral', ['referral_id'], unique=False)
        batch_op.create_index('ix_referral_reply_document', ['document_id'], unique=False)


def downgrade():
    with op.batch_alter_table('referral_reply', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_reply_document')
        batch_op.drop_index('ix_referral_reply_referral')
    op.drop_table('referral_reply')
    with op.batch_alter_table('referral_status_change', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_status_change_referral')
    op.drop_table('referral_status_change')
    with op.batch_alter_table('referral_document', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_document_document')
    op.drop_table('referral_document')
    op.drop_table('referral_diagnosis')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_appointment')
        batch_op.drop_index('ix_referral_specialist')
        batch_op.drop_index('ix_referral_status_due')
        batch_op.drop_index('ix_referral_patient')
    op.drop_table('referral')
    op.drop_table('specialist_payer')
    with op.batch_alter_table('specialist', schema=None) as batch_op:
        batch_op.drop_index('ix_specialist_specialty')
        batch_op.drop_index('ix_specialist_name')
    op.drop_table('specialist')
