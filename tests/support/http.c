#include "http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/clock.h"

#define EXTRA_HEADERS 4

struct ut_browser {
	CURL *curl;
	char base[64];
	char *csrf;
	char *accept;
	char *headers[EXTRA_HEADERS];
};

int ut_gateway_port(ut_system *sys)
{
	for (int tries = 0; tries < 100; tries++) {
		FILE *f = fopen(sys->daemons[UT_GATEWAY].log_path, "r");
		char line[2048];
		int port = 0;
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			json_t *doc = json_loads(line, 0, NULL);
			const char *msg = doc ? json_string_value(json_object_get(doc, "msg")) : NULL;
			if (msg != NULL && strcmp(msg, "http listening") == 0)
				port = atoi(json_string_value(json_object_get(doc, "port")));
			json_decref(doc);
		}
		if (f != NULL)
			fclose(f);
		if (port > 0)
			return port;
		usleep(50 * 1000);
	}
	fail_msg("the gateway did not log its port");
	return 0;
}

ut_browser *ut_browser_new(ut_system *sys)
{
	ut_browser *b = calloc(1, sizeof(*b));
	b->curl = curl_easy_init();
	assert_non_null(b->curl);
	snprintf(b->base, sizeof(b->base), "http://127.0.0.1:%d", ut_gateway_port(sys));
	curl_easy_setopt(b->curl, CURLOPT_COOKIEFILE, ""); /* in-memory cookie jar */
	curl_easy_setopt(b->curl, CURLOPT_TIMEOUT, 60L);
	return b;
}

void ut_browser_free(ut_browser *b)
{
	if (b == NULL)
		return;
	curl_easy_cleanup(b->curl);
	free(b->csrf);
	free(b->accept);
	ut_browser_clear_headers(b);
	free(b);
}

void ut_browser_add_header(ut_browser *b, const char *line)
{
	for (int i = 0; i < EXTRA_HEADERS; i++) {
		if (b->headers[i] == NULL) {
			b->headers[i] = strdup(line);
			return;
		}
	}
	fail_msg("more than %d extra headers", EXTRA_HEADERS);
}

void ut_browser_clear_headers(ut_browser *b)
{
	for (int i = 0; i < EXTRA_HEADERS; i++) {
		free(b->headers[i]);
		b->headers[i] = NULL;
	}
}

void ut_browser_set_csrf(ut_browser *b, const char *token)
{
	free(b->csrf);
	b->csrf = token ? strdup(token) : NULL;
}

void ut_browser_set_accept(ut_browser *b, const char *accept)
{
	free(b->accept);
	b->accept = accept ? strdup(accept) : NULL;
}

void ut_browser_set_header(ut_browser *b, const char *line)
{
	ut_browser_clear_headers(b);
	if (line != NULL)
		ut_browser_add_header(b, line);
}

typedef struct buffer {
	char *data;
	size_t len;
} buffer;

static size_t collect(char *ptr, size_t size, size_t n, void *arg)
{
	buffer *buf = arg;
	size_t add = size * n;
	buf->data = realloc(buf->data, buf->len + add + 1);
	memcpy(buf->data + buf->len, ptr, add);
	buf->len += add;
	buf->data[buf->len] = '\0';
	return add;
}

void ut_http(ut_browser *b, const char *method, const char *path, const char *body, size_t len,
             const char *content_type, ut_reply *out)
{
	memset(out, 0, sizeof(*out));
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", b->base, path);
	buffer resp = {calloc(1, 1), 0}, heads = {calloc(1, 1), 0};
	struct curl_slist *hdrs = NULL;
	char line[256];
	snprintf(line, sizeof(line), "Content-Type: %s", content_type ? content_type : "application/json");
	hdrs = curl_slist_append(hdrs, line);
	if (b->csrf != NULL) {
		snprintf(line, sizeof(line), "X-CSRF-Token: %s", b->csrf);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (b->accept != NULL) {
		snprintf(line, sizeof(line), "Accept: %s", b->accept);
		hdrs = curl_slist_append(hdrs, line);
	}
	for (int i = 0; i < EXTRA_HEADERS && b->headers[i] != NULL; i++)
		hdrs = curl_slist_append(hdrs, b->headers[i]);
	hdrs = curl_slist_append(hdrs, "Expect:");
	CURL *c = b->curl;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &heads);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	}
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hdrs);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	/* A server that refuses a large body may close before reading it all. */
	if (rc != CURLE_OK && rc != CURLE_SEND_ERROR)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	out->body = resp.data;
	out->len = resp.len;
	out->headers = heads.data;
	out->json = json_loadb(resp.data, resp.len, 0, NULL);
}

void ut_reply_free(ut_reply *r)
{
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

long ut_url_get(const char *url, char **body)
{
	CURL *c = curl_easy_init();
	if (c == NULL)
		fail_msg("curl_easy_init failed");
	buffer resp = {calloc(1, 1), 0};
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	long status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (body != NULL)
		*body = resp.data;
	else
		free(resp.data);
	return status;
}

long ut_admin_get(const ut_daemon *d, const char *path, char **body)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", d->admin_port, path);
	return ut_url_get(url, body);
}

int64_t ut_admin_wait_ready(const ut_daemon *d, bool ready, int timeout_ms)
{
	int64_t start = us_monotonic_ms();
	for (;;) {
		long status = ut_admin_get(d, "/readyz", NULL);
		int64_t took = us_monotonic_ms() - start;
		if ((ready && status == 200) || (!ready && status == 503))
			return took;
		if (took > timeout_ms)
			return -1;
		usleep(10 * 1000);
	}
}
