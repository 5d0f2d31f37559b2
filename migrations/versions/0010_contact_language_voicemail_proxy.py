"""contact details: the other language, voicemail permission, someone who may answer

Revision ID: 0010_contact_more
Revises: 0009_emergency_screen_count
Create Date: 2026-12-02 08:45:00.000000

Issue 21: "Another language" says which one; the patient says whether the clinic may leave a voicemail and
who else may answer for them. All nullable: requests sent before were never asked. The free-text ones are
encrypted like the other contact details (app/security/crypto.py), so they are Text here.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010_contact_more'
down_revision = '0009_emergency_screen_count'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('consultation_request') as batch:
        batch.add_column(sa.Column('other_language', sa.Text(), nullable=True))
        batch.add_column(sa.Column('voicemail', sa.String(length=4), nullable=True))
        batch.add_column(sa.Column('proxy_name', sa.Text(), nullable=True))
        batch.add_column(sa.Column('proxy_relationship', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('consultation_request') as batch:
        batch.drop_column('proxy_relationship')
        batch.drop_column('proxy_name')
        batch.drop_column('voicemail')
        batch.drop_column('other_language')
