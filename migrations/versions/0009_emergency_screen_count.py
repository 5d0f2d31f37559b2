"""emergency screens: an anonymous count per day

Revision ID: 0009_emergency_screen_count
Revises: 0008_queue_unassigned
Create Date: 2026-12-02 06:40:00.000000

Rule set 2026.2 (spec section 3, E1): a patient who stops after the emergency page leaves no answers behind;
only an anonymous count of emergency screens per day is kept, for the clinic dashboard.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009_emergency_screen_count'
down_revision = '0008_queue_unassigned'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'emergency_screen_count',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_emergency_screen_count')),
    )


def downgrade():
    op.drop_table('emergency_screen_count')
