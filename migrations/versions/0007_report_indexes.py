"""reports and home pages: index recent registrations and the duplicate probe

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index('ix_patient_created_on', ['created_on'], unique=False)
        batch_op.create_index('ix_patient_birth_name', ['birth_date', 'name_search'], unique=False)


def downgrade():
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_birth_name')
        batch_op.drop_index('ix_patient_created_on')
