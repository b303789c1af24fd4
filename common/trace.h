/* Request ids and W3C trace context (https://www.w3.org/TR/trace-context/), as the
 * gateway takes them from a request (or starts them) and every daemon carries them on:
 * the request id in RpcRequest.request_id, the traceparent in RpcRequest.traceparent,
 * both on every log line about the request (log.h). */
#ifndef US_TRACE_H
#define US_TRACE_H

#include <stdbool.h>
#include <stddef.h>

/* The longest request id taken from outside. */
#define US_REQUEST_ID_MAX 128
/* "00-" 32 hex "-" 16 hex "-" 2 hex, and the NUL. */
#define US_TRACEPARENT_SIZE 56

/* True for 1 to US_REQUEST_ID_MAX characters of A-Z a-z 0-9 - _ . : (a UUID, a ULID, a
 * proxy's id): safe in logs, headers and label values. */
bool us_request_id_valid(const char *id);

/* A fresh request id: 32 random lowercase hex digits (out holds 33 bytes). */
void us_request_id_new(char out[33]);

/* True for a traceparent this code understands: version 00, lowercase hex, a trace id
 * and a parent id that are not all zeros. (Other versions are refused, not guessed.) */
bool us_traceparent_valid(const char *traceparent);

/* The traceparent for this hop: the incoming trace continued with a new parent id (this
 * hop's span) when incoming is valid, else a new trace (sampled flag kept from incoming,
 * else 01). */
void us_traceparent_next(const char *incoming, char out[US_TRACEPARENT_SIZE]);

#endif
