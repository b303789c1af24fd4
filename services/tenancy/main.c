/* usher-tenancyd: see docs/architecture.md. */
#include "daemon.h"
#include "server.h"

extern const us_migration tenancy_migrations[];

int main(int argc, char **argv)
{
	const us_daemon_spec spec = {
		.name = "usher-tenancyd",
		.summary = "accounts, subaccounts, memberships, roles and permission checks",
		.schema = "tenancy",
		.migrations = tenancy_migrations,
		.services = tenancy_services,
		.n_services = tenancy_n_services,
	};
	return us_daemon_main(&spec, argc, argv);
}
