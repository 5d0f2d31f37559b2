"""audit log rights: on PostgreSQL no role but the owner may update, delete or truncate audit rows

Revision ID: 0013_audit_rights
Revises: 0012_call_list
Create Date: 2026-12-02 14:30:00.000000

Issue 23. With two roles (deploy/README.md) the runtime role gets SELECT, INSERT, UPDATE and DELETE on every
table through default privileges. The append-only trigger already refuses UPDATE and DELETE on audit_event, but a
trigger does not fire on TRUNCATE, and rights the role does not need are better not held: this takes UPDATE,
DELETE and TRUNCATE on audit_event away from every role other than the table's owner. The runtime role cannot
disable the trigger either, as only the owner may alter the table. Nothing to do on SQLite (no roles).
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_audit_rights'
down_revision = '0012_call_list'
branch_labels = None
depends_on = None

REVOKE_FROM_OTHERS = """
DO $$
DECLARE grantee_name text;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name = 'audit_event'
          AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
          AND grantee <> (SELECT tableowner FROM pg_tables WHERE schemaname = current_schema()
                          AND tablename = 'audit_event')
    LOOP
        IF grantee_name = 'PUBLIC' THEN
            REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM PUBLIC;
        ELSE
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM %I', grantee_name);
        END IF;
    END LOOP;
END $$;
"""


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(REVOKE_FROM_OTHERS)


def downgrade():
    pass  # rights are the administrator's to give back (deploy/postgres/grants.sql)
