"""messages to patients: text and email in the outbox, texts from patients, opt-outs, the daily digest

Revision ID: 0014_messages
Revises: 0013_audit_rights
Create Date: 2026-12-02 18:00:00.000000

Issue 24. The outbox now carries texts and emails to patients, so its recipient (a patient's number or
address) and body become AES-256-GCM ciphertexts under the app's keys, like the contact details (0004, 0011);
the rows already there are encrypted here with the app's keyring (Flask-Migrate runs migrations inside the
app). A message may belong to a request (deleted with it), has a kind, a channel, a cancelled time and the
provider's id and delivery status. ``inbound_text`` keeps texts from patients, ``text_opt_out`` the numbers
that sent STOP (by blind index), ``daily_job`` the days the overdue digest went out. The request gains the
separate permission to text and the patient's answer to a visit reminder.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014_messages'
down_revision = '0013_audit_rights'
branch_labels = None
depends_on = None

BATCH = 500
ENCRYPTED = ('recipient', 'body')  # purposes: outbox_message.<column>, as in app/models/outbox.py

outbox = sa.table('outbox_message', sa.column('id', sa.Integer()), sa.column('recipient', sa.Text()),
                  sa.column('body', sa.Text()))


def _rewrite(change):
    """Apply ``change(value, purpose)`` to the recipient and body of every message, a batch at a time."""
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(outbox.c.id, outbox.c.recipient, outbox.c.body)
            .where(outbox.c.id > last).order_by(outbox.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        for row_id, recipient, body in rows:
            connection.execute(outbox.update().where(outbox.c.id == row_id).values(
                recipient=change(recipient, 'outbox_message.recipient'), body=change(body, 'outbox_message.body')))
        last = rows[-1][0]


def _keyring():
    from app.security.crypto import keyring  # the app's keys, configured by create_app before migrations run

    return keyring()


def upgrade():
    with op.batch_alter_table('outbox_message') as batch:
        batch.alter_column('recipient', type_=sa.Text(), existing_type=sa.String(254), existing_nullable=False)
        batch.add_column(sa.Column('channel', sa.String(8), nullable=False, server_default='email'))
        batch.add_column(sa.Column('kind', sa.String(24), nullable=False, server_default='staff_notice'))
        batch.add_column(sa.Column('request_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('phone_index', sa.String(64), nullable=True))
        batch.add_column(sa.Column('attachment', sa.Text(), nullable=True))
        batch.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('provider_id', sa.String(64), nullable=True))
        batch.add_column(sa.Column('delivery_status', sa.String(24), nullable=True))
        batch.create_foreign_key('fk_outbox_message_request_id_consultation_request', 'consultation_request',
                                 ['request_id'], ['id'], ondelete='CASCADE')
        batch.create_index('ix_outbox_message_request_id', ['request_id'])
        batch.create_index('ix_outbox_message_phone_index', ['phone_index'])
        batch.create_index('ix_outbox_message_provider_id', ['provider_id'])
    ring = _keyring()
    _rewrite(lambda value, purpose: ring.encrypt(value, purpose))

    # Plain ADD COLUMN, never a batch rebuild: SQLite would drop the table's status-count triggers (0006).
    op.add_column('consultation_request', sa.Column('consent_text', sa.Boolean(), nullable=False,
                                                    server_default=sa.false()))
    op.add_column('consultation_request', sa.Column('visit_reply', sa.String(12), nullable=True))
    op.add_column('consultation_request', sa.Column('visit_reply_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        'inbound_text',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('provider_id', sa.String(64), nullable=False),
        sa.Column('request_id', sa.Integer(), sa.ForeignKey('consultation_request.id', ondelete='CASCADE'),
                  nullable=True),
        sa.Column('phone_index', sa.String(64), nullable=False),
        sa.Column('sender', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('keyword', sa.String(12), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('read_by_id', sa.Integer(), sa.ForeignKey('staff_user.id'), nullable=True),
        sa.UniqueConstraint('provider_id', name='uq_inbound_text_provider_id'),
    )
    op.create_index('ix_inbound_text_request_id', 'inbound_text', ['request_id'])
    op.create_index('ix_inbound_text_phone_index', 'inbound_text', ['phone_index'])
    op.create_index('ix_inbound_text_received_at', 'inbound_text', ['received_at'])
    op.create_table(
        'text_opt_out',
        sa.Column('phone_index', sa.String(64), primary_key=True),
        sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'daily_job',
        sa.Column('name', sa.String(24), primary_key=True),
        sa.Column('day', sa.Date(), primary_key=True),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table('daily_job')
    op.drop_table('text_opt_out')
    op.drop_index('ix_inbound_text_received_at', table_name='inbound_text')
    op.drop_index('ix_inbound_text_phone_index', table_name='inbound_text')
    op.drop_index('ix_inbound_text_request_id', table_name='inbound_text')
    op.drop_table('inbound_text')
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+) keeps the status-count triggers, unlike a batch rebuild.
    for name in ('visit_reply_at', 'visit_reply', 'consent_text'):
        op.drop_column('consultation_request', name)
    op.execute(outbox.delete().where(sa.text("channel <> 'email' OR request_id IS NOT NULL")))
    ring = _keyring()
    _rewrite(lambda value, purpose: ring.decrypt(value, purpose))
    with op.batch_alter_table('outbox_message') as batch:
        batch.drop_index('ix_outbox_message_provider_id')
        batch.drop_index('ix_outbox_message_phone_index')
        batch.drop_index('ix_outbox_message_request_id')
        batch.drop_constraint('fk_outbox_message_request_id_consultation_request', type_='foreignkey')
        for name in ('delivery_status', 'provider_id', 'cancelled_at', 'attachment', 'phone_index', 'request_id',
                     'kind', 'channel'):
            batch.drop_column(name)
        batch.alter_column('recipient', type_=sa.String(254), existing_type=sa.Text(), existing_nullable=False)
