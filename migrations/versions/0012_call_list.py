"""the call list: call-back times, contact attempts on the request, and name search by each surname word

Revision ID: 0012_call_list
Revises: 0011_encrypt_notes
Create Date: 2026-12-02 11:40:00.000000

Issue 22. The queue shows how many times the patient was tried and when last, so those are kept on the
request (filled here from the timelines). ``callback_at`` is the time a patient asked to be called back.
``surname_key`` holds blind indexes of the normalised last name and of each of its words, so "hernandez"
finds "Hernández García", with the request's category and submission time (neither ever changes) so that a
name search reads the queue order straight from its index; it is filled here by decrypting each last name with the app's keyring (Flask-Migrate
runs migrations inside the app), and uses plain table clauses so this file keeps working as the models change.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012_call_list'
down_revision = '0011_encrypt_notes'
branch_labels = None
depends_on = None

BATCH = 500
LAST_NAME_PURPOSE = 'consultation_request.last_name'  # the EncryptedText purpose in app/models/patient.py

requests = sa.table('consultation_request', sa.column('id', sa.Integer()), sa.column('last_name', sa.Text()),
                    sa.column('category_rank', sa.Integer()), sa.column('created_at', sa.DateTime(timezone=True)),
                    sa.column('contact_attempts', sa.Integer()), sa.column('last_contact_at', sa.DateTime(timezone=True)),
                    sa.column('last_contact_outcome', sa.String()))
events = sa.table('request_event', sa.column('id', sa.Integer()), sa.column('request_id', sa.Integer()),
                  sa.column('kind', sa.String()), sa.column('data', sa.JSON()),
                  sa.column('created_at', sa.DateTime(timezone=True)))
surname_key = sa.table('surname_key', sa.column('request_id', sa.Integer()), sa.column('digest', sa.String()),
                       sa.column('category_rank', sa.Integer()), sa.column('created_at', sa.DateTime(timezone=True)))


def upgrade():
    with op.batch_alter_table('consultation_request') as batch:
        batch.add_column(sa.Column('callback_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('contact_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('last_contact_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('last_contact_outcome', sa.String(length=16), nullable=True))
    op.create_index('ix_consultation_request_callback_at', 'consultation_request', ['callback_at'])
    op.create_table(
        'surname_key',
        sa.Column('request_id', sa.Integer(), sa.ForeignKey('consultation_request.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('category_rank', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('request_id', 'digest'),
    )
    op.create_index('ix_surname_key_queue', 'surname_key', ['digest', 'category_rank', 'created_at', 'request_id'])
    if op.get_bind().dialect.name == 'postgresql':
        # The call list's overdue part asks for status 'new' among open, unassigned requests. PostgreSQL multiplies
        # the three conditions' selectivities as if unrelated (new requests are nearly all open and unassigned), so it
        # expected one row and read every unassigned likely request to sort them, instead of walking the ordered
        # partial index. Statistics of the three columns together give it the real share.
        op.execute('CREATE STATISTICS IF NOT EXISTS consultation_request_status_open_assignee (mcv, dependencies)'
                   ' ON status, is_open, assignee_id FROM consultation_request')
        op.execute('ANALYZE consultation_request')
    _fill_attempts()
    _fill_surname_keys()


def _fill_attempts():
    """Count each request's contact attempts, and note the last one, from its timeline."""
    connection = op.get_bind()
    last_id, seen = 0, {}
    while True:
        rows = connection.execute(
            sa.select(events.c.id, events.c.request_id, events.c.data, events.c.created_at)
            .where(events.c.kind == 'contact_attempt', events.c.id > last_id).order_by(events.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        for _event_id, request_id, data, created_at in rows:
            count, _, _ = seen.get(request_id, (0, None, None))
            seen[request_id] = (count + 1, created_at, (data or {}).get('outcome'))
        last_id = rows[-1][0]
    for request_id, (count, at, outcome) in seen.items():
        connection.execute(requests.update().where(requests.c.id == request_id).values(
            contact_attempts=count, last_contact_at=at, last_contact_outcome=outcome))


def _fill_surname_keys():
    from app.security.crypto import keyring  # the app's keys, configured by create_app before migrations run
    from app.security.search_index import surname_keys

    connection, ring, last_id = op.get_bind(), keyring(), 0
    while True:
        rows = connection.execute(
            sa.select(requests.c.id, requests.c.last_name, requests.c.category_rank, requests.c.created_at)
            .where(requests.c.id > last_id)
            .order_by(requests.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        keys = [{'request_id': row_id, 'digest': digest, 'category_rank': rank, 'created_at': created}
                for row_id, stored, rank, created in rows
                for digest in surname_keys(ring.decrypt(stored, LAST_NAME_PURPOSE))]
        if keys:
            connection.execute(surname_key.insert(), keys)
        last_id = rows[-1][0]


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP STATISTICS IF EXISTS consultation_request_status_open_assignee')
    op.drop_index('ix_surname_key_queue', table_name='surname_key')
    op.drop_table('surname_key')
    op.drop_index('ix_consultation_request_callback_at', table_name='consultation_request')
    with op.batch_alter_table('consultation_request') as batch:
        batch.drop_column('last_contact_outcome')
        batch.drop_column('last_contact_at')
        batch.drop_column('contact_attempts')
        batch.drop_column('callback_at')
