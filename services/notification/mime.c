#include "mime.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/validate.h"

/* RFC 5322's hard limit is 998 octets a line; quoted-printable keeps to 76. */
#define LINE_MAX_OCTETS 998
#define QP_LINE 76
/* An ASCII subject longer than this is encoded, which lets it be folded. */
#define RAW_SUBJECT_MAX 900
/* Bytes of UTF-8 per encoded word: 52 base64 characters, so a folded line of
 * " =?UTF-8?B?...?=" stays within 78. */
#define WORD_BYTES 39

const char *notification_mime_parse_mailbox(const char *s, notification_mime_mailbox *out)
{
	memset(out, 0, sizeof(*out));
	const char *open = strchr(s, '<');
	const char *addr = s;
	size_t addr_len = strlen(s);
	if (open != NULL) {
		const char *close = strchr(open, '>');
		if (close == NULL || close[1] != '\0')
			return "must be \"Name <address>\" or an address";
		size_t name_len = (size_t)(open - s);
		while (name_len > 0 && s[name_len - 1] == ' ')
			name_len--;
		if (name_len > MIME_DISPLAY_NAME_MAX)
			return "has a name longer than 64 characters";
		for (size_t i = 0; i < name_len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
				return "has a name with a character other than printable ASCII";
		}
		memcpy(out->name, s, name_len);
		addr = open + 1;
		addr_len = (size_t)(close - addr);
	}
	if (addr_len > MIME_ADDRESS_MAX)
		return "has an address longer than 254 characters";
	memcpy(out->address, addr, addr_len);
	out->address[addr_len] = '\0';
	return us_email_check(out->address);
}

static bool ascii_printable(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	}
	return true;
}

static void append_base64(us_buf *out, const unsigned char *in, size_t len)
{
	static const char alphabet[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		char q[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63],
		             i + 1 < len ? alphabet[(v >> 6) & 63] : '=',
		             i + 2 < len ? alphabet[v & 63] : '='};
		us_buf_append(out, q, 4);
	}
}

/* RFC 2047 B-encoded words, cut between UTF-8 characters, one per folded line. */
static void append_encoded_words(us_buf *out, const char *s)
{
	size_t len = strlen(s);
	bool first = true;
	while (len > 0) {
		size_t n = len < WORD_BYTES ? len : WORD_BYTES;
		while (n < len && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--; /* never split a character */
		us_buf_puts(out, first ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?");
		append_base64(out, (const unsigned char *)s, n);
		us_buf_puts(out, "?=");
		s += n;
		len -= n;
		first = false;
	}
}

static void append_subject(us_buf *out, const char *subject)
{
	us_buf_puts(out, "Subject: ");
	/* "=?" in a raw subject would read as the start of an encoded word. */
	if (ascii_printable(subject) && strlen(subject) <= RAW_SUBJECT_MAX &&
	    strstr(subject, "=?") == NULL)
		us_buf_puts(out, subject);
	else
		append_encoded_words(out, subject);
	us_buf_puts(out, "\r\n");
}

/* Not strftime: its names follow the locale. */
static void append_date(us_buf *out, int64_t when)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)when;
	struct tm tm;
	gmtime_r(&t, &tm);
	us_buf_printf(out, "Date: %s, %d %s %d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
	           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* 7bit is readable as is; anything else (8-bit bytes, long lines) is quoted-printable. */
static bool fits_7bit(const char *s)
{
	size_t line = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t'))
			return false;
		line = c == '\n' ? 0 : line + 1;
		if (line > LINE_MAX_OCTETS)
			return false;
	}
	return true;
}

/* Appends s with every line end as CRLF. */
static void append_crlf(us_buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\n')
			us_buf_puts(out, "\r\n");
		else
			us_buf_putc(out, *s);
	}
}

/* RFC 2045 quoted-printable; line ends stay hard line breaks. */
static void append_qp(us_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\r')
			continue;
		if (c == '\n') {
			us_buf_puts(out, "\r\n");
			col = 0;
			continue;
		}
		bool at_line_end = s[1] == '\n' || s[1] == '\r' || s[1] == '\0';
		bool literal = (c >= 33 && c <= 126 && c != '=') ||
		               ((c == ' ' || c == '\t') && !at_line_end);
		size_t width = literal ? 1 : 3;
		if (col + width > QP_LINE - 1) {
			us_buf_puts(out, "=\r\n");
			col = 0;
		}
		if (literal) {
			us_buf_putc(out, (char)c);
		} else {
			char e[3] = {'=', hex[c >> 4], hex[c & 15]};
			us_buf_append(out, e, 3);
		}
		col += width;
	}
}

/* Whether s holds needle once its CRs are dropped, as a part is written. */
static bool holds(const char *s, const char *needle)
{
	for (; *s; s++) {
		const char *p = s, *q = needle;
		while (*q != '\0') {
			if (*p == '\r') {
				p++;
				continue;
			}
			if (*p != *q)
				break;
			p++, q++;
		}
		if (*q == '\0')
			return true;
	}
	return false;
}

static void append_part(us_buf *out, const char *boundary, const char *type, const char *body)
{
	/* Content holding the boundary would end its part early (an account named after it,
	 * say); quoted-printable writes every '=' as "=3D", so it cannot hold one. */
	bool plain = fits_7bit(body) && !holds(body, boundary);
	us_buf_printf(out, "--%s\r\nContent-Type: %s; charset=UTF-8\r\n"
	                "Content-Transfer-Encoding: %s\r\n\r\n",
	           boundary, type, plain ? "7bit" : "quoted-printable");
	if (plain)
		append_crlf(out, body);
	else
		append_qp(out, body);
	if (out->len < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
		us_buf_puts(out, "\r\n");
}

void notification_mime_build(const notification_mime_message *m, us_buf *out)
{
	if (m->from->name[0] != '\0')
		us_buf_printf(out, "From: \"%s\" <%s>\r\n", m->from->name, m->from->address);
	else
		us_buf_printf(out, "From: <%s>\r\n", m->from->address);
	us_buf_printf(out, "To: <%s>\r\n", m->to);
	append_subject(out, m->subject);
	append_date(out, m->date);
	us_buf_printf(out, "Message-ID: %s\r\n", m->message_id);
	us_buf_puts(out, "MIME-Version: 1.0\r\n"
	              "Auto-Submitted: auto-generated\r\n");
	char boundary[96];
	snprintf(boundary, sizeof(boundary), "=_usher_%.64s", m->boundary);
	us_buf_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
	append_part(out, boundary, "text/plain", m->text);
	append_part(out, boundary, "text/html", m->html);
	us_buf_printf(out, "--%s--\r\n", boundary);
}
