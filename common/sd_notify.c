#include "common/sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int us_sd_notify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	if (name == NULL || name[0] == '\0')
		return 0;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	/* A path or an abstract name ('@' stands for its leading NUL); no room for a NUL is
	 * needed for the latter, but both must fit sun_path. */
	if ((name[0] != '/' && name[0] != '@') || len < 2 || len > sizeof(addr.sun_path) -
	                                                           (name[0] == '/' ? 1 : 0)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(addr.sun_path, name, len);
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	                                 (name[0] == '/' ? 1 : 0));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
	                      addr_len);
	int saved = errno;
	close(fd);
	errno = saved;
	return sent == (ssize_t)strlen(state) ? 1 : -1;
}
