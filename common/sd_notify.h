/* systemd's readiness protocol without libsystemd: a datagram such as "READY=1" to the
 * AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
 * Under Type=notify units systemd counts the daemon as started only after READY=1, so
 * dependants and `systemctl start` wait until it really serves. */
#ifndef US_SD_NOTIFY_H
#define US_SD_NOTIFY_H

/* Sends state ("READY=1", "STOPPING=1", ...). Returns 1 when sent, 0 when NOTIFY_SOCKET
 * is unset (not run by systemd), -1 when it is set but unusable (the reason in errno);
 * a daemon carries on either way. */
int us_sd_notify(const char *state);

#endif
