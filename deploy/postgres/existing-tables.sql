-- An installation moving to two roles after its tables exist: run in the database as a superuser, after
-- grants.sql and `flask db upgrade` (the tables and their sequences must already belong to mild_owner:
-- REASSIGN OWNED BY <old login> TO mild_owner; does that).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO mild_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO mild_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM mild_app;
