/* usher-notificationd: see docs/architecture.md. */
#include "daemon.h"
#include "server.h"

extern const us_migration notification_migrations[];

int main(int argc, char **argv)
{
	const us_daemon_spec spec = {
		.name = "usher-notificationd",
		.summary = "the email queue, templates and SMTP delivery",
		.schema = "notification",
		.migrations = notification_migrations,
		.services = notification_services,
		.n_services = notification_n_services,
	};
	return us_daemon_main(&spec, argc, argv);
}
