"""location quality: where a facility's or institution's point comes from and its uncertainty radius

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('facilities', 'institutions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('location_source', sa.String(length=16), nullable=False, server_default=''))
            batch_op.add_column(sa.Column('location_radius_km', sa.Float(), nullable=True))


def downgrade() -> None:
    for table in ('facilities', 'institutions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('location_radius_km')
            batch_op.drop_column('location_source')
