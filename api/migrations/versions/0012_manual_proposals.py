"""manual proposals: a pair a coordinator proposes by hand (origin 'manual', no run), which the next
runs carry over as a pinned pair (issue 15 item 3)

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=16), nullable=False, server_default='run'))
        batch_op.alter_column('run_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # A hand-made proposal has no run: it cannot be kept under the older schema.
    op.execute("DELETE FROM proposals WHERE run_id IS NULL")
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.alter_column('run_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('origin')
