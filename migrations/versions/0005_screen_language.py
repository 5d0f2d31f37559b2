"""the language the patient used for the self-check

Revision ID: 0005_screen_language
Revises: 0004_encrypt_contact_details
Create Date: 2026-11-24 12:45:00.000000

Adds consultation_request.screen_language (``en`` or ``es``), which staff see next to the language the
patient asked to speak. Every request stored before this revision was made on the English-only pages,
so the server default ``en`` is also the true value for them. A plain ADD COLUMN with a constant
default works on SQLite and PostgreSQL alike; batch mode keeps SQLite's table-copy path for the downgrade.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_screen_language'
down_revision = '0004_encrypt_contact_details'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('consultation_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('screen_language', sa.String(length=8), server_default='en', nullable=False))


def downgrade():
    with op.batch_alter_table('consultation_request', schema=None) as batch_op:
        batch_op.drop_column('screen_language')
