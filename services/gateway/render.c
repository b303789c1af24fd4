#include "render.h"

#include "common/html.h"
#include "common/limits.h"

const char *gateway_render_role_label(Usher__V1__Role role)
{
	switch (role) {
	case USHER__V1__ROLE__ROLE_OWNER: return "an owner";
	case USHER__V1__ROLE__ROLE_ADMIN: return "an admin";
	case USHER__V1__ROLE__ROLE_MODERATOR: return "a moderator";
	default: return "a member";
	}
}

/* The head and the page's start; the title is prefix (our own text) then name (escaped). */
static void begin(us_buf *p, const char *prefix, const char *name)
{
	us_buf_puts(p, "<!doctype html><html lang=en><head><meta charset=utf-8>"
	               "<meta name=viewport content=\"width=device-width, initial-scale=1\"><title>");
	us_buf_puts(p, prefix);
	us_html_escape(p, name);
	us_buf_puts(p, "</title><style>body{font:16px/1.5 system-ui,sans-serif;margin:0;"
	               "background:#f6f4ef}main{max-width:32rem;margin:3rem auto;padding:2rem;"
	               "background:#fff;border-radius:8px}label{display:block;margin:.8rem 0}"
	               "input{display:block;width:100%;padding:.5rem;box-sizing:border-box}"
	               "button{margin-top:1rem;padding:.6rem 1.2rem}"
	               ".note{color:#666;font-size:.9rem}</style></head><body><main>");
}

static void end(us_buf *p)
{
	us_buf_puts(p, "</main></body></html>\n");
}

void gateway_render_message(us_buf *out, const char *title, const char *message,
                            const char *back)
{
	begin(out, "", title);
	us_buf_puts(out, "<h1>");
	us_html_escape(out, title);
	us_buf_puts(out, "</h1><p>");
	us_html_escape(out, message);
	us_buf_puts(out, "</p>");
	if (back != NULL) {
		us_buf_puts(out, "<p><a href=\"");
		us_html_escape(out, back);
		us_buf_puts(out, "\">Back to the invitation</a></p>");
	}
	end(out);
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

void gateway_render_invitation(us_buf *out, const Usher__V1__PreviewReply *inv,
                               const char *token, const char *form_tok)
{
	begin(out, "Join ", inv->account_name);
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
	end(out);
}
