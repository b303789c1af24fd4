#include "routes.h"

#include <stdbool.h>
#include <string.h>

#include "api.h"
#include "people.h"

typedef struct gw_route {
	const char *method;
	const char *path;  /* exact, or a prefix when it ends with '/' */
	const char *name;
	gw_handler *handler;
} gw_route;

static void alive(gw_request *req, gw_response *res)
{
	(void)req;
	gw_reply_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

static const gw_route routes[] = {
	{"GET", "/livez", "/livez", alive},
	{"GET", "/readyz", "/readyz", alive},
	{"POST", "/login", "/login", gw_people_login},
	{"POST", "/logout", "/logout", gw_people_logout},
	{"GET", "/me", "/me", gw_people_me},
	{"GET", "/i/", "/i/{token}", gw_people_preview},
	{"POST", "/i/", "/i/{token}/{action}", gw_people_respond},
	{"GET", "/l/", "/l/{token}", gw_people_preview},
	{"POST", "/l/", "/l/{token}/{action}", gw_people_respond},
	{"POST", "/rpc/", "/rpc/{method}", gw_api_call},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static bool matches(const gw_route *r, const char *path)
{
	size_t len = strlen(r->path);
	if (r->path[len - 1] == '/')
		return strncmp(path, r->path, len) == 0 && path[len] != '\0';
	return strcmp(path, r->path) == 0;
}

void gw_route_dispatch(gw_request *req, gw_response *res)
{
	bool path_known = false;
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (!matches(&routes[i], req->path))
			continue;
		path_known = true;
		if (strcmp(routes[i].method, req->method) == 0) {
			routes[i].handler(req, res);
			return;
		}
	}
	if (!path_known) {
		gw_reply_error(res, US_ENOTFOUND, "not found", NULL);
		return;
	}
	gw_reply_error(res, US_EUNIMPLEMENTED, "method not allowed", NULL);
	res->status = 405;
}

const char *gw_route_name(const char *path)
{
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (matches(&routes[i], path))
			return routes[i].name;
	}
	return "(unknown)";
}
