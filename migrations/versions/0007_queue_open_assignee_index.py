"""queue: an index for the open requests of one assignee (or nobody's), in queue order

Revision ID: 0007_queue_open_assignee
Revises: 0006_queue_counts
Create Date: 2026-11-24 14:12:00.000000

Issue 7 (benchmarks). The open queue filtered by assignee ("mine", "nobody's", a colleague's), the front
desk's everyday view, was read through ``ix_consultation_request_queue_open`` (is_open, category_rank, ...)
and checked row by row for the assignee: at 1,000,000 requests the oldest open requests are the few
forgotten ones, all assigned, and every one of them was read and skipped before the first unassigned one
(p50 41 ms against 24 ms for the unfiltered first page). With the assignee in the index after is_open, the
page is the first 50 entries of one index range. A plain index: the same on SQLite and PostgreSQL.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007_queue_open_assignee'
down_revision = '0006_queue_counts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_consultation_request_queue_open_assignee', 'consultation_request',
                    ['is_open', 'assignee_id', 'category_rank', 'created_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_consultation_request_queue_open_assignee', table_name='consultation_request')
