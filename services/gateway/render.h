/* The invitee's pages as HTML: pure functions of what they show, so they can be checked
 * without a server. Every value from outside is escaped (us_html_escape). */
#ifndef GATEWAY_RENDER_H
#define GATEWAY_RENDER_H

#include "common/buf.h"
#include "usher/v1/invitation.pb-c.h"

/* The most bytes a page may take; a larger one fails (the reply is then a 500). */
#define GATEWAY_PAGE_MAX_BYTES (256 * 1024)

/* The form field and cookie holding the form token (page.c). */
#define GATEWAY_FORM_FIELD "form_token"

/* "an owner", "a member": the role as the page words it. */
const char *gateway_render_role_label(Usher__V1__Role role);

/* A page with a heading and a message, and a link back when back is not NULL. */
void gateway_render_message(us_buf *out, const char *title, const char *message,
                            const char *back);

/* The invitation's page: who invited whom to what, the accept form (a password for an
 * existing user, a sign-up otherwise) and the decline button, each carrying form_tok. */
void gateway_render_invitation(us_buf *out, const Usher__V1__PreviewReply *inv,
                               const char *token, const char *form_tok);

#endif
