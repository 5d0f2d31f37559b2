"""encrypt the timeline's notes at rest

Revision ID: 0011_encrypt_notes
Revises: 0010_contact_more
Create Date: 2026-12-02 09:15:00.000000

Staff notes and contact-attempt notes (request_event.note) can say anything about the patient, so they
become AES-256-GCM ciphertexts under the app's keys, like the contact details (see 0004). The column stays
Text. The data step uses the app's keyring (Flask-Migrate runs migrations inside the app) and a plain table
clause, so this file keeps working as the models change. Downgrading needs the keys the notes are under.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011_encrypt_notes'
down_revision = '0010_contact_more'
branch_labels = None
depends_on = None

BATCH = 500  # rows read and rewritten at a time
PURPOSE = 'request_event.note'  # the EncryptedText purpose in app/models/work.py

events = sa.table('request_event', sa.column('id', sa.Integer()), sa.column('note', sa.Text()))


def _keyring():
    from app.security.crypto import keyring  # the app's keys, configured by create_app before migrations run

    return keyring()


def _rewrite(change):
    """Apply ``change`` to every non-empty note, in id order, a batch at a time."""
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(events.c.id, events.c.note)
            .where(events.c.id > last, events.c.note.is_not(None))
            .order_by(events.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        for row_id, note in rows:
            connection.execute(events.update().where(events.c.id == row_id).values(note=change(note)))
        last = rows[-1][0]


def upgrade():
    ring = _keyring()
    _rewrite(lambda note: ring.encrypt(note, PURPOSE))


def downgrade():
    ring = _keyring()
    _rewrite(lambda note: ring.decrypt(note, PURPOSE))
