#include "common/trace.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

bool us_request_id_valid(const char *id)
{
	size_t n = 0;
	for (const char *p = id; *p; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '-' || c == '_' || c == '.' || c == ':';
		if (!ok || n >= US_REQUEST_ID_MAX)
			return false;
	}
	return n > 0;
}

static void random_hex(char *out, size_t bytes)
{
	uint8_t raw[16];
	randombytes_buf(raw, bytes);
	sodium_bin2hex(out, bytes * 2 + 1, raw, bytes);
}

void us_request_id_new(char out[33])
{
	random_hex(out, 16);
}

/* n lowercase hex digits, not all zeros. */
static bool hex_field(const char *s, size_t n)
{
	bool nonzero = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		nonzero = nonzero || c != '0';
	}
	return nonzero;
}

bool us_traceparent_valid(const char *tp)
{
	/* 00-<32>-<16>-<2> */
	if (strlen(tp) != US_TRACEPARENT_SIZE - 1 || strncmp(tp, "00-", 3) != 0 || tp[35] != '-' ||
	    tp[52] != '-')
		return false;
	char flags[3] = {tp[53], tp[54], '\0'};
	bool flags_hex = (flags[0] >= '0' && flags[0] <= '9') || (flags[0] >= 'a' && flags[0] <= 'f');
	flags_hex = flags_hex && ((flags[1] >= '0' && flags[1] <= '9') ||
	                          (flags[1] >= 'a' && flags[1] <= 'f'));
	return hex_field(tp + 3, 32) && hex_field(tp + 36, 16) && flags_hex;
}

void us_traceparent_next(const char *incoming, char out[US_TRACEPARENT_SIZE])
{
	char trace_id[33], span_id[17];
	const char *flags = "01";
	char kept_flags[3];
	if (incoming != NULL && us_traceparent_valid(incoming)) {
		memcpy(trace_id, incoming + 3, 32);
		trace_id[32] = '\0';
		memcpy(kept_flags, incoming + 53, 2);
		kept_flags[2] = '\0';
		flags = kept_flags;
	} else {
		do
			random_hex(trace_id, 16);
		while (!hex_field(trace_id, 32));
	}
	do
		random_hex(span_id, 8);
	while (!hex_field(span_id, 16));
	snprintf(out, US_TRACEPARENT_SIZE, "00-%s-%s-%s", trace_id, span_id, flags);
}
