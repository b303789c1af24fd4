/* usher-notificationd: the email queue, templates and SMTP delivery; see
 * docs/architecture.md and delivery.h. */
#include <stddef.h>
#include <stdio.h>

#include <curl/curl.h>
#include <sodium.h>

#include "common/daemon.h"
#include "context.h"
#include "common/db.h"
#include "delivery.h"
#include "events.h"
#include "events_store.h"
#include "common/log.h"
#include "erase.h"
#include "common/metrics.h"
#include "common/principal_lookup.h"
#include "webhooks.h"
#include "server.h"
#include "smtp.h"
#include "store.h"
#include "common/token.h"
#include "common/validate.h"

extern const us_migration notification_migrations[];


static const char *check_mailbox(const char *value)
{
	notification_mime_mailbox m;
	return notification_mime_parse_mailbox(value, &m);
}

#define VAR(name, type, field, flags, fallback, min, max, check, help)                           \
	{name, type, offsetof(notification_settings, field), flags, fallback, min, max, check, help}

static const us_config_var notification_vars[] = {
	VAR("SMTP_URL", US_CONFIG_STRING, smtp_url, US_CONFIG_SECRET, NULL, 1, 1024,
	    notification_smtp_check_url,
	    "mail server, smtp://host:port or smtps://host:port; unset: write to MAIL_SPOOL_DIR"),
	VAR("SMTP_USER", US_CONFIG_STRING, smtp_user, 0, NULL, 1, 256, NULL, "user name for SMTP AUTH"),
	VAR("SMTP_PASSWORD", US_CONFIG_STRING, smtp_password, US_CONFIG_SECRET, NULL, 1, 256, NULL,
	    "password for SMTP AUTH"),
	VAR("SMTP_STARTTLS", US_CONFIG_STRING, smtp_starttls, 0, "try", 2, 7,
	    notification_smtp_check_starttls,
	    "STARTTLS on smtp://: try, require or off"),
	VAR("SMTP_CA_FILE", US_CONFIG_STRING, smtp_ca_file, 0, NULL, 1, 1024, NULL,
	    "CA certificates that verify the mail server (default: the system's)"),
	VAR("SMTP_CONNECT_TIMEOUT_MS", US_CONFIG_INT, smtp_connect_timeout_ms, 0, "10000", 100,
	    300000, NULL, "longest wait for a connection to the mail server"),
	VAR("SMTP_TIMEOUT_MS", US_CONFIG_INT, smtp_timeout_ms, 0, "60000", 100, 600000, NULL,
	    "longest time one message's transfer may take, connection included"),
	VAR("MAIL_FROM", US_CONFIG_STRING, mail_from, 0, "Usher <no-reply@usher.localhost>", 3, 330,
	    check_mailbox, "sender, \"Name <address>\"; its domain names the Message-IDs"),
	VAR("MAIL_SPOOL_DIR", US_CONFIG_STRING, mail_spool_dir, 0, "var/mail", 1, 1024, NULL,
	    "without SMTP_URL, each message is written here as <message id>.eml"),
	VAR("TEMPLATE_DIR", US_CONFIG_STRING, template_dir, 0, NULL, 1, 1024, NULL,
	    "directory whose <template>.subject, .txt and .html files replace the built-in ones"),
	VAR("DELIVERY_WORKERS", US_CONFIG_INT, delivery_workers, 0, "4", 0, 64, NULL,
	    "delivery threads, each with its own database and SMTP connection (0: this replica "
	    "only queues, others deliver)"),
	VAR("DELIVERY_BATCH", US_CONFIG_INT, delivery_batch, 0, "20", 1, 500, NULL,
	    "messages a delivery thread claims at a time"),
	VAR("DELIVERY_POLL_MS", US_CONFIG_INT, delivery_poll_ms, 0, "1000", 10, 60000, NULL,
	    "how often an idle delivery thread looks for messages queued by other replicas"),
	VAR("RECLAIM_INTERVAL_S", US_CONFIG_INT, reclaim_interval_s, 0, "60", 1, 3600, NULL,
	    "how often messages claimed by a process that died are taken back"),
	VAR("RETRY_BASE_MS", US_CONFIG_INT, retry_base_ms, 0, "30000", 10, 86400000, NULL,
	    "delay before the first retry; doubles with each retry"),
	VAR("RETRY_MAX_MS", US_CONFIG_INT, retry_max_ms, 0, "3600000", 10, 86400000, NULL,
	    "longest delay between retries"),
	VAR("RETRY_MAX_AGE_S", US_CONFIG_INT, retry_max_age_s, 0, "86400", 1, 2592000, NULL,
	    "a message still failing this long after it was queued fails for good"),
	VAR("NOTIFICATION_SEAL_KEY", US_CONFIG_STRING, seal_key_hex,
	    US_CONFIG_REQUIRED | US_CONFIG_SECRET, NULL, 64, 64, us_token_check_key_hex,
	    "64 hex digits: the key queued messages' variables (their links) are sealed with "
	    "(keep it out of the database)"),
	VAR("MESSAGE_RETENTION_DAYS", US_CONFIG_INT, message_retention_days, 0, "90", 0, 36500,
	    NULL, "sent, failed and suppressed messages and their attempts are deleted this long "
	          "after they ended (0: never)"),
	VAR("EVENT_RETENTION_DAYS", US_CONFIG_INT, event_retention_days, 0, "90", 0, 36500, NULL,
	    "events, ended webhook deliveries (with their attempts) and deleted webhook endpoints "
	    "are deleted this long after (0: never); a delivery still being retried keeps its event"),
	VAR("IDENTITY_RPC_URL", US_CONFIG_STRING, identity_url, US_CONFIG_REQUIRED, NULL, 1, 0,
	    us_config_check_nng_urls, "address of usher-identityd (it knows service principals)"),
	VAR("TENANCY_RPC_URL", US_CONFIG_STRING, tenancy_url, US_CONFIG_REQUIRED, NULL, 1, 0,
	    us_config_check_nng_urls,
	    "address of usher-tenancyd (it says who may manage an account's webhooks)"),
	VAR("WEBHOOK_WORKERS", US_CONFIG_INT, webhook_workers, 0, "2", 1, 32, NULL,
	    "webhook delivery threads, each posting one delivery at a time"),
	VAR("WEBHOOK_POLL_MS", US_CONFIG_INT, webhook_poll_ms, 0, "1000", 10, 60000, NULL,
	    "how often webhook deliveries due for a retry are looked for"),
	VAR("WEBHOOK_TIMEOUT_MS", US_CONFIG_INT, webhook_timeout_ms, 0, "10000", 100, 60000, NULL,
	    "longest a webhook post may take, connection included"),
	VAR("WEBHOOK_RETRY_BASE_MS", US_CONFIG_INT, webhook_retry_base_ms, 0, "5000", 10, 86400000,
	    NULL, "delay before a failed webhook's first retry; doubles with each retry"),
	VAR("WEBHOOK_RETRY_MAX_MS", US_CONFIG_INT, webhook_retry_max_ms, 0, "21600000", 10,
	    86400000, NULL, "longest delay between a webhook's retries"),
	VAR("WEBHOOK_RETRY_MAX_AGE_S", US_CONFIG_INT, webhook_retry_max_age_s, 0, "259200", 1,
	    2592000, NULL, "a webhook still failing this long after its event fails for good"),
	VAR("WEBHOOK_DISABLE_AFTER_S", US_CONFIG_INT, webhook_disable_after_s, 0, "432000", 1,
	    2592000, NULL, "a webhook endpoint whose deliveries have failed this long is disabled"),
	VAR("WEBHOOK_ALLOW_PRIVATE", US_CONFIG_BOOL, webhook_allow_private, 0, "false", 0, 0, NULL,
	    "let webhooks post to loopback, private and link-local addresses (an egress proxy on "
	    "the private network, local development)"),
};

static us_err check_settings(const notification_settings *s, char *err, size_t err_size)
{
	if (s->retry_max_ms < s->retry_base_ms) {
		snprintf(err, err_size, "RETRY_MAX_MS must not be below RETRY_BASE_MS");
		return US_EINVAL;
	}
	if (s->webhook_retry_max_ms < s->webhook_retry_base_ms) {
		snprintf(err, err_size, "WEBHOOK_RETRY_MAX_MS must not be below WEBHOOK_RETRY_BASE_MS");
		return US_EINVAL;
	}
	if (s->smtp_password != NULL && s->smtp_user == NULL) {
		snprintf(err, err_size, "SMTP_PASSWORD is set but SMTP_USER is not");
		return US_EINVAL;
	}
	return US_OK;
}

/* Messages queued before sealing existed get their variables sealed now. */
static us_err seal_plain_variables(const notification_ctx *ctx, char *err, size_t err_size)
{
	PGconn *db;
	us_err rc = us_db_connect(ctx->database_url, "notification", &db, err, err_size);
	if (rc != US_OK)
		return rc;
	int64_t n = 0;
	rc = notification_store_seal_plain_variables(db, ctx->seal_key, &n);
	PQfinish(db);
	if (rc != US_OK) {
		snprintf(err, err_size, "could not seal the variables of queued messages");
		return rc;
	}
	if (n > 0)
		us_info("sealed the variables of %lld queued messages", (long long)n);
	return US_OK;
}

static us_err start(void *arg, const us_daemon_config *cfg, char *err, size_t err_size)
{
	notification_ctx *ctx = arg;
	const notification_settings *s = &ctx->settings;
	ctx->database_url = cfg->database_url;
	us_err rc = check_settings(s, err, err_size);
	if (rc != US_OK)
		return rc;
	if (us_token_key_from_hex(s->seal_key_hex, ctx->seal_key) != 0) {
		snprintf(err, err_size, "NOTIFICATION_SEAL_KEY: must be 64 hex digits");
		return US_EINVAL;
	}
	if ((rc = seal_plain_variables(ctx, err, err_size)) != US_OK)
		return rc;
	const char *why = notification_mime_parse_mailbox(s->mail_from, &ctx->from);
	if (why != NULL) {
		snprintf(err, err_size, "MAIL_FROM: %s", why);
		return US_EINVAL;
	}
	snprintf(ctx->message_id_domain, sizeof(ctx->message_id_domain), "%s",
	         us_email_domain(ctx->from.address));
	rc = notification_template_set_load(s->template_dir, &ctx->templates, err, err_size);
	if (rc != US_OK)
		return rc;
	/* Once, before any thread of ours starts: curl_global_init is not thread-safe, and
	 * under ThreadSanitizer it crashed the delivery threads' libpq connections. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		notification_template_set_free(ctx->templates);
		ctx->templates = NULL;
		snprintf(err, err_size, "could not initialise libcurl");
		return US_EINTERNAL;
	}
	us_rpc_client_opts identity = {.url = s->identity_url, .caller = "usher-notificationd",
	                               .wait_for_server = true};
	rc = us_rpc_client_open(&identity, &ctx->identity, err, err_size);
	/* Dialled in the background: tenancyd starts after this daemon. */
	us_rpc_client_opts tenancy = {.url = s->tenancy_url, .caller = "usher-notificationd",
	                              .wait_for_server = true};
	if (rc == US_OK)
		rc = us_rpc_client_open(&tenancy, &ctx->tenancy, err, err_size);
	if (rc == US_OK)
		rc = notification_delivery_start(ctx, "notification", &ctx->delivery, err, err_size);
	if (rc == US_OK)
		rc = notification_webhooks_start(ctx, &ctx->webhooks, err, err_size);
	if (rc != US_OK) {
		notification_delivery_stop(ctx->delivery);
		ctx->delivery = NULL;
		us_rpc_client_close(ctx->tenancy);
		ctx->tenancy = NULL;
		us_rpc_client_close(ctx->identity);
		ctx->identity = NULL;
		notification_template_set_free(ctx->templates);
		ctx->templates = NULL;
		curl_global_cleanup();
		return rc;
	}
	us_log_fields(US_LOG_INFO, "delivering", "by", s->smtp_url != NULL ? "smtp" : "spool",
	              "spool", s->smtp_url != NULL ? "" : s->mail_spool_dir, NULL);
	return US_OK;
}

static void stop(void *arg)
{
	notification_ctx *ctx = arg;
	notification_webhooks_stop(ctx->webhooks);
	ctx->webhooks = NULL;
	notification_delivery_stop(ctx->delivery);
	ctx->delivery = NULL;
	us_rpc_client_close(ctx->tenancy);
	ctx->tenancy = NULL;
	us_rpc_client_close(ctx->identity);
	ctx->identity = NULL;
	curl_global_cleanup();
	notification_template_set_free(ctx->templates);
	ctx->templates = NULL;
	sodium_memzero(ctx->seal_key, sizeof(ctx->seal_key));
}

/* The email queue's and the webhook deliveries' gauges for /metrics. */
static void collect(void *arg, PGconn *db)
{
	(void)arg;
	int64_t depth = 0;
	double oldest = 0;
	if (notification_store_queue_gauges(db, &depth, &oldest) != US_OK)
		return;
	us_metrics_set(us_metrics_family(US_METRIC_GAUGE, "usher_email_queue_depth",
	                                 "emails queued, not yet sent, failed or suppressed", ""),
	               NULL, (double)depth);
	us_metrics_set(us_metrics_family(US_METRIC_GAUGE, "usher_email_oldest_age_seconds",
	                                 "age of the oldest queued email (0: none)", ""),
	               NULL, oldest);
	if (notification_webhooks_gauges(db, &depth, &oldest) != US_OK)
		return;
	us_metrics_set(us_metrics_family(US_METRIC_GAUGE, "usher_webhook_backlog",
	                                 "webhook deliveries pending for enabled endpoints", ""),
	               NULL, (double)depth);
	us_metrics_set(us_metrics_family(US_METRIC_GAUGE, "usher_webhook_oldest_age_seconds",
	                                 "age of the oldest pending webhook delivery (0: none)", ""),
	               NULL, oldest);
}

int main(int argc, char **argv)
{
	notification_ctx context = {0};
	const us_rpc_service services[] = {notification_server_service(&context),
	                                   notification_erase_service(&context),
	                                   notification_server_event_service(&context)};
	const us_retention_rule retention[] = {
		{"messages", notification_store_purge_messages, &context.settings.message_retention_days},
		/* Deliveries before the events and endpoints they name. */
		{"webhook deliveries", notification_store_purge_webhook_deliveries,
		 &context.settings.event_retention_days},
		{"events", notification_store_purge_events, &context.settings.event_retention_days},
		{"webhook endpoints", notification_store_purge_webhook_endpoints,
		 &context.settings.event_retention_days},
	};
	const us_daemon_spec spec = {
		.name = "usher-notificationd",
		.summary = "the email queue, templates and SMTP delivery",
		.schema = "notification",
		.migrations = notification_migrations,
		.services = services,
		.n_services = sizeof(services) / sizeof(services[0]),
		.config = notification_vars,
		.n_config = sizeof(notification_vars) / sizeof(notification_vars[0]),
		.config_struct = &context.settings,
		.retention = retention,
		.n_retention = sizeof(retention) / sizeof(retention[0]),
		.reply_secrets = notification_events_reply_secrets,
		.n_reply_secrets = notification_events_n_reply_secrets,
		.principal_lookup = us_principal_lookup_remote,
		.principal_lookup_ctx = &context.identity,
		.ctx = &context,
		.start = start,
		.stop = stop,
		.admin_listen = "127.0.0.1:9104",
		.collect = collect,
	};
	return us_daemon_main(&spec, argc, argv);
}
