/* One CreateInvitations of one address by an account's owner, straight to
 * usher-invitationd over NNG: the call single_bench times and replicas_bench repeats. */
#ifndef BENCH_INVITE_CALL_H
#define BENCH_INVITE_CALL_H

#include "calls.h"

/* US_OK when the call succeeded and created the invitation; else st says why. */
us_err bench_invite_one(us_rpc_client *rpc, const char *owner, const char *account,
                        const char *email, us_status *st);

#endif
