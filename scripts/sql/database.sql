-- Prepares the current database for Usher: one schema per service, owned by that
-- service's role, and nothing shared: a role can reach only its own schema. Run as a
-- superuser connected to the database; safe to run again. Plain SQL (no psql
-- variables), so tests can run it through libpq too.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS identity AUTHORIZATION usher_identity;
CREATE SCHEMA IF NOT EXISTS tenancy AUTHORIZATION usher_tenancy;
CREATE SCHEMA IF NOT EXISTS invitation AUTHORIZATION usher_invitation;
CREATE SCHEMA IF NOT EXISTS notification AUTHORIZATION usher_notification;
REVOKE ALL ON SCHEMA identity, tenancy, invitation, notification FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO usher_identity, usher_tenancy, '
                   'usher_invitation, usher_notification', current_database());
END
$$;
