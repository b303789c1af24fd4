#!/usr/bin/env bash
# Runs once, when a postgres container initialises its data directory: creates the service
# roles and prepares the usher database (the same SQL ./usher up runs) for the services in
# USHER_SERVICES (comma-separated: one per cluster in docker-compose.yml; all four when
# unset, one shared cluster).
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
	-v identity_password="$IDENTITY_DB_PASSWORD" -v tenancy_password="$TENANCY_DB_PASSWORD" \
	-v invitation_password="$INVITATION_DB_PASSWORD" \
	-v notification_password="$NOTIFICATION_DB_PASSWORD" -f /usher-sql/roles.sql
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
	-c "SET usher.services = '${USHER_SERVICES:-identity,tenancy,invitation,notification}'" \
	-f /usher-sql/database.sql
