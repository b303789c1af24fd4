/* usher-invitationd: see docs/architecture.md. */
#include "daemon.h"
#include "server.h"

extern const us_migration invitation_migrations[];

int main(int argc, char **argv)
{
	const us_daemon_spec spec = {
		.name = "usher-invitationd",
		.summary = "invitations, permanent links and the accept saga",
		.schema = "invitation",
		.migrations = invitation_migrations,
		.services = invitation_services,
		.n_services = invitation_n_services,
	};
	return us_daemon_main(&spec, argc, argv);
}
