-- The four service roles, one per daemon, cluster-wide. Run by psql as a superuser with
-- the passwords as variables:
--   psql -v identity_password=... -v tenancy_password=... -v invitation_password=...
--        -v notification_password=... -f roles.sql
-- Safe to run again: existing roles get their password reset.
\set ON_ERROR_STOP on
SELECT format('CREATE ROLE %I LOGIN', r)
  FROM unnest(ARRAY['usher_identity', 'usher_tenancy', 'usher_invitation',
                    'usher_notification']) AS r
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE usher_identity LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'identity_password';
ALTER ROLE usher_tenancy LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'tenancy_password';
ALTER ROLE usher_invitation LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'invitation_password';
ALTER ROLE usher_notification LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'notification_password';
