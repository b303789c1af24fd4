#include "session.h"

#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "context.h"

#define CSRF_BYTES 32
/* As long as identityd's default session lifetime (SESSION_TTL_HOURS). */
#define SESSION_COOKIE_MAX_AGE_S (30L * 24 * 3600)

void gateway_session_auth_read(gateway_request *req, gateway_auth *auth)
{
	auth->token = NULL;
	auth->via_cookie = false;
	const char *bearer = gateway_http_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	if (bearer != NULL && strncmp(bearer, "Bearer ", 7) == 0 && bearer[7] != '\0') {
		auth->token = bearer + 7;
		return;
	}
	const char *cookie = gateway_http_cookie(req, GATEWAY_SESSION_COOKIE);
	if (cookie != NULL && cookie[0] != '\0') {
		auth->token = cookie;
		auth->via_cookie = true;
	}
}

char *gateway_session_csrf_token(const gateway_ctx *ctx, us_arena *a, const char *session_token)
{
	uint8_t mac[CSRF_BYTES];
	crypto_generichash(mac, sizeof(mac), (const uint8_t *)session_token, strlen(session_token),
	                   ctx->csrf_key, sizeof(ctx->csrf_key));
	size_t len = sodium_base64_ENCODED_LEN(sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = us_arena_alloc(a, len);
	if (out != NULL)
		sodium_bin2base64(out, len, mac, sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

bool gateway_session_csrf_ok(gateway_request *req, const gateway_auth *auth)
{
	if (!auth->via_cookie)
		return true;
	const char *given = gateway_http_header(req, GATEWAY_CSRF_HEADER);
	char *want = gateway_session_csrf_token(req->ctx, req->arena, auth->token);
	if (given == NULL || want == NULL || strlen(given) != strlen(want))
		return false;
	return sodium_memcmp(given, want, strlen(want)) == 0;
}

char *gateway_session_cookie(const gateway_ctx *ctx, us_arena *a, const char *token, long max_age)
{
	return us_arena_printf(a, "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s",
	                       GATEWAY_SESSION_COOKIE, max_age > 0 ? token : "", max_age,
	                       ctx->secure_cookies ? "; Secure" : "");
}

us_err gateway_session_start(gateway_request *req, gateway_response *res, const char *email,
                        const char *password, Usher__V1__LoginReply **login, us_status *st)
{
	Usher__V1__LoginRequest in = USHER__V1__LOGIN_REQUEST__INIT;
	in.email = (char *)email;
	in.password = (char *)password;
	in.client_address = req->client_address;
	ProtobufCMessage *out;
	us_err rc = gateway_backend_call(req, GATEWAY_IDENTITY, "usher.v1.IdentityService/Login", NULL, &in.base,
	                    &usher__v1__login_reply__descriptor, &out, st);
	if (rc != US_OK)
		return rc;
	*login = (Usher__V1__LoginReply *)out;
	res->cookies[res->n_cookies++] = gateway_session_cookie(req->ctx, req->arena, (*login)->session_token,
	                                                   SESSION_COOKIE_MAX_AGE_S);
	return US_OK;
}

Usher__V1__User *gateway_session_signed_in(gateway_request *req, gateway_response *res, const gateway_auth *auth)
{
	if (auth->token == NULL) {
		gateway_http_reply_error(res, US_EUNAUTHENTICATED, "sign in first", NULL);
		return NULL;
	}
	Usher__V1__ResolveSessionRequest in = USHER__V1__RESOLVE_SESSION_REQUEST__INIT;
	in.session_token = (char *)auth->token;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = gateway_backend_call(req, GATEWAY_IDENTITY, "usher.v1.IdentityService/ResolveSession", NULL,
	                    &in.base, &usher__v1__resolve_session_reply__descriptor, &out, &st);
	Usher__V1__User *user = NULL;
	if (rc == US_OK)
		user = ((Usher__V1__ResolveSessionReply *)out)->user;
	else if (rc == US_EUNAUTHENTICATED || rc == US_EINVAL)
		gateway_http_reply_error(res, US_EUNAUTHENTICATED, "your session has ended; sign in again", NULL);
	else
		gateway_http_reply_error(res, rc, st.message, &st);
	us_status_clear(&st);
	return user;
}
