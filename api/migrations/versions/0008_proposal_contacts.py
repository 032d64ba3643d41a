"""proposal contacts: the contact log of a proposal (date, person, note)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'proposal_contacts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('contact_date', sa.Date(), nullable=False),
        sa.Column('person', sa.String(length=100), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('proposal_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_contacts_proposal_id'), ['proposal_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('proposal_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_contacts_proposal_id'))
    op.drop_table('proposal_contacts')
