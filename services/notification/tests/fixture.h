/* What the notification integration tests share: usher-notificationd started against a
 * fresh database and an SMTP sink, an RPC client to it, and short-hands for its methods. */
#ifndef NOTIFICATION_TEST_FIXTURE_H
#define NOTIFICATION_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "harness.h"
#include "common/rpc_client.h"
#include "common/status.h"
#include "usher/v1/notification.pb-c.h"

typedef struct nt_fixture {
	ut_system sys;
	ut_sink sink;
	bool has_sink;
	us_rpc_client *client;
	us_arena *arena;      /* replies; freed at teardown */
	char env[16][256];    /* the daemon's extra settings */
	char scratch[64];     /* a directory for the test's files; removed at teardown */
} nt_fixture;

/* Creates the database and the scratch directory; starts nothing. */
void nt_init(nt_fixture *f, const char *name);

/* Starts the SMTP sink with flags (NULL-terminated; borrowed); before nt_start(). */
void nt_sink(nt_fixture *f, const char *const *flags);

/* Sets a setting ("NAME=value") for the daemon's next start, replacing an earlier one. */
void nt_setenv(nt_fixture *f, const char *setting);

/* Starts usher-notificationd with short retry and poll intervals, pointed at the sink
 * when there is one (else spooling to scratch/mail unless MAIL_SPOOL_DIR is set), and
 * connects the client. */
void nt_start(nt_fixture *f);

/* Stops everything, removes what was created. */
void nt_teardown(nt_fixture *f);

/* An Email for template with variables given as name, value pairs ending with NULL;
 * built in f->arena. */
Usher__V1__Email *nt_email(nt_fixture *f, const char *key, const char *template,
                           const char *recipient, const char *reference, ...)
        __attribute__((sentinel));

/* The variables of invitation_new_user / invitation_existing_user with this link. */
Usher__V1__Email *nt_invitation(nt_fixture *f, const char *key, const char *recipient,
                                const char *link);

/* Calls SendEmail; returns the code, *id (may be NULL) the message id, st (may be NULL)
 * the status (us_status_clear it). */
us_err nt_send(nt_fixture *f, Usher__V1__Email *email, char **id, us_status *st);

/* Calls SendEmails with n emails. */
us_err nt_send_many(nt_fixture *f, Usher__V1__Email **emails, size_t n, char ***ids,
                    us_status *st);

/* GetDeliveries; fails the test unless it succeeds. */
Usher__V1__GetDeliveriesReply *nt_deliveries(nt_fixture *f, const char *reference,
                                             const char *recipient);

/* The delivery of one message id (looked up by recipient), or fails the test. */
Usher__V1__Delivery *nt_delivery(nt_fixture *f, const char *recipient, const char *id);

/* Waits up to timeout_ms for the message to reach state; returns its delivery. */
Usher__V1__Delivery *nt_wait_state(nt_fixture *f, const char *recipient, const char *id,
                                   Usher__V1__DeliveryState state, int timeout_ms);

/* A number from SQL run as the superuser in the test's database. */
long long nt_sql_number(nt_fixture *f, const char *sql);

#endif
