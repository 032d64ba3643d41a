"""per-role capacities of institutions (the data contract's capacity_{unit}_{role} columns)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# Written out (not imported from the contract): a migration records the schema of its day.
COLUMNS = [f"capacity_{unit}_{role}" for role in ("consult", "visit", "admit")
           for unit in ("facilities", "residents")]


def upgrade() -> None:
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
