/* usher-identityd: see docs/architecture.md. */
#include "daemon.h"
#include "server.h"

extern const us_migration identity_migrations[];

int main(int argc, char **argv)
{
	const us_daemon_spec spec = {
		.name = "usher-identityd",
		.summary = "users, credentials, sessions and self-service profiles",
		.schema = "identity",
		.migrations = identity_migrations,
		.services = identity_services,
		.n_services = identity_n_services,
	};
	return us_daemon_main(&spec, argc, argv);
}
