/* The console's Webhooks page (/a/<account>/webhooks): an account's webhook endpoints,
 * their delivery logs, and the forms that manage them. notificationd decides who may
 * (webhooks.manage, asked of tenancyd); the page shows its refusal. */
#ifndef GATEWAY_CONSOLE_WEBHOOKS_H
#define GATEWAY_CONSOLE_WEBHOOKS_H

#include <stdbool.h>

#include "console.h"

/* Whether the signed-in person holds webhooks.manage on c->account (for the navigation
 * link only: notificationd checks again on every call). */
bool gateway_console_may_manage_webhooks(console *c);

/* Serves /a/<account>/webhooks[/<a>[/<b>]] for c->account; replies in every case. */
void gateway_console_webhooks(console *c, bool post, const char *a, const char *b);

#endif
