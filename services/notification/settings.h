/* usher-notificationd's own settings, declared in main.c's table. */
#ifndef NOTIFICATION_SETTINGS_H
#define NOTIFICATION_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct notification_settings {
	char *smtp_url;       /* NULL: write to the spool directory instead */
	char *smtp_user;
	char *smtp_password;
	char *smtp_starttls;  /* "try", "require" or "off" */
	char *smtp_ca_file;
	int64_t smtp_connect_timeout_ms;
	int64_t smtp_timeout_ms;
	char *mail_from;
	char *mail_spool_dir;
	char *template_dir;
	int64_t delivery_workers;
	int64_t delivery_batch;
	int64_t delivery_poll_ms;
	int64_t reclaim_interval_s;
	int64_t retry_base_ms;
	int64_t retry_max_ms;
	int64_t retry_max_age_s;
	char *seal_key_hex;
	int64_t message_retention_days;
	int64_t event_retention_days;
	char *identity_url;
	char *tenancy_url;
	int64_t webhook_workers;
	int64_t webhook_poll_ms;
	int64_t webhook_timeout_ms;
	int64_t webhook_retry_base_ms;
	int64_t webhook_retry_max_ms;
	int64_t webhook_retry_max_age_s;
	int64_t webhook_disable_after_s;
	bool webhook_allow_private;
} notification_settings;

#endif
