"""documents from patients: scan reports, insurance cards and referral letters, encrypted in the database

Revision ID: 0015_documents
Revises: 0014_messages
Create Date: 2026-12-02 19:00:00.000000

Issue 25. Each file is stored encrypted (AES-256-GCM under the app's keys, like the contact details) in the
database, so backups, key rotation and the retention purge cover it with everything else. Staff note what a
scan report says (scan in the last 12 months, thickened ligament) beside what the patient remembered.
``patient_link`` holds the links staff send a patient (only a hash of each token).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_documents'
down_revision = '0014_messages'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'document',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('request_id', sa.Integer(), sa.ForeignKey('consultation_request.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('kind', sa.String(24), nullable=False),
        sa.Column('content_type', sa.String(40), nullable=False),
        sa.Column('filename', sa.Text(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('mri_recent', sa.Boolean(), nullable=True),
        sa.Column('ligament_reported', sa.Boolean(), nullable=True),
        sa.Column('reviewed_by_id', sa.Integer(), sa.ForeignKey('staff_user.id'), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_document_request_id', 'document', ['request_id'])
    op.create_table(
        'patient_link',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('purpose', sa.String(16), nullable=False),
        sa.Column('request_id', sa.Integer(), sa.ForeignKey('consultation_request.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('created_by_id', sa.Integer(), sa.ForeignKey('staff_user.id'), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('token_hash', name='uq_patient_link_token_hash'),
    )
    op.create_index('ix_patient_link_request_id', 'patient_link', ['request_id'])


def downgrade():
    op.drop_index('ix_patient_link_request_id', table_name='patient_link')
    op.drop_table('patient_link')
    op.drop_index('ix_document_request_id', table_name='document')
    op.drop_table('document')
