/* The web console's plumbing: who is signed in, the forms' CSRF field, flash messages,
 * redirects, and pages rendered from templates (tmpl.h) into the one layout. Pages work
 * without script; every state-changing form carries a token (the session's CSRF token
 * when signed in, the form token of form_token.h before). */
#ifndef GATEWAY_CONSOLE_H
#define GATEWAY_CONSOLE_H

#include <stdbool.h>

#include "http.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

/* The field signed-in forms carry the session's CSRF token in. */
#define CONSOLE_CSRF_FIELD "csrf_token"
/* The cookie of the form token of the signed-out forms (sign in, reset, a link's join). */
#define CONSOLE_FORM_COOKIE "usher_console_form"

typedef struct console {
	gateway_request *req;
	gateway_response *res;
	Usher__V1__User *user;       /* NULL when nobody is signed in */
	const char *session;         /* the session token, when signed in */
	const char *csrf;            /* the session's CSRF token, for the forms */
	const Usher__V1__Account *account; /* the account a page is about: its navigation */
	bool webhooks;               /* may manage its webhooks: their link in the navigation */
} console;

/* Reads the session, when the request has a valid one; replies nothing. */
void console_init(console *c, gateway_request *req, gateway_response *res);

/* True when someone is signed in; else redirects to the sign-in page. */
bool console_require_user(console *c);

/* A signed-in form's post: true when its CSRF field is the session's token; else replies
 * a page saying so (403). */
bool console_post_ok(console *c);

/* A signed-out form's post: true when its form token matches the cookie's; else replies. */
bool console_form_token_ok(console *c);

/* The form's token for a signed-out form (sets the cookie when new); NULL: out of memory. */
const char *console_form_token(console *c);

/* The form field name of the body, decoded ("" when absent or unreadable). */
const char *console_field(console *c, const char *name);
/* A field that may be long (a pasted list): up to CONSOLE_LIST_MAX bytes; NULL when longer
 * or unreadable, "" when absent. */
#define CONSOLE_LIST_MAX (256 * 1024)
const char *console_list_field(console *c, const char *name);

/* Renders template tmpl with vars as the page's body in the layout, with a flash message
 * (notice or, when error, an alert; NULL: none), and replies it with status. */
void console_render(console *c, unsigned status, const char *title, const char *flash,
                    bool error, const char *tmpl, const char *const *vars);

/* A page with a heading, a message and one link. */
void console_message(console *c, unsigned status, const char *title, const char *message,
                     const char *back, const char *back_label);

/* A refusal from a daemon as a page: the reason in plain words. */
void console_failure(console *c, us_err code, const char *message);

/* 303 See Other to location (after a post: a reload does not post again). */
void console_redirect(console *c, const char *location);

/* The flash message named by the ?m= query (a fixed set: nothing from the URL is shown). */
const char *console_flash(console *c);

/* How a role, scope and membership status read on a page. */
const char *console_role_name(Usher__V1__Role role);
const char *console_scope_text(console *c, const Usher__V1__Scope *scope);
const char *console_join(console *c, char **items, size_t n, const char *separator);
/* "member" -> ROLE_MEMBER; UNSPECIFIED when unknown. */
Usher__V1__Role console_role_parse(const char *text);

/* Renders tmpl with vars into a string in the request's arena ("" on failure, which
 * console_render then reports as a 500). */
const char *console_fragment(console *c, const char *tmpl, const char *const *vars);

/* Appends a rendered fragment to buf (a table's rows). */
void console_append(us_buf *buf, const char *tmpl, const char *const *vars);
/* buf's text in the arena, freeing buf; NULL (and the page fails) on failure. */
const char *console_take(console *c, us_buf *buf);

#endif
