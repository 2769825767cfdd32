#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Keys are short; anything larger is a wrong file, not a key. */
#define MAX_SECRET 4096

static int take_copy(const char *src, size_t len, char **out, size_t *out_len)
{
	while (len > 0 && (src[len - 1] == '\n' || src[len - 1] == '\r'))
		len--;
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, src, len);
	copy[len] = '\0';
	*out = copy;
	*out_len = len;
	return 0;
}

int im_secret_load_file(const char *path, char **out, size_t *len, char *err, size_t err_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_size, "cannot open key file %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
		im_warn("key file %s is accessible by group or others (mode %04o); chmod 600 it",
			path, (unsigned)(st.st_mode & 07777));
	char buf[MAX_SECRET + 1];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof buf - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, err_size, "cannot read key file %s: %s", path, strerror(errno));
			close(fd);
			OPENSSL_cleanse(buf, sizeof buf);
			return -1;
		}
		if (n == 0 || (got += (size_t)n) == sizeof buf)
			break;
	}
	close(fd);
	int rc = -1;
	if (got > MAX_SECRET)
		snprintf(err, err_size, "key file %s is larger than %d bytes: not a key", path, MAX_SECRET);
	else if (take_copy(buf, got, out, len) != 0)
		snprintf(err, err_size, "out of memory reading %s", path);
	else if (*len == 0) {
		im_secret_free(*out, 0);
		*out = NULL;
		snprintf(err, err_size, "key file %s is empty", path);
	} else
		rc = 0;
	OPENSSL_cleanse(buf, sizeof buf);
	return rc;
}

int im_secret_load_env(const char *name, char **out, size_t *len)
{
	const char *value = getenv(name);
	if (!value || !*value)
		return 1;
	return take_copy(value, strlen(value), out, len);
}

void im_secret_free(char *secret, size_t len)
{
	if (!secret)
		return;
	OPENSSL_cleanse(secret, len);
	free(secret);
}
