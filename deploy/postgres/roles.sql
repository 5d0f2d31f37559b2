-- Run once as a PostgreSQL superuser (psql -U postgres -f roles.sql), then set both passwords:
--   \password mild_owner
--   \password mild_app
-- mild_owner owns the database and its tables and runs the migrations (MIGRATION_DATABASE_URL);
-- mild_app is the app's runtime login (DATABASE_URL): it reads and writes rows, and nothing else.
CREATE ROLE mild_owner LOGIN;
CREATE ROLE mild_app LOGIN;
CREATE DATABASE mild OWNER mild_owner ENCODING 'UTF8' TEMPLATE template0;
