"""availability: when an institution gives ① or ② (availability.csv, issue 16), and the slots a
proposal's partner gives per role

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'availability',
        sa.Column('institution_id', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('slots', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.institution_id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('institution_id', 'role'),
    )
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slots', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_column('slots')
    op.drop_table('availability')
