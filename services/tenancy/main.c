/* usher-tenancyd: see docs/architecture.md. */
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>

#include "common/daemon.h"
#include "context.h"
#include "erase.h"
#include "grants.h"
#include "common/log.h"
#include "permissions.h"
#include "common/principal_lookup.h"
#include "products.h"
#include "server.h"

extern const us_migration tenancy_migrations[];


/* The reason a bad file gives, for the settings check to print (settings load on one
 * thread, before any other starts). */
static char matrix_error[512];

/* Refusing a bad matrix with the settings stops the daemon before it touches the
 * database, with one line naming file:line. */
static const char *matrix_file_check(const char *path)
{
	tenancy_matrix *m;
	if (tenancy_matrix_load(path, &m, matrix_error, sizeof(matrix_error)) != US_OK)
		return matrix_error;
	tenancy_matrix_free(m);
	return NULL;
}

static char catalogue_error[512];

static const char *catalogue_file_check(const char *path)
{
	tenancy_catalogue *c;
	if (tenancy_catalogue_load(path, &c, catalogue_error, sizeof(catalogue_error)) != US_OK)
		return catalogue_error;
	tenancy_catalogue_free(c);
	return NULL;
}

static const us_config_var tenancy_vars[] = {
	{"PERMISSION_MATRIX_FILE", US_CONFIG_STRING,
	 offsetof(tenancy_settings, permission_matrix_file), 0, NULL, 1, 4096, matrix_file_check,
	 "permission matrix, one \"action minimum-role\" per line (unset: the built-in "
	 "services/tenancy/permissions.conf); reread on SIGHUP"},
	{"IDENTITY_RPC_URL", US_CONFIG_STRING, offsetof(tenancy_settings, identity_url),
	 US_CONFIG_REQUIRED, NULL, 1, 0, us_config_check_nng_urls,
	 "address of usher-identityd, which knows service principals"},
	{"PRODUCT_CATALOGUE_FILE", US_CONFIG_STRING,
	 offsetof(tenancy_settings, product_catalogue_file), 0, NULL, 1, 4096, catalogue_file_check,
	 "the products accounts may enable, one name per line (unset: the built-in "
	 "services/tenancy/products.conf); reread on SIGHUP"},
	{"NOTIFICATION_RPC_URL", US_CONFIG_STRING, offsetof(tenancy_settings, notification_url),
	 US_CONFIG_REQUIRED, NULL, 1, 0, us_config_check_nng_urls,
	 "address of usher-notificationd, which takes the membership events"},
	{"EVENTS_POLL_MS", US_CONFIG_INT, offsetof(tenancy_settings, events_poll_ms), 0, "1000", 10,
	 60000, NULL,
	 "how often the events table is checked for rows another process wrote (another replica)"},
};

static us_err load_matrix(tenancy_ctx *ctx, char *err, size_t err_size)
{
	const tenancy_settings *config = &ctx->settings;
	tenancy_matrix *m;
	us_err rc = tenancy_matrix_load(config->permission_matrix_file, &m, err, err_size);
	if (rc != US_OK)
		return rc;
	char actions[24];
	snprintf(actions, sizeof(actions), "%zu", tenancy_matrix_size(m));
	tenancy_permissions_install(ctx, m);
	us_log_fields(US_LOG_INFO, "permission matrix loaded", "file",
	              config->permission_matrix_file ? config->permission_matrix_file : "(built in)",
	              "actions", actions, NULL);
	return US_OK;
}

static us_err load_catalogue(tenancy_ctx *ctx, char *err, size_t err_size)
{
	const tenancy_settings *config = &ctx->settings;
	tenancy_catalogue *c;
	us_err rc = tenancy_catalogue_load(config->product_catalogue_file, &c, err, err_size);
	if (rc != US_OK)
		return rc;
	char products[24];
	snprintf(products, sizeof(products), "%zu", tenancy_catalogue_size(c));
	tenancy_products_install(ctx, c);
	us_log_fields(US_LOG_INFO, "product catalogue loaded", "file",
	              config->product_catalogue_file ? config->product_catalogue_file : "(built in)",
	              "products", products, NULL);
	return US_OK;
}

static void stop(void *arg);

static us_err start(void *arg, const us_daemon_config *cfg, char *err, size_t err_size)
{
	tenancy_ctx *ctx = arg;
	us_err rc = load_matrix(ctx, err, err_size);
	us_rpc_client_opts opts = {.url = ctx->settings.identity_url, .caller = "usher-tenancyd",
	                           .wait_for_server = true};
	if (rc == US_OK)
		rc = load_catalogue(ctx, err, err_size);
	if (rc == US_OK)
		rc = us_rpc_client_open(&opts, &ctx->identity, err, err_size);
	opts.url = ctx->settings.notification_url;
	if (rc == US_OK)
		rc = us_rpc_client_open(&opts, &ctx->notification, err, err_size);
	if (rc == US_OK) {
		us_event_relay_opts events = {.database_url = cfg->database_url,
		                              .schema = "tenancy",
		                              .notification = ctx->notification,
		                              .batch = 2000,
		                              .poll_ms = (uint32_t)ctx->settings.events_poll_ms};
		rc = us_event_relay_start(&events, &ctx->events, err, err_size);
	}
	if (rc != US_OK)
		stop(ctx);
	return rc;
}

/* A file that no longer parses leaves the running one in place. */
static void reload(void *arg)
{
	tenancy_ctx *ctx = arg;
	char err[512];
	if (load_matrix(ctx, err, sizeof(err)) != US_OK)
		us_error("permission matrix not reloaded, keeping the current one: %s", err);
	if (load_catalogue(ctx, err, sizeof(err)) != US_OK)
		us_error("product catalogue not reloaded, keeping the current one: %s", err);
}

static void stop(void *arg)
{
	tenancy_ctx *ctx = arg;
	tenancy_permissions_install(ctx, NULL);
	tenancy_products_install(ctx, NULL);
	us_event_relay_stop(ctx->events);
	ctx->events = NULL;
	us_rpc_client_close(ctx->notification);
	us_rpc_client_close(ctx->identity);
	ctx->identity = ctx->notification = NULL;
}

int main(int argc, char **argv)
{
	tenancy_ctx context = {.rules_lock = PTHREAD_RWLOCK_INITIALIZER};
	/* Service principals' keys are resolved there. */
	const us_admin_peer peers[] = {{"usher-identityd", &context.identity}};
	const us_rpc_service services[] = {tenancy_server_service(&context),
	                                   tenancy_server_audit_service(&context),
	                                   tenancy_erase_service(&context)};
	const us_daemon_spec spec = {
		.name = "usher-tenancyd",
		.summary = "accounts, subaccounts, memberships, roles and permission checks",
		.schema = "tenancy",
		.migrations = tenancy_migrations,
		.services = services,
		.n_services = sizeof(services) / sizeof(services[0]),
		.config = tenancy_vars,
		.n_config = sizeof(tenancy_vars) / sizeof(tenancy_vars[0]),
		.config_struct = &context.settings,
		.principal_lookup = us_principal_lookup_remote,
		.principal_lookup_ctx = &context.identity,
		.ctx = &context,
		.start = start,
		.stop = stop,
		.reload = reload,
		.reload_help = "PERMISSION_MATRIX_FILE and PRODUCT_CATALOGUE_FILE",
		.admin_listen = "127.0.0.1:9102",
		.peers = peers,
		.n_peers = sizeof(peers) / sizeof(peers[0]),
	};
	return us_daemon_main(&spec, argc, argv);
}
