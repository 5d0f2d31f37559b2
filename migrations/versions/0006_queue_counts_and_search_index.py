"""queue at a million requests: status counts kept by triggers, indexes in queue order for name search and All

Revision ID: 0006_queue_counts
Revises: 0005_screen_language
Create Date: 2026-11-24 13:20:00.000000

Issue 7 (benchmarks). Three things the queue and the export did that grew with the whole table:

- The counts per status above the queue were a GROUP BY over every request: at 1,000,000 requests a scan of
  a million index entries on every page view. ``request_status_count`` holds one row per status, kept exact
  by triggers on consultation_request (insert, delete, and an update that changes the status), so the page
  reads four rows. The migration fills it from the table as it stands.
- A last-name search matched through ``ix_consultation_request_last_name_index`` (the blind index alone),
  then sorted every match into queue order: a common name is thousands of requests at that size. The index
  now carries the queue order after the blind index (as the other queue indexes do), so the first page is
  the first 50 entries of one index range. It replaces the old index, which is its prefix.
- The queue's "All" view, and the CSV export that pages through it in batches of 1,000, had no index in
  queue order without a filter column in front: every batch sorted the whole table. Now
  ``ix_consultation_request_queue_all`` (category_rank, created_at, id) serves them.

SQLite and PostgreSQL differ in how a trigger is written (a statement list, or a PL/pgSQL function), so each
has its branch. On PostgreSQL a status change updates both counters in ONE statement: rows are then locked
in index order, so two colleagues moving requests in opposite directions at once cannot deadlock. Every
status has its row from the start (zero when unused); the insert still upserts, so a status added later
without a migration is counted rather than lost.

SQLite drops a table's triggers when batch mode rebuilds the table: a later migration that rebuilds
consultation_request (``batch_alter_table`` with a change SQLite cannot ALTER in place) must create them again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_queue_counts'
down_revision = '0005_screen_language'
branch_labels = None
depends_on = None

STATUSES = ('new', 'in_progress', 'scheduled', 'closed')

SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER request_status_count_insert AFTER INSERT ON consultation_request
    BEGIN
        INSERT INTO request_status_count (status, requests) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET requests = requests + 1;
    END
    """,
    """
    CREATE TRIGGER request_status_count_update AFTER UPDATE OF status ON consultation_request
    WHEN OLD.status IS NOT NEW.status
    BEGIN
        UPDATE request_status_count SET requests = requests - 1 WHERE status = OLD.status;
        INSERT INTO request_status_count (status, requests) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET requests = requests + 1;
    END
    """,
    """
    CREATE TRIGGER request_status_count_delete AFTER DELETE ON consultation_request
    BEGIN
        UPDATE request_status_count SET requests = requests - 1 WHERE status = OLD.status;
    END
    """,
)

POSTGRES_TRIGGERS = (
    """
    CREATE FUNCTION request_status_count_track() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO request_status_count (status, requests) VALUES (NEW.status, 1)
            ON CONFLICT (status) DO UPDATE SET requests = request_status_count.requests + 1;
        ELSIF TG_OP = 'DELETE' THEN
            UPDATE request_status_count SET requests = requests - 1 WHERE status = OLD.status;
        ELSE
            INSERT INTO request_status_count (status, requests) VALUES (NEW.status, 0)
            ON CONFLICT (status) DO NOTHING;
            UPDATE request_status_count
            SET requests = requests + CASE WHEN status = NEW.status THEN 1 ELSE -1 END
            WHERE status IN (OLD.status, NEW.status);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER request_status_count_insert_delete AFTER INSERT OR DELETE ON consultation_request
    FOR EACH ROW EXECUTE FUNCTION request_status_count_track()
    """,
    """
    CREATE TRIGGER request_status_count_update AFTER UPDATE OF status ON consultation_request
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION request_status_count_track()
    """,
)


def upgrade():
    # Plain index operations (no batch mode): they never rebuild the table, on SQLite either.
    op.drop_index('ix_consultation_request_last_name_index', table_name='consultation_request')
    op.create_index('ix_consultation_request_queue_last_name', 'consultation_request',
                    ['last_name_index', 'category_rank', 'created_at', 'id'], unique=False)
    op.create_index('ix_consultation_request_queue_all', 'consultation_request',
                    ['category_rank', 'created_at', 'id'], unique=False)

    op.create_table(
        'request_status_count',
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('requests', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('status', name=op.f('pk_request_status_count')),
    )
    postgres = op.get_bind().dialect.name == 'postgresql'
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)
    # The counts as the table stands. Creating the triggers locked consultation_request against writes until
    # this migration commits (PostgreSQL: SHARE ROW EXCLUSIVE; SQLite: the write lock), so none is missed.
    op.execute(
        "INSERT INTO request_status_count (status, requests) "
        "SELECT status, count(*) FROM consultation_request GROUP BY status"
    )
    known = sa.table('request_status_count', sa.column('status', sa.String), sa.column('requests', sa.Integer))
    present = {row[0] for row in op.get_bind().execute(sa.select(known.c.status))}
    missing = [{'status': status, 'requests': 0} for status in STATUSES if status not in present]
    if missing:
        op.bulk_insert(known, missing)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS request_status_count_update ON consultation_request")
        op.execute("DROP TRIGGER IF EXISTS request_status_count_insert_delete ON consultation_request")
        op.execute("DROP FUNCTION IF EXISTS request_status_count_track()")
    else:
        for name in ('insert', 'update', 'delete'):
            op.execute(f"DROP TRIGGER IF EXISTS request_status_count_{name}")
    op.drop_table('request_status_count')

    op.drop_index('ix_consultation_request_queue_all', table_name='consultation_request')
    op.drop_index('ix_consultation_request_queue_last_name', table_name='consultation_request')
    op.create_index('ix_consultation_request_last_name_index', 'consultation_request', ['last_name_index'],
                    unique=False)
