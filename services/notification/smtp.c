#include "smtp.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"

/* An address in angle brackets: RFC 5321's 256-octet path. */
#define SMTP_PATH_MAX 258

struct notification_smtp_client {
	CURL *curl;
	/* The transfer in progress. */
	const char *data;
	size_t left;
	bool recipient_stage;       /* RCPT TO or later has been sent */
	bool quitting;              /* QUIT has been sent: its answer decides nothing */
	bool reply_about_recipient; /* last_reply answered RCPT, DATA or the data */
	char last_reply[SEND_REPLY_MAX];
	char errbuf[CURL_ERROR_SIZE];
};

us_err notification_smtp_global_init(char *err, size_t err_size)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, err_size, "could not initialise libcurl");
		return US_EINTERNAL;
	}
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	for (const char *const *p = v->protocols; *p != NULL; p++) {
		if (strcmp(*p, "smtp") == 0)
			return US_OK;
	}
	curl_global_cleanup();
	snprintf(err, err_size, "libcurl %s was built without SMTP", v->version);
	return US_EUNIMPLEMENTED;
}

void notification_smtp_global_cleanup(void)
{
	curl_global_cleanup();
}

const char *notification_smtp_check_url(const char *url)
{
	const char *host = strncmp(url, "smtp://", 7) == 0    ? url + 7
	                   : strncmp(url, "smtps://", 8) == 0 ? url + 8
	                                                      : NULL;
	if (host == NULL)
		return "must start with smtp:// or smtps://";
	if (host[0] == '\0' || host[0] == '/' || host[0] == ':')
		return "must name a host";
	return NULL;
}

const char *notification_smtp_check_starttls(const char *value)
{
	if (strcmp(value, "try") == 0 || strcmp(value, "require") == 0 || strcmp(value, "off") == 0)
		return NULL;
	return "must be try, require or off";
}

static size_t on_read(char *buffer, size_t size, size_t nitems, void *arg)
{
	notification_smtp_client *c = arg;
	size_t n = size * nitems < c->left ? size * nitems : c->left;
	memcpy(buffer, c->data, n);
	c->data += n;
	c->left -= n;
	return n;
}

static bool starts_with(const char *data, size_t size, const char *prefix)
{
	size_t len = strlen(prefix);
	return size >= len && memcmp(data, prefix, len) == 0;
}

void notification_smtp_printable(char *out, size_t out_size, const char *line, size_t size)
{
	while (size > 0 && (line[size - 1] == '\n' || line[size - 1] == '\r'))
		size--;
	if (size >= out_size)
		size = out_size - 1;
	for (size_t i = 0; i < size; i++) {
		unsigned char ch = (unsigned char)line[i];
		out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[size] = '\0';
}

/* Keeps a printable copy of a server line: it is stored and shown to people. */
static void keep_reply(notification_smtp_client *c, const char *line, size_t size)
{
	notification_smtp_printable(c->last_reply, sizeof(c->last_reply), line, size);
	c->reply_about_recipient = c->recipient_stage;
}

/* Commands are only looked at, never logged: AUTH carries the password. */
static int on_debug(CURL *handle, curl_infotype type, char *data, size_t size, void *arg)
{
	(void)handle;
	notification_smtp_client *c = arg;
	if (type == CURLINFO_HEADER_OUT) {
		c->quitting = starts_with(data, size, "QUIT");
		if (starts_with(data, size, "MAIL"))
			c->recipient_stage = false;
		else if (starts_with(data, size, "RCPT") || starts_with(data, size, "DATA"))
			c->recipient_stage = true;
	} else if (type == CURLINFO_HEADER_IN && !c->quitting) {
		keep_reply(c, data, size);
	}
	return 0;
}

static long starttls_level(const char *value)
{
	if (strcmp(value, "require") == 0)
		return (long)CURLUSESSL_ALL;
	if (strcmp(value, "off") == 0)
		return (long)CURLUSESSL_NONE;
	return (long)CURLUSESSL_TRY;
}

static CURLcode configure(notification_smtp_client *c, const notification_settings *s)
{
	CURL *h = c->curl;
	CURLcode rc = CURLE_OK;
	/* The first failure sticks. */
#define SET(opt, value) (rc = rc != CURLE_OK ? rc : curl_easy_setopt(h, opt, value))
	SET(CURLOPT_URL, s->smtp_url);
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)s->smtp_connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)s->smtp_timeout_ms);
	SET(CURLOPT_USE_SSL, starttls_level(s->smtp_starttls));
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_READFUNCTION, on_read);
	SET(CURLOPT_READDATA, c);
	SET(CURLOPT_VERBOSE, 1L); /* the debug callback sees the commands and replies */
	SET(CURLOPT_DEBUGFUNCTION, on_debug);
	SET(CURLOPT_DEBUGDATA, c);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	if (s->smtp_user != NULL)
		SET(CURLOPT_USERNAME, s->smtp_user);
	if (s->smtp_password != NULL)
		SET(CURLOPT_PASSWORD, s->smtp_password);
	if (s->smtp_ca_file != NULL)
		SET(CURLOPT_CAINFO, s->smtp_ca_file);
#undef SET
	return rc;
}

us_err notification_smtp_open(const notification_settings *s, notification_smtp_client **out,
                              char *err, size_t err_size)
{
	notification_smtp_client *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->curl = curl_easy_init()) == NULL) {
		free(c);
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	CURLcode rc = configure(c, s);
	if (rc != CURLE_OK) {
		snprintf(err, err_size, "could not configure libcurl: %s", curl_easy_strerror(rc));
		notification_smtp_close(c);
		return US_EINVAL;
	}
	*out = c;
	return US_OK;
}

int notification_smtp_reply_code(const char *reply)
{
	if (reply[0] < '2' || reply[0] > '5' || reply[1] < '0' || reply[1] > '9' ||
	    reply[2] < '0' || reply[2] > '9')
		return 0;
	return (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + (reply[2] - '0');
}

notification_send_outcome notification_smtp_outcome(bool transferred, const char *last_reply,
                                                    bool about_recipient)
{
	if (transferred)
		return SEND_OK;
	int code = notification_smtp_reply_code(last_reply);
	return code >= 500 && about_recipient ? SEND_REFUSED : SEND_TRANSIENT;
}

static void classify(notification_smtp_client *c, CURLcode rc, notification_send_result *result)
{
	int code = notification_smtp_reply_code(c->last_reply);
	result->outcome = notification_smtp_outcome(rc == CURLE_OK, c->last_reply,
	                                            c->reply_about_recipient);
	if (rc == CURLE_OK) {
		snprintf(result->reply, sizeof(result->reply), "%s", c->last_reply);
		return;
	}
	if (code >= 400) {
		snprintf(result->reply, sizeof(result->reply), "%s", c->last_reply);
		if (code >= 500 && !c->reply_about_recipient)
			us_log_fields(US_LOG_ERROR, "the SMTP server refused the session", "reply",
			              c->last_reply, NULL);
		return;
	}
	snprintf(result->reply, sizeof(result->reply), "no answer: %.200s",
	         c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc));
}

void notification_smtp_send(notification_smtp_client *c, const char *from, const char *to,
                            const char *data, size_t len, notification_send_result *result)
{
	char sender[SMTP_PATH_MAX], recipient[SMTP_PATH_MAX];
	snprintf(sender, sizeof(sender), "<%s>", from);
	snprintf(recipient, sizeof(recipient), "<%s>", to);
	struct curl_slist rcpt = {recipient, NULL};
	c->data = data;
	c->left = len;
	c->recipient_stage = false;
	c->quitting = false;
	c->reply_about_recipient = false;
	c->last_reply[0] = '\0';
	c->errbuf[0] = '\0';
	CURLcode rc = curl_easy_setopt(c->curl, CURLOPT_MAIL_FROM, sender);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, &rcpt);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(c->curl);
	classify(c, rc, result);
	(void)curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, NULL);
}

void notification_smtp_close(notification_smtp_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}
