"""encrypt contact details at rest, blind indexes for search

Revision ID: 0004_encrypt_contact_details
Revises: 0003_staff_security
Create Date: 2026-11-24 09:51:12.568473

The contact details of consultation requests (names, date of birth, phone, email, message), the contact
details kept in drafts, and staff TOTP secrets become AES-256-GCM ciphertexts under the app's keys
(app/security/crypto.py). The plaintext search columns (last_name_key, email_key, and the index on phone) are
replaced by blind indexes: HMAC-SHA256 under BLIND_INDEX_KEY.

The data steps use the app's keyring (Flask-Migrate runs migrations inside the app, which configured it)
and plain table clauses rather than the ORM models, so this file keeps working as the models change.
The normalisation behind each blind index is written out here, frozen as it was at this revision; it
must give the same values as app/security/search_index.py (tests/test_migrations.py checks that search finds
migrated rows). Downgrading needs the keys every value is encrypted under.
"""
import json
import unicodedata
from datetime import date

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_encrypt_contact_details'
down_revision = '0003_staff_security'
branch_labels = None
depends_on = None

BATCH = 500  # rows read and rewritten at a time

# Column -> purpose bound into its ciphertexts (the EncryptedText purposes in app/models).
REQUEST_PURPOSES = {
    'first_name': 'consultation_request.first_name',
    'last_name': 'consultation_request.last_name',
    'date_of_birth': 'consultation_request.date_of_birth',
    'phone': 'consultation_request.phone',
    'email': 'consultation_request.email',
    'message': 'consultation_request.message',
}
DRAFT_CONTACT_PURPOSE = 'draft.contact'
TOTP_PURPOSE = 'staff_user.totp_secret'

requests = sa.table(
    'consultation_request',
    sa.column('id', sa.Integer()),
    *(sa.column(name, sa.Text()) for name in REQUEST_PURPOSES),
    sa.column('phone_index', sa.String()),
    sa.column('email_index', sa.String()),
    sa.column('last_name_index', sa.String()),
    sa.column('last_name_key', sa.String()),
    sa.column('email_key', sa.String()),
    sa.column('date_of_birth_plain', sa.Date()),
)
drafts = sa.table('draft', sa.column('token_hash', sa.String()), sa.column('contact', sa.Text()))
staff = sa.table('staff_user', sa.column('id', sa.Integer()), sa.column('totp_secret', sa.Text()))


def _keyring():
    from app.security.crypto import keyring  # the app's keys, configured by create_app before migrations run

    return keyring()


def _name_key(name):
    """app.intake.contact.name_key at this revision: case-insensitive in any script."""
    return unicodedata.normalize('NFC', name.strip()).casefold()


def _email_key(email):
    """app.intake.contact.email_key at this revision."""
    return email.strip().lower() if email else None


def _blind_indexes(ring, phone, email, last_name):
    """app.security.search_index.request_indexes at this revision (phone is already E.164)."""
    email = _email_key(email)
    return {
        'phone_index': ring.blind_index('consultation_request.phone_index', phone),
        'email_index': None if email is None else ring.blind_index('consultation_request.email_index', email),
        'last_name_index': ring.blind_index('consultation_request.last_name_index', _name_key(last_name)),
    }


def _already_encrypted(ring, value, purpose):
    """Whether ``value`` is a ciphertext for ``purpose`` (so a re-run never encrypts twice)."""
    from app.security.crypto import DecryptionError, KeyConfigError

    try:
        ring.decrypt(value, purpose)
    except (DecryptionError, KeyConfigError, ValueError):
        return False
    return True


def _seal(ring, value, purpose):
    if value is None or _already_encrypted(ring, value, purpose):
        return value
    return ring.encrypt(value, purpose)


def _open(ring, value, purpose):
    return None if value is None else ring.decrypt(value, purpose)


def _batches(bind, table, key, *columns):
    """Every row of ``table``, read ``BATCH`` at a time in primary-key order (no cursor held open)."""
    last = None
    while True:
        query = sa.select(table.c[key], *(table.c[name] for name in columns)).order_by(table.c[key]).limit(BATCH)
        if last is not None:
            query = query.where(table.c[key] > last)
        rows = bind.execute(query).all()
        if not rows:
            return
        yield rows
        last = rows[-1]._mapping[key]


def _iso_date(value):
    """A stored date of birth as ISO text, however the database handed it over."""
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)[:10]).isoformat()


def _json_text(value):
    """A draft's contact JSON in the form app.models.base.EncryptedJSON writes."""
    loaded = json.loads(value) if isinstance(value, str) else value
    return json.dumps(loaded if isinstance(loaded, dict) else {}, ensure_ascii=False, separators=(',', ':'),
                      sort_keys=True)


def _encrypt_requests(bind, ring):
    for rows in _batches(bind, requests, 'id', *REQUEST_PURPOSES):
        for row in rows:
            plain = dict(row._mapping)
            if _already_encrypted(ring, plain['phone'], REQUEST_PURPOSES['phone']):
                continue  # a re-run after a partial upgrade: this row is done
            plain['date_of_birth'] = _iso_date(plain['date_of_birth'])
            values = {name: _seal(ring, plain[name], purpose) for name, purpose in REQUEST_PURPOSES.items()}
            values.update(_blind_indexes(ring, plain['phone'], plain['email'], plain['last_name']))
            bind.execute(requests.update().where(requests.c.id == row.id).values(**values))


def _encrypt_drafts(bind, ring):
    for rows in _batches(bind, drafts, 'token_hash', 'contact'):
        for row in rows:
            if row.contact is None or _already_encrypted(ring, row.contact, DRAFT_CONTACT_PURPOSE):
                continue
            sealed = ring.encrypt(_json_text(row.contact), DRAFT_CONTACT_PURPOSE)
            bind.execute(drafts.update().where(drafts.c.token_hash == row.token_hash).values(contact=sealed))


def _encrypt_totp_secrets(bind, ring):
    # No release stored TOTP secrets in plaintext, but be safe if one did.
    for rows in _batches(bind, staff, 'id', 'totp_secret'):
        for row in rows:
            sealed = _seal(ring, row.totp_secret, TOTP_PURPOSE)
            if sealed != row.totp_secret:
                bind.execute(staff.update().where(staff.c.id == row.id).values(totp_secret=sealed))


def upgrade():
    # 1. New columns (nullable until filled) and text types wide enough for ciphertexts.
    with op.batch_alter_table('consultation_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_index', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('email_index', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('last_name_index', sa.String(length=64), nullable=True))
        for name, old_type, nullable in [('first_name', sa.String(length=100), False),
                                         ('last_name', sa.String(length=100), False),
                                         ('phone', sa.String(length=20), False),
                                         ('email', sa.String(length=254), True)]:
            batch_op.alter_column(name, existing_type=old_type, type_=sa.Text(), existing_nullable=nullable)
        # to_char, not ::text, so the result is ISO whatever the server's DateStyle.
        batch_op.alter_column('date_of_birth', existing_type=sa.Date(), type_=sa.Text(), existing_nullable=False,
                              postgresql_using="to_char(date_of_birth, 'YYYY-MM-DD')")
        batch_op.drop_index('ix_consultation_request_email_key_created_at')
        batch_op.drop_index('ix_consultation_request_last_name_key')
        batch_op.drop_index('ix_consultation_request_phone_created_at')

    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.alter_column('contact', existing_type=sa.JSON(), type_=sa.Text(), existing_nullable=False,
                              postgresql_using='contact::text')

    # 2. Encrypt what is stored and fill in the blind indexes.
    bind, ring = op.get_bind(), _keyring()
    _encrypt_requests(bind, ring)
    _encrypt_drafts(bind, ring)
    _encrypt_totp_secrets(bind, ring)

    # 3. Only now: the indexes are required, and the plaintext search columns go.
    with op.batch_alter_table('consultation_request', schema=None) as batch_op:
        batch_op.alter_column('phone_index', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('last_name_index', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index('ix_consultation_request_email_index_created_at', ['email_index', 'created_at'], unique=False)
        batch_op.create_index('ix_consultation_request_last_name_index', ['last_name_index'], unique=False)
        batch_op.create_index('ix_consultation_request_phone_index_created_at', ['phone_index', 'created_at'], unique=False)
        batch_op.drop_column('email_key')
        batch_op.drop_column('last_name_key')


def _decrypt_requests(bind, ring):
    for rows in _batches(bind, requests, 'id', *REQUEST_PURPOSES):
        for row in rows:
            plain = {name: _open(ring, row._mapping[name], purpose) for name, purpose in REQUEST_PURPOSES.items()}
            plain['date_of_birth_plain'] = date.fromisoformat(plain.pop('date_of_birth'))
            plain['last_name_key'] = _name_key(plain['last_name'])
            plain['email_key'] = _email_key(plain['email'])
            bind.execute(requests.update().where(requests.c.id == row.id).values(**plain))


def _decrypt_drafts(bind, ring):
    for rows in _batches(bind, drafts, 'token_hash', 'contact'):
        for row in rows:
            plain = _open(ring, row.contact, DRAFT_CONTACT_PURPOSE)
            bind.execute(drafts.update().where(drafts.c.token_hash == row.token_hash).values(contact=plain))


def _decrypt_totp_secrets(bind, ring):
    for rows in _batches(bind, staff, 'id', 'totp_secret'):
        for row in rows:
            if row.totp_secret is not None:
                plain = _open(ring, row.totp_secret, TOTP_PURPOSE)
                bind.execute(staff.update().where(staff.c.id == row.id).values(totp_secret=plain))


def downgrade():
    # 1. Room for the plaintext search columns, and a real date column: SQLite's batch copy would cast
    # text to DATE (numeric affinity, so '1950-01-01' becomes 1950), so the date goes through a new column.
    with op.batch_alter_table('consultation_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_name_key', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('email_key', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('date_of_birth_plain', sa.Date(), nullable=True))
        batch_op.drop_index('ix_consultation_request_phone_index_created_at')
        batch_op.drop_index('ix_consultation_request_last_name_index')
        batch_op.drop_index('ix_consultation_request_email_index_created_at')

    # 2. Decrypt everything back (fails, changing nothing, if a value's key is not configured).
    bind, ring = op.get_bind(), _keyring()
    _decrypt_requests(bind, ring)
    _decrypt_drafts(bind, ring)
    _decrypt_totp_secrets(bind, ring)

    # 3. The old types, columns and indexes.
    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.alter_column('contact', existing_type=sa.Text(), type_=sa.JSON(), existing_nullable=False,
                              postgresql_using='contact::json')

    with op.batch_alter_table('consultation_request', schema=None) as batch_op:
        batch_op.drop_column('date_of_birth')

    with op.batch_alter_table('consultation_request', schema=None) as batch_op:
        batch_op.alter_column('date_of_birth_plain', new_column_name='date_of_birth', existing_type=sa.Date(),
                              nullable=False)
        batch_op.alter_column('last_name_key', existing_type=sa.String(length=100), nullable=False)
        for name, new_type, nullable in [('first_name', sa.String(length=100), False),
                                         ('last_name', sa.String(length=100), False),
                                         ('phone', sa.String(length=20), False),
                                         ('email', sa.String(length=254), True)]:
            batch_op.alter_column(name, existing_type=sa.Text(), type_=new_type, existing_nullable=nullable)
        batch_op.create_index('ix_consultation_request_phone_created_at', ['phone', 'created_at'], unique=False)
        batch_op.create_index('ix_consultation_request_last_name_key', ['last_name_key'], unique=False)
        batch_op.create_index('ix_consultation_request_email_key_created_at', ['email_key', 'created_at'], unique=False)
        batch_op.drop_column('last_name_index')
        batch_op.drop_column('email_index')
        batch_op.drop_column('phone_index')
