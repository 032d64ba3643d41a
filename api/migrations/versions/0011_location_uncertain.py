"""location uncertain: a proposal or an uncovered role whose answer depends on a point that is only
its municipal office (issue 13, location quality)

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('proposals', 'unmatched_roles'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('location_uncertain', sa.Boolean(), nullable=False,
                                          server_default=sa.false()))


def downgrade() -> None:
    for table in ('unmatched_roles', 'proposals'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('location_uncertain')
