/* usher-gatewayd's routing (services/gateway/routes.c): the input is a method and a path,
 * NUL-separated, as libmicrohttpd hands them over. Properties: a route is found only for
 * its own method; its pattern matches the path by an independent reading of the pattern
 * rules (exact, prefix ending in '/' except "/" alone, the home page, which is exact, "{}"
 * for one non-empty segment); without a route
 * the status is 404 or 405, and 405 only when another method's route matches; the same
 * request always finds the same route. */
#include "fuzz.h"

#include "routes.h"

/* The pattern rules, read independently of routes.c. */
static bool reference_match(const char *pattern, const char *path)
{
	const char *hole = strstr(pattern, "{}");
	if (hole == NULL) {
		size_t n = strlen(pattern);
		if (pattern[n - 1] == '/' && n > 1)
			return strncmp(path, pattern, n) == 0 && path[n] != '\0';
		return strcmp(path, pattern) == 0;
	}
	size_t before = (size_t)(hole - pattern);
	if (strncmp(path, pattern, before) != 0)
		return false;
	const char *segment = path + before;
	size_t seg_len = strcspn(segment, "/");
	return seg_len > 0 && reference_match(hole + 2, segment + seg_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input in = {data, size};
	char *method = fuzz_string(&in);
	char *path = fuzz_string(&in);
	gateway_request req = {.method = method, .path = path};
	unsigned status = 0, again_status = 0;
	const gateway_route *route = gateway_routes_find(&req, &status);
	FUZZ_CHECK(gateway_routes_find(&req, &again_status) == route && again_status == status);
	if (route != NULL) {
		FUZZ_CHECK(strcmp(route->method, method) == 0);
		FUZZ_CHECK(reference_match(route->path, path));
		FUZZ_CHECK(route->handler != NULL && route->name != NULL);
	} else {
		FUZZ_CHECK(status == 404 || status == 405);
		/* 405 means the path is served, under another method. */
		static const char *const others[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
		bool served = false;
		for (size_t i = 0; i < 5; i++) {
			gateway_request other = {.method = others[i], .path = path};
			unsigned ignored;
			const gateway_route *r = gateway_routes_find(&other, &ignored);
			served = served || (r != NULL && strcmp(others[i], method) != 0);
		}
		FUZZ_CHECK(served == (status == 405));
	}
	free(method);
	free(path);
	return 0;
}
