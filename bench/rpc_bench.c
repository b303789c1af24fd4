/* rpc: our RPC round trip (envelope, MAC, dispatch, arena, handler, reply) next to its
 * floor, a bare NNG REQ/REP round trip of the same payload in the same run (floors.h);
 * and what caller authentication costs alone: Ed25519 signing and verifying (a client's
 * first request to a server) and the MAC of every later one, for a small request and a
 * 50,000-address batch.
 * Usage: rpc_bench RESULT.json   (BENCH_ROUND_TRIPS sets the count, default 20000) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/arena.h"
#include "common/caller_auth.h"
#include "common/caller_key.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "floors.h"
#include "result.h"
#include "stats.h"
#include "usher/testing/echo.pb-c.h"

static us_err echo(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__Testing__EchoRequest *req = (const Usher__Testing__EchoRequest *)request;
	Usher__Testing__EchoReply *res = US_ARENA_NEW(us_call_arena(call), Usher__Testing__EchoReply);
	usher__testing__echo_reply__init(res);
	res->text = req->text;
	*reply = &res->base;
	return US_OK;
}

static const us_rpc_method methods[] = {{"Echo", echo, 0}};
static const us_rpc_service service = {&usher__testing__echo_service__descriptor, methods, 1, NULL};

/* The server trusts one key, which every client of this process signs with, and holds a
 * key of its own, as a daemon does (its RPC_SIGNING_KEY). */
static us_auth *bench_auth(us_caller_key *server_key)
{
	us_caller_key key;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1], hex[US_PUBLIC_KEY_HEX_LEN + 1];
	char path[] = "/tmp/rpc-bench-callers-XXXXXX";
	us_caller_key_generate(&key, secret);
	us_rpc_client_set_default_key(&key);
	us_public_key_hex(key.public_key, hex);
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL)
		exit(1);
	fprintf(f, "rpc_bench %s\n", hex);
	fclose(f);
	us_caller_key_generate(server_key, secret);
	us_auth_opts opts = {.callers_file = path, .window_ms = 60000, .replay_max = 1000000,
	                     .server_key = server_key};
	us_auth *auth;
	char err[256];
	if (us_auth_new(&opts, &auth, err, sizeof(err)) != US_OK) {
		fprintf(stderr, "rpc_bench: %s\n", err);
		exit(1);
	}
	unlink(path);
	return auth;
}

static void run_ours(const char *url, const char *payload, size_t n, double *samples)
{
	char err[256];
	us_rpc_client *c;
	us_rpc_client_opts opts = {.url = url, .caller = "rpc_bench"};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK) {
		fprintf(stderr, "rpc_bench: %s\n", err);
		exit(1);
	}
	Usher__Testing__EchoRequest req = USHER__TESTING__ECHO_REQUEST__INIT;
	req.text = (char *)payload;
	for (size_t i = 0; i < n; i++) {
		int64_t t0 = us_monotonic_us();
		us_arena *a = us_arena_new();
		ProtobufCMessage *reply;
		if (us_rpc_call(c, "usher.testing.EchoService/Echo", NULL, &req.base,
		                &usher__testing__echo_reply__descriptor, a, &reply, NULL) != US_OK) {
			fprintf(stderr, "rpc_bench: our round trip failed\n");
			exit(1);
		}
		us_arena_free(a);
		samples[i] = (double)(us_monotonic_us() - t0);
	}
	us_rpc_client_close(c);
}

/* Signing and verifying len bytes, n times each, in µs per operation; with mac, MACing
 * (as the client does: digest, then the MAC) and verifying the MAC instead. */
static void measure_signatures(size_t len, size_t n, bool mac, bench_stats *sign,
                               bench_stats *verify)
{
	us_caller_key key;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1];
	us_caller_key_generate(&key, secret);
	uint8_t *msg = malloc(len), sig[US_SIGNATURE_BYTES], mac_key[US_MAC_KEY_BYTES];
	uint8_t digest[US_REQUEST_DIGEST_BYTES];
	randombytes_buf(msg, len);
	randombytes_buf(mac_key, sizeof(mac_key));
	double *s = malloc(n * sizeof(double)), *v = malloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		int64_t t0 = us_monotonic_us();
		if (mac) {
			us_request_digest(msg, len, digest);
			us_request_mac(mac_key, digest, sig);
		} else {
			us_caller_key_sign(&key, msg, len, sig);
		}
		int64_t t1 = us_monotonic_us();
		if (mac ? !us_request_mac_verify(mac_key, msg, len, sig)
		        : !us_caller_key_verify(key.public_key, msg, len, sig))
			exit(1);
		s[i] = (double)(t1 - t0);
		v[i] = (double)(us_monotonic_us() - t1);
	}
	bench_stats_of(s, n, sign);
	bench_stats_of(v, n, verify);
	free(msg);
	free(s);
	free(v);
	us_caller_key_wipe(&key);
}

int main(int argc, char **argv)
{
	const char *count = getenv("BENCH_ROUND_TRIPS");
	size_t n = count != NULL ? strtoul(count, NULL, 10) : 20000;
	const char *json_path = argc > 1 ? argv[1] : NULL;
	if (sodium_init() < 0 || n < 2)
		return 1;
	us_log_init("rpc_bench", US_LOG_WARN);
	us_caller_key server_key;
	us_auth *auth = bench_auth(&server_key);
	us_rpc_server_opts opts = {.listen_url = "tcp://127.0.0.1:0", .workers = 1,
	                           .max_message_bytes = 1 << 20, .default_timeout_ms = 5000,
	                           .auth = auth};
	us_rpc_server *srv;
	char err[256];
	if (us_rpc_server_start(&opts, &service, 1, &srv, err, sizeof(err)) != US_OK) {
		fprintf(stderr, "rpc_bench: %s\n", err);
		return 1;
	}
	const char *our_url = us_rpc_server_url(srv);

	const char *payload = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	double *ours = malloc(n * sizeof(double));
	/* Warm our path, then measure it in two halves around the floor, so drift hits both. */
	run_ours(our_url, payload, n / 10 + 1, ours);
	run_ours(our_url, payload, n / 2, ours);
	bench_stats sb, so;
	bench_floor_nng(n, &sb);
	run_ours(our_url, payload, n - n / 2, ours + n / 2);
	bench_stats_of(ours, n, &so);
	printf("%-30s %10s %10s %10s %12s\n", "rpc", "p50 µs", "p99 µs", "mean µs", "per second");
	printf("%-30s %10.1f %10.1f %10.1f %12.0f\n", "bare NNG (floor)", sb.p50, sb.p99, sb.mean,
	       1e6 / sb.mean);
	printf("%-30s %10.1f %10.1f %10.1f %12.0f\n", "Usher RPC", so.p50, so.p99, so.mean,
	       1e6 / so.mean);
	printf("ratio of p50: %.2fx (goal: within 1.25x)\n", so.p50 / sb.p50);
	/* A typical request's envelope, and a 50,000-address CreateInvitations (~1.5 MB). */
	bench_stats small_sign, small_verify, big_sign, big_verify;
	bench_stats small_mac, small_mac_verify, big_mac, big_mac_verify;
	measure_signatures(256, 20000, false, &small_sign, &small_verify);
	measure_signatures(1500000, 50, false, &big_sign, &big_verify);
	measure_signatures(256, 20000, true, &small_mac, &small_mac_verify);
	measure_signatures(1500000, 50, true, &big_mac, &big_mac_verify);
	const struct { const char *what; const bench_stats *st; } sigs[] = {
		{"Ed25519 sign, 256 B request", &small_sign},
		{"Ed25519 verify, 256 B request", &small_verify},
		{"Ed25519 sign, 1.5 MB request", &big_sign},
		{"Ed25519 verify, 1.5 MB request", &big_verify},
		{"MAC, 256 B request", &small_mac},
		{"MAC verify, 256 B request", &small_mac_verify},
		{"MAC, 1.5 MB request", &big_mac},
		{"MAC verify, 1.5 MB request", &big_mac_verify},
	};
	size_t n_sigs = sizeof(sigs) / sizeof(sigs[0]);
	for (size_t i = 0; i < n_sigs; i++)
		printf("%-30s %10.1f %10.1f %10.1f %12.0f\n", sigs[i].what, sigs[i].st->p50,
		       sigs[i].st->p99, sigs[i].st->mean, 1e6 / sigs[i].st->mean);

	bench_result *r = bench_result_new(
	        "rpc", "One client, one worker, a 64-byte payload over loopback tcp://; a client's "
	               "first request is signed, the next ones MAC'd for the key the server's reply "
	               "named. The floor is a bare NNG REQ/REP round trip "
	               "of the same payload to an echo server in the same process.");
	bench_result_measure(r, "Usher RPC round trip, p50", "µs", so.p50, "≤ 1.25 × bare NNG",
	                     1.25 * sb.p50, BENCH_LOWER_IS_BETTER, "bare NNG round trip, p50",
	                     sb.p50);
	bench_result_measure(r, "Usher RPC round trip, p99", "µs", so.p99, NULL, 0,
	                     BENCH_LOWER_IS_BETTER, "bare NNG round trip, p99", sb.p99);
	for (size_t i = 0; i < n_sigs; i++)
		bench_result_detail(r, sigs[i].what, "p50 %.1f µs, p99 %.1f µs", sigs[i].st->p50,
		                    sigs[i].st->p99);
	bool written = bench_result_write(r, json_path);
	us_rpc_server_stop(srv);
	us_auth_free(auth);
	us_caller_key_wipe(&server_key);
	free(ours);
	return written ? 0 : 1;
}
