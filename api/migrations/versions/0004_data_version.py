"""data version: one row counting committed changes to the region's data

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('data_version',
                            sa.Column('id', sa.Integer(), nullable=False),
                            sa.Column('version', sa.Integer(), nullable=False),
                            sa.PrimaryKeyConstraint('id'))
    op.bulk_insert(table, [{'id': 1, 'version': 0}])


def downgrade() -> None:
    op.drop_table('data_version')
