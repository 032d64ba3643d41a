"""addresses (所在地) of facilities and institutions, from the importers' open data

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written out (not imported from the contract): a migration records the schema of its day.
    for table in ('facilities', 'institutions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('address', sa.String(length=200), nullable=False, server_default=''))


def downgrade() -> None:
    for table in ('facilities', 'institutions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('address')
