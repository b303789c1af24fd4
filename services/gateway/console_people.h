/* The console's pages for people: sign in and out, My accounts, the profile, a forgotten
 * password, an email change's confirmation, and a permanent link's join page. */
#ifndef GATEWAY_CONSOLE_PEOPLE_H
#define GATEWAY_CONSOLE_PEOPLE_H

#include "http.h"

void gateway_console_home(gateway_request *req, gateway_response *res);      /* GET / */
void gateway_console_signin(gateway_request *req, gateway_response *res);    /* GET, POST /signin */
void gateway_console_signout(gateway_request *req, gateway_response *res);   /* POST /signout */
void gateway_console_accounts(gateway_request *req, gateway_response *res);  /* GET /accounts */
/* POST /accounts/invitations/<id>/accept or /decline: answering from My accounts. */
void gateway_console_accounts_answer(gateway_request *req, gateway_response *res);
void gateway_console_profile(gateway_request *req, gateway_response *res);   /* GET /profile, POST /profile/<what> */
void gateway_console_forgot(gateway_request *req, gateway_response *res);    /* GET, POST /forgot */
void gateway_console_reset(gateway_request *req, gateway_response *res);     /* GET /password-reset/<t>, POST .../set */
void gateway_console_email_change(gateway_request *req, gateway_response *res); /* GET /email-change/<t>, POST .../confirm */
void gateway_console_verify_email(gateway_request *req, gateway_response *res); /* GET /verify-email/<t>, POST .../confirm */
/* GET /l/<token> for a browser (token in the arena), POST /l/<token>/join-form. */
void gateway_console_link_page(gateway_request *req, gateway_response *res, char *token);
void gateway_console_link_join(gateway_request *req, gateway_response *res);
/* GET /j/<token> for a browser (token in the arena): a join's confirmation, with a button;
 * POST /j/<token>/confirm-form: confirmed. */
void gateway_console_join_page(gateway_request *req, gateway_response *res, char *token);
void gateway_console_join_confirm(gateway_request *req, gateway_response *res);

#endif
