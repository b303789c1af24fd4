#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_BYTES 4200

static int mkdir_p(const char *dir)
{
	char path[PATH_BYTES];
	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

us_err notification_spool_prepare(const char *dir, char *err, size_t err_size)
{
	if (mkdir_p(dir) != 0 || access(dir, W_OK | X_OK) != 0) {
		snprintf(err, err_size, "could not use spool directory \"%s\": %s", dir, strerror(errno));
		return US_EUNAVAILABLE;
	}
	return US_OK;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The rename itself survives a crash only once the directory is synced. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, data, len) == 0 && fsync(fd) == 0 ? 0 : -1;
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

void notification_spool_write(const char *dir, const char *id, const char *data, size_t len,
                              notification_send_result *result)
{
	char tmp[PATH_BYTES], path[PATH_BYTES];
	/* A dot file: readers looking for *.eml never see a partial message. */
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, id);
	snprintf(path, sizeof(path), "%s/%s.eml", dir, id);
	if (write_file(tmp, data, len) != 0 || rename(tmp, path) != 0 || sync_dir(dir) != 0) {
		int saved = errno;
		unlink(tmp);
		result->outcome = SEND_TRANSIENT;
		snprintf(result->reply, sizeof(result->reply), "could not write to the spool: %s",
		         strerror(saved));
		return;
	}
	result->outcome = SEND_OK;
	snprintf(result->reply, sizeof(result->reply), "spooled");
}
