"""patient SSN: only the Fernet token and the last four digits, never the number

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('patient', sa.Column('ssn_encrypted', sa.Text(), nullable=True))
    op.add_column('patient', sa.Column('ssn_last4', sa.String(length=4), nullable=True))


def downgrade():
    op.drop_column('patient', 'ssn_last4')
    op.drop_column('patient', 'ssn_encrypted')
