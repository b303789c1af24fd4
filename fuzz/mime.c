/* Email messages as usher-notificationd builds them (services/notification/mime.c): a
 * From setting parsed as "Name <address>", then a message with a subject (RFC 2047 words
 * when it is not plain ASCII) and text and HTML parts (7bit or quoted-printable). The
 * input is NUL-separated: From, To, subject, text, HTML, then date bytes. Subjects are
 * valid UTF-8 and recipients valid addresses, as the daemon's callers guarantee; the
 * bodies are any bytes. Properties: the message is 7-bit, every line ends in CRLF and
 * fits in 998 octets; its headers are exactly Usher's, in order, with folded lines only
 * where they may be; the subject and both parts decode back to what went in; the MIME
 * boundary appears only where it delimits the parts. */
#include "fuzz.h"

#include "mime.h"
#include "common/validate.h"

#define BOUNDARY "0b4c6a3e-5d1f-4e8a-9c2b-7f6e5d4c3b2a"
#define DELIMITER "\r\n--=_usher_" BOUNDARY

static const char *const header_order[] = {
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Auto-Submitted",
	"Content-Type",
};

/* The text as a part carries it: CRs dropped, LF as CRLF, and a last line end. */
static char *expected_part(const char *text, size_t *len)
{
	char *out = malloc(2 * strlen(text) + 3);
	FUZZ_CHECK(out != NULL);
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n')
			out[n++] = '\r';
		out[n++] = *p;
	}
	if (n > 0 && !(n >= 2 && out[n - 2] == '\r' && out[n - 1] == '\n')) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	out[n] = '\0';
	*len = n;
	return out;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Quoted-printable (RFC 2045), strictly as Usher writes it: upper-case escapes. */
static size_t decode_qp(const char *s, size_t len, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '=') {
			out[n++] = s[i];
			continue;
		}
		FUZZ_CHECK(i + 2 < len);
		if (s[i + 1] == '\r') {
			FUZZ_CHECK(s[i + 2] == '\n');
		} else {
			int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
			FUZZ_CHECK(hi >= 0 && lo >= 0);
			out[n++] = (char)(hi * 16 + lo);
		}
		i += 2;
	}
	return n;
}

static int b64_value(char c)
{
	static const char alphabet[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c != '\0' ? strchr(alphabet, c) : NULL;
	return p != NULL ? (int)(p - alphabet) : -1;
}

/* The subject header's value, unfolded, with its encoded words decoded. */
static char *decode_subject(const char *value, size_t len)
{
	char *out = malloc(len + 1);
	FUZZ_CHECK(out != NULL);
	if (len < 2 || strncmp(value, "=?", 2) != 0) {
		memcpy(out, value, len);
		out[len] = '\0';
		FUZZ_CHECK(memchr(value, '\r', len) == NULL);
		return out;
	}
	size_t n = 0;
	const char *p = value, *end = value + len;
	while (p < end) {
		if (p != value) {
			FUZZ_CHECK(end - p > 3 && strncmp(p, "\r\n ", 3) == 0);
			p += 3;
		}
		FUZZ_CHECK(end - p > 10 && strncmp(p, "=?UTF-8?B?", 10) == 0);
		p += 10;
		const char *close = strstr(p, "?=");
		FUZZ_CHECK(close != NULL && close < end);
		FUZZ_CHECK((close - p) % 4 == 0);
		/* One folded line: " =?UTF-8?B?" + 52 + "?=" is 64 octets. */
		FUZZ_CHECK(close - p <= 52);
		for (const char *q = p; q < close; q += 4) {
			int v[4];
			for (int k = 0; k < 4; k++)
				v[k] = q[k] == '=' ? 0 : b64_value(q[k]);
			FUZZ_CHECK(v[0] >= 0 && v[1] >= 0 && v[2] >= 0 && v[3] >= 0);
			out[n++] = (char)(v[0] << 2 | v[1] >> 4);
			if (q[2] != '=')
				out[n++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
			if (q[3] != '=')
				out[n++] = (char)((v[2] & 3) << 6 | v[3]);
		}
		/* A word holds whole characters. */
		FUZZ_CHECK(us_utf8_valid(out, n));
		p = close + 2;
	}
	out[n] = '\0';
	return out;
}

/* Finds the header called name in the header block; returns its value (after ": ") and
 * length, folded lines included. */
static const char *header_value(const char *head, const char *name, size_t *len)
{
	size_t name_len = strlen(name);
	for (const char *line = head; *line != '\r';) {
		const char *eol = strstr(line, "\r\n");
		while (eol[2] == ' ')
			eol = strstr(eol + 2, "\r\n");
		if (strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
			*len = (size_t)(eol - line) - name_len - 2;
			return line + name_len + 2;
		}
		line = eol + 2;
	}
	FUZZ_CHECK(!"header missing");
	return NULL;
}

/* Checks one part (its headers and content) against the text that went in. */
static void check_part(const char *part, size_t len, const char *type, const char *text)
{
	char head[128];
	const char *body = strstr(part, "\r\n\r\n");
	FUZZ_CHECK(body != NULL && body + 4 <= part + len);
	body += 4;
	size_t body_len = (size_t)(part + len - body);
	bool qp = strstr(part, "Content-Transfer-Encoding: quoted-printable\r\n") != NULL &&
	          strstr(part, "Content-Transfer-Encoding: quoted-printable\r\n") < body;
	snprintf(head, sizeof(head), "\r\nContent-Type: %s; charset=UTF-8\r\n"
	                             "Content-Transfer-Encoding: %s\r\n\r\n",
	         type, qp ? "quoted-printable" : "7bit");
	FUZZ_CHECK(strncmp(part, head, strlen(head)) == 0);
	size_t want_len;
	char *want = expected_part(text, &want_len);
	char *got = malloc(body_len + 1);
	FUZZ_CHECK(got != NULL);
	size_t got_len = qp ? decode_qp(body, body_len, got) : body_len;
	if (!qp)
		memcpy(got, body, body_len);
	FUZZ_CHECK(got_len == want_len && memcmp(got, want, want_len) == 0);
	free(got);
	free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input in = {data, size};
	char *from_text = fuzz_string(&in);
	char *to = fuzz_string(&in);
	char *subject = fuzz_string(&in);
	char *text = fuzz_string(&in);
	char *html = fuzz_string(&in);
	int64_t date = 0;
	for (int i = 0; i < 5; i++)
		date = date << 8 | fuzz_byte(&in); /* up to year 36000 or so */

	notification_mime_mailbox from;
	if (notification_mime_parse_mailbox(from_text, &from) != NULL)
		FUZZ_CHECK(notification_mime_parse_mailbox("Usher <noreply@usher.test>", &from) == NULL);
	if (us_email_check(to) != NULL) {
		free(to);
		to = strdup("someone@example.com");
	}
	if (!us_utf8_valid(subject, strlen(subject)))
		subject[0] = '\0';
	notification_mime_message m = {
		.from = &from,
		.to = to,
		.subject = subject,
		.message_id = "<" BOUNDARY "@usher.test>",
		.date = date,
		.boundary = BOUNDARY,
		.text = text,
		.html = html,
	};
	us_buf out = US_BUF_INIT;
	notification_mime_build(&m, &out);
	FUZZ_CHECK(!us_buf_failed(&out));
	const char *msg = out.data;

	/* 7-bit, CRLF, short lines. */
	size_t line = 0;
	for (size_t i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)msg[i];
		FUZZ_CHECK(c != 0 && c < 0x80);
		FUZZ_CHECK(c != '\r' || (i + 1 < out.len && msg[i + 1] == '\n'));
		FUZZ_CHECK(c != '\n' || (i > 0 && msg[i - 1] == '\r'));
		line = c == '\n' ? 0 : line + 1;
		FUZZ_CHECK(line <= 999); /* 998 octets and the CR */
	}
	FUZZ_CHECK(out.len >= 2 && strcmp(msg + out.len - 2, "\r\n") == 0);

	/* Usher's headers, in order; a line starting with white space only folds Subject. */
	const char *body = strstr(msg, "\r\n\r\n");
	FUZZ_CHECK(body != NULL);
	size_t next = 0;
	for (const char *p = msg; p < body + 2;) {
		const char *eol = strstr(p, "\r\n");
		if (*p == ' ') {
			FUZZ_CHECK(next > 0 && strcmp(header_order[next - 1], "Subject") == 0);
		} else {
			FUZZ_CHECK(next < 8);
			size_t n = strlen(header_order[next]);
			FUZZ_CHECK(strncmp(p, header_order[next], n) == 0 && strncmp(p + n, ": ", 2) == 0);
			next++;
		}
		p = eol + 2;
	}
	FUZZ_CHECK(next == 8);

	size_t len;
	const char *value = header_value(msg, "Subject", &len);
	char *decoded = decode_subject(value, len);
	FUZZ_CHECK(strcmp(decoded, subject) == 0);
	free(decoded);

	/* The boundary delimits the two parts and closes the message, nowhere else. */
	const char *first = strstr(body, DELIMITER);
	FUZZ_CHECK(first == body + 2);
	const char *second = strstr(first + 1, DELIMITER);
	FUZZ_CHECK(second != NULL);
	const char *closing = strstr(second + 1, DELIMITER);
	FUZZ_CHECK(closing != NULL && strcmp(closing + strlen(DELIMITER), "--\r\n") == 0);
	check_part(first + strlen(DELIMITER), (size_t)(second - first) - strlen(DELIMITER) + 2,
	           "text/plain", text);
	check_part(second + strlen(DELIMITER), (size_t)(closing - second) - strlen(DELIMITER) + 2,
	           "text/html", html);

	us_buf_free(&out);
	free(from_text);
	free(to);
	free(subject);
	free(text);
	free(html);
	return 0;
}
