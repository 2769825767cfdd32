/* Loading a script's reverse() through script.h, see sync_reverse.h. */
#include "config.h"

#include "sync_reverse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char trailer[] =
	"\n;do local r = reverse\n"
	"if type(r) ~= 'function' then error('immigrate-sync: no reverse function', 0) end\n"
	"map = function(event, ctx) return r(event, ctx) end\n"
	"finish = nil end\n";

/* Replaces every occurrence of from in s (size bytes) by to, in place when it fits. */
static void replace_all(char *s, size_t size, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to);
	char *p;
	while (fl && (p = strstr(s, from)) != NULL) {
		size_t rest = strlen(p + fl);
		if ((size_t)(p - s) + tl + rest + 1 > size)
			return;
		memmove(p + tl, p + fl, rest + 1);
		memcpy(p, to, tl);
		s = p + tl;
	}
}

int im_sync_reverse_open(const char *path, const struct im_script_config *cfg, struct im_script **out,
			 char *err, size_t err_size)
{
	*out = NULL;
	FILE *in = fopen(path, "rb");
	if (!in) {
		snprintf(err, err_size, "%s: cannot open the mapping script", path);
		return -1;
	}
	char dir[] = "/tmp/immigrate-reverse.XXXXXX";
	if (!mkdtemp(dir)) {
		fclose(in);
		snprintf(err, err_size, "cannot create a temporary directory for %s", path);
		return -1;
	}
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char copy[4400];
	snprintf(copy, sizeof copy, "%s/%s", dir, base);
	FILE *o = fopen(copy, "wb");
	int rc = -1;
	if (o) {
		char buf[8192];
		size_t n;
		int bad = 0;
		while ((n = fread(buf, 1, sizeof buf, in)) > 0)
			if (fwrite(buf, 1, n, o) != n)
				bad = 1;
		if (fputs(trailer, o) < 0)
			bad = 1;
		if (fclose(o) != 0 || bad)
			snprintf(err, err_size, "cannot copy %s to a temporary file", path);
		else
			rc = 0;
	} else {
		snprintf(err, err_size, "cannot create a temporary copy of %s", path);
	}
	fclose(in);
	if (rc == 0) {
		struct im_script_config c = *cfg;
		c.path = copy;
		rc = im_script_open(&c, out, err, err_size);
		if (rc < 0) {
			if (strstr(err, "immigrate-sync: no reverse function")) {
				snprintf(err, err_size, "%s: the script defines no reverse(event, ctx) function", path);
				rc = 1;
			} else {
				replace_all(err, err_size, copy, path);
			}
		}
	}
	unlink(copy);
	rmdir(dir);
	return rc;
}
