#include "policy.h"

int64_t notification_policy_backoff_ms(const notification_retry_policy *p, uint32_t attempts,
                                       uint32_t random)
{
	int64_t d = p->base_ms > 0 ? p->base_ms : 1;
	for (uint32_t i = 1; i < attempts && d < p->max_ms; i++)
		d *= 2;
	if (d > p->max_ms)
		d = p->max_ms;
	/* Half fixed, half random: retries of many messages that failed together (a
	 * server that was down) spread out instead of arriving together. */
	int64_t half = d / 2;
	return d - half + (half > 0 ? (int64_t)(random % (uint64_t)(half + 1)) : 0);
}

notification_policy_action notification_policy_decide(const notification_retry_policy *p,
                                                      notification_send_outcome outcome,
                                                      uint32_t attempts, int64_t age_ms,
                                                      uint32_t random, int64_t *delay_ms)
{
	switch (outcome) {
	case SEND_OK:
		return POLICY_SENT;
	case SEND_REFUSED:
		return POLICY_FAIL_AND_SUPPRESS;
	case SEND_BROKEN:
		return POLICY_FAIL;
	case SEND_TRANSIENT:
		break;
	}
	if (age_ms >= p->max_age_ms)
		return POLICY_FAIL;
	int64_t d = notification_policy_backoff_ms(p, attempts, random);
	if (d > p->max_age_ms - age_ms)
		d = p->max_age_ms - age_ms;
	*delay_ms = d;
	return POLICY_RETRY;
}
