-- Run once in the new database as a superuser, before the first migration:
--   psql -U postgres -d mild -f grants.sql
-- The public schema belongs to mild_owner; nobody else may create objects in it.
ALTER SCHEMA public OWNER TO mild_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO mild_app;
-- Every table and sequence the migrations create (as mild_owner) is readable and writable by mild_app.
-- Migration 0013 then takes UPDATE, DELETE and TRUNCATE on audit_event away again (the audit log is append-only).
ALTER DEFAULT PRIVILEGES FOR ROLE mild_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO mild_app;
ALTER DEFAULT PRIVILEGES FOR ROLE mild_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO mild_app;
