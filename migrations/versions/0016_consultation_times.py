"""consultation times: locations, the weekly template, exceptions and bookings

Revision ID: 0016_consultation_times
Revises: 0015_documents
Create Date: 2026-12-02 21:30:00.000000

Issue 25. ``booking`` has two partial unique indexes over the rows not cancelled: one per (location, start,
seat), so the database refuses a double booking whatever the app does, and one per request. A booking link
works once: ``patient_link.used_at``.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_consultation_times'
down_revision = '0015_documents'
branch_labels = None
depends_on = None

LIVE = sa.text('cancelled_at IS NULL')


def upgrade():
    op.create_table(
        'location',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(80), nullable=False),
        sa.Column('address', sa.String(200), nullable=False),
        sa.Column('phone', sa.String(40), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'weekly_hours',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('location_id', sa.Integer(), sa.ForeignKey('location.id', ondelete='CASCADE'), nullable=False),
        sa.Column('weekday', sa.Integer(), nullable=False),
        sa.Column('start', sa.Time(), nullable=False),
        sa.Column('end', sa.Time(), nullable=False),
        sa.Column('visit_minutes', sa.Integer(), nullable=False),
        sa.Column('seats', sa.Integer(), nullable=False),
    )
    op.create_index('ix_weekly_hours_location_id', 'weekly_hours', ['location_id'])
    op.create_table(
        'schedule_exception',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('location_id', sa.Integer(), sa.ForeignKey('location.id', ondelete='CASCADE'), nullable=True),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
        sa.Column('start', sa.Time(), nullable=True),
        sa.Column('end', sa.Time(), nullable=True),
        sa.Column('reason', sa.String(80), nullable=False),
    )
    op.create_index('ix_schedule_exception_location_id', 'schedule_exception', ['location_id'])
    op.create_table(
        'booking',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('request_id', sa.Integer(), sa.ForeignKey('consultation_request.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('location_id', sa.Integer(), sa.ForeignKey('location.id'), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seat', sa.Integer(), nullable=False),
        sa.Column('booked_by', sa.String(8), nullable=False),
        sa.Column('created_by_id', sa.Integer(), sa.ForeignKey('staff_user.id'), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('uq_booking_seat', 'booking', ['location_id', 'starts_at', 'seat'], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)
    op.create_index('uq_booking_request', 'booking', ['request_id'], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)
    op.create_index('ix_booking_starts_at', 'booking', ['starts_at'])
    # Plain ADD COLUMNs: a batch rebuild of consultation_request would drop its SQLite status-count triggers.
    op.add_column('patient_link', sa.Column('used_at', sa.DateTime(timezone=True), nullable=True))
    # The CSV export's document count, kept on the request: a count per row of a million-row export cost
    # about 10 s (BENCHMARKS.md).
    op.add_column('consultation_request', sa.Column('document_count', sa.Integer(), nullable=False,
                                                    server_default='0'))
    op.execute('UPDATE consultation_request SET document_count = (SELECT count(*) FROM document '
               'WHERE document.request_id = consultation_request.id) '
               'WHERE id IN (SELECT request_id FROM document)')


def downgrade():
    op.drop_column('consultation_request', 'document_count')
    with op.batch_alter_table('patient_link') as batch:
        batch.drop_column('used_at')
    op.drop_index('ix_booking_starts_at', table_name='booking')
    op.drop_index('uq_booking_request', table_name='booking')
    op.drop_index('uq_booking_seat', table_name='booking')
    op.drop_table('booking')
    op.drop_index('ix_schedule_exception_location_id', table_name='schedule_exception')
    op.drop_table('schedule_exception')
    op.drop_index('ix_weekly_hours_location_id', table_name='weekly_hours')
    op.drop_table('weekly_hours')
    op.drop_table('location')
