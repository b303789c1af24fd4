#include "render.h"

#include "common/html.h"
#include "common/limits.h"
#include "tmpl.h"

const char *gateway_render_role_label(Usher__V1__Role role)
{
	switch (role) {
	case USHER__V1__ROLE__ROLE_OWNER: return "an owner";
	case USHER__V1__ROLE__ROLE_ADMIN: return "an admin";
	case USHER__V1__ROLE__ROLE_MODERATOR: return "a moderator";
	default: return "a member";
	}
}

/* A page's body is built into a buffer of its own, then set in the console's layout
 * (templates/layout.html) with the signed-out navigation. */
static us_buf begin(void)
{
	return (us_buf)US_BUF_WITH_LIMIT(GATEWAY_PAGE_MAX_BYTES);
}

static void end(us_buf *out, us_buf *body, const char *title_prefix, const char *title)
{
	us_buf nav = US_BUF_WITH_LIMIT(GATEWAY_PAGE_MAX_BYTES);
	us_buf full_title = US_BUF_WITH_LIMIT(GATEWAY_PAGE_MAX_BYTES);
	gateway_tmpl_render(&nav, "nav_signed_out", NULL);
	us_buf_puts(&full_title, title_prefix);
	us_buf_puts(&full_title, title);
	bool ok = !us_buf_failed(body) && !us_buf_failed(&nav) && !us_buf_failed(&full_title);
	const char *const vars[] = {"title", full_title.data, "nav", nav.data, "account_nav", "",
	                            "flash", "", "body", body->data, NULL};
	if (!ok || !gateway_tmpl_render(out, "layout", vars))
		out->failed = true;
	us_buf_free(&nav);
	us_buf_free(&full_title);
	us_buf_free(body);
}

void gateway_render_message(us_buf *out, const char *title, const char *message,
                            const char *back)
{
	us_buf body = begin();
	us_buf_puts(&body, "<h1>");
	us_html_escape(&body, title);
	us_buf_puts(&body, "</h1><p>");
	us_html_escape(&body, message);
	us_buf_puts(&body, "</p>");
	if (back != NULL) {
		us_buf_puts(&body, "<p><a href=\"");
		us_html_escape(&body, back);
		us_buf_puts(&body, "\">Back to the invitation</a></p>");
	}
	end(out, &body, "", title);
}

/* Opens a form posting to /i/<token>/<action>, carrying the form token. */
static void form(us_buf *p, const char *token, const char *action, const char *form_tok)
{
	us_buf_puts(p, "<form method=post action=\"/i/");
	us_html_escape(p, token);
	us_buf_putc(p, '/');
	us_buf_puts(p, action);
	us_buf_puts(p, "\"><input type=hidden name=" GATEWAY_FORM_FIELD " value=\"");
	us_html_escape(p, form_tok);
	us_buf_puts(p, "\">");
}

void gateway_render_invitation(us_buf *whole, const Usher__V1__PreviewReply *inv,
                               const char *token, const char *form_tok)
{
	us_buf page = begin();
	us_buf *out = &page;
	us_buf_puts(out, "<h1>Join ");
	us_html_escape(out, inv->account_name);
	us_buf_puts(out, "</h1><p>");
	us_html_escape(out, inv->inviter_name);
	us_buf_puts(out, " invited you (");
	us_html_escape(out, inv->email);
	us_buf_puts(out, ") to join ");
	us_html_escape(out, inv->account_name);
	us_buf_puts(out, " as ");
	us_buf_puts(out, gateway_render_role_label(inv->role));
	us_buf_puts(out, ".</p>");
	form(out, token, "accept-form", form_tok);
	if (inv->existing_user) {
		us_buf_puts(out, "<p>You already have an account: sign in to accept.</p>"
		                 "<label>Password<input name=password type=password required "
		                 "autocomplete=current-password></label>"
		                 "<button>Sign in and accept</button></form>");
	} else {
		us_buf_puts(out, "<label>Your name<input name=name required maxlength="
		                 US_LIMIT_TEXT(US_NAME_MAX_BYTES) " autocomplete=name></label>"
		                 "<label>Phone, optional<input name=phone type=tel autocomplete=tel "
		                 "placeholder=\"+14155550123\"></label><label>Choose a password<input "
		                 "name=password type=password required minlength="
		                 US_LIMIT_TEXT(US_PASSWORD_MIN_BYTES) " autocomplete=new-password>"
		                 "</label><button>Accept and create my account</button></form>");
	}
	form(out, token, "decline-form", form_tok);
	us_buf_puts(out, "<button>Decline</button></form><p class=note>This invitation expires ");
	us_html_escape(out, inv->expires_at);
	us_buf_puts(out, ". Only accept it if you know ");
	us_html_escape(out, inv->inviter_name);
	us_buf_puts(out, ".</p>");
	end(whole, out, "Join ", inv->account_name);
}
