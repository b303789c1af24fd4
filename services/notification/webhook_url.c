#include "webhook_url.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

static bool has_blank_or_control(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

/* Is part present in the parsed URL? */
static bool has_part(CURLU *h, CURLUPart part)
{
	char *value = NULL;
	CURLUcode rc = curl_url_get(h, part, &value, 0);
	bool present = rc == CURLUE_OK && value != NULL && value[0] != '\0';
	curl_free(value);
	return present;
}

const char *notification_webhook_url_problem(const char *url)
{
	size_t len = strlen(url);
	if (len == 0)
		return "is required";
	if (len > WEBHOOK_URL_MAX)
		return "must be at most 2048 bytes";
	if (has_blank_or_control(url))
		return "must not contain spaces or control characters";
	/* Only an absolute http(s) URL: the scheme is checked before curl, which would
	 * otherwise guess one for "example.com/hook". */
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return "must be an http or https URL";
	if (url[strcspn(url, ":") + 3] == '/')
		return "must name a host";
	CURLU *h = curl_url();
	if (h == NULL)
		return "could not be checked (out of memory)";
	const char *why = NULL;
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK)
		why = "is not a valid URL";
	else if (has_part(h, CURLUPART_USER) || has_part(h, CURLUPART_PASSWORD) ||
	         has_part(h, CURLUPART_OPTIONS))
		why = "must not contain credentials (user:password@)";
	else if (!has_part(h, CURLUPART_HOST))
		why = "must name a host";
	curl_url_cleanup(h);
	return why;
}
