"""queue: a partial index for nobody's open requests, in queue order

Revision ID: 0008_queue_unassigned
Revises: 0007_queue_open_assignee
Create Date: 2026-11-24 16:45:00.000000

Issue 7 (benchmarks). The open queue filtered to "not assigned" used
``ix_consultation_request_queue_open_assignee`` (is_open, assignee_id, category_rank, created_at, id). On
PostgreSQL a B-tree scan yields that order only after equality conditions, and ``assignee_id IS NULL`` is
not one, so at 1,000,000 requests it read every open unassigned request of the category (5,051) and sorted
them for the first page (7.0 ms of the query; the page's p50 1.55x its 10,000-request figure). This index
holds only the open, unassigned requests, in queue order: the page is its first 50 entries. Its predicate is
written exactly as app/casework/queue.py's filters compile on each database, so each planner can match it.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_queue_unassigned'
down_revision = '0007_queue_open_assignee'
branch_labels = None
depends_on = None

UNASSIGNED_OPEN_SQLITE = "is_open IS 1 AND assignee_id IS NULL"  # as app/models/patient.py, frozen here
UNASSIGNED_OPEN_POSTGRESQL = "is_open IS true AND assignee_id IS NULL"


def upgrade():
    op.create_index('ix_consultation_request_queue_unassigned', 'consultation_request',
                    ['category_rank', 'created_at', 'id'], unique=False,
                    sqlite_where=sa.text(UNASSIGNED_OPEN_SQLITE), postgresql_where=sa.text(UNASSIGNED_OPEN_POSTGRESQL))


def downgrade():
    op.drop_index('ix_consultation_request_queue_unassigned', table_name='consultation_request')
