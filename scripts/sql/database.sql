-- Prepares the current database for Usher: one schema per service, owned by that
-- service's role, and nothing shared: a role can reach only its own schema. Run as a
-- superuser connected to the database; safe to run again. Plain SQL (no psql
-- variables), so tests can run it through libpq too.
--
-- Which services this database holds: the setting usher.services, a comma-separated list
-- (all four when unset). One shared database holds all four; with a cluster per service,
-- prepare each service's database for that service only, e.g.
--   psql -d usher -c "SET usher.services = 'invitation'" -f database.sql
-- (docs/deployment.md, "One Postgres per service, or one shared").
REVOKE ALL ON SCHEMA public FROM PUBLIC;
DO $$
DECLARE
    services text[] := string_to_array(replace(coalesce(nullif(
        current_setting('usher.services', true), ''),
        'identity,tenancy,invitation,notification'), ' ', ''), ',');
    service text;
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    FOREACH service IN ARRAY services LOOP
        IF service IS NULL OR service NOT IN ('identity', 'tenancy', 'invitation', 'notification') THEN
            RAISE EXCEPTION 'usher.services: unknown service "%"', service
                USING HINT = 'Give a comma-separated list of identity, tenancy, invitation, notification.';
        END IF;
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', service, 'usher_' || service);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', service);
        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(),
                       'usher_' || service);
    END LOOP;
END
$$;
