/* The loader: search order, and every refusal naming the file and the reason
 * (fixture modules from tests/plugins/fixture.c), plus im_plugin_foreach. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"
#include "tap.h"

static char fixtures[PATH_MAX];

/* Loading `name` from the fixtures fails with a message holding every needle. */
static void refused(const char *name, const char *why1, const char *why2)
{
	char err[512] = "", file[PATH_MAX + 32];
	struct im_plugin *p = im_plugin_load(name, fixtures, err, sizeof err);
	snprintf(file, sizeof file, "%s/%s.so", fixtures, name);
	ok(p == NULL && strstr(err, file) && strstr(err, why1) && (!why2 || strstr(err, why2)),
	   "%s refused: %s", name, err);
	im_plugin_unload(p);
}

struct seen {
	int total, loaded, refused_named;
};

static void count(const char *path, const struct im_source *src, const char *error, void *ud)
{
	struct seen *s = ud;
	if (strncmp(path, fixtures, strlen(fixtures)) != 0)
		return;
	s->total++;
	if (src && !error && strcmp(src->name, "okfixture") == 0)
		s->loaded++;
	if (!src && error && strstr(error, path))
		s->refused_named++;
}

struct shadow {
	int from_tmp, from_fixtures;
};

static void shadowed(const char *path, const struct im_source *src, const char *error, void *ud)
{
	(void)src, (void)error;
	struct shadow *sh = ud;
	if (strstr(path, "okfixture.so")) {
		if (strstr(path, "/tmp/immigrate-plugins."))
			sh->from_tmp++;
		else if (strncmp(path, fixtures, strlen(fixtures)) == 0)
			sh->from_fixtures++;
	}
}

int main(void)
{
	const char *builddir = getenv("top_builddir");
	if (!builddir)
		skip_all("top_builddir not set (run through make check)");
	snprintf(fixtures, sizeof fixtures, "%s/tests/plugins/.libs", builddir);
	unsetenv("IMMIGRATE_PLUGIN_PATH");

	char err[512] = "";
	struct im_plugin *p = im_plugin_load("okfixture", fixtures, err, sizeof err);
	ok(p != NULL, "a well-formed plugin loads from --plugin-dir: %s", err);
	is_str(p ? im_plugin_source(p)->name : NULL, "okfixture", "its descriptor is returned");
	ok(p && strstr(im_plugin_path(p), "okfixture.so"), "its path names the module: %s",
	   p ? im_plugin_path(p) : "(none)");
	im_plugin_unload(p);
	im_plugin_unload(NULL);
	ok(1, "im_plugin_unload(NULL) is fine");

	refused("abi2", "ABI mismatch", "built for plugin ABI 2");
	refused("nosym", "missing entry symbol immigrate_source_v1", NULL);
	refused("badabi", "ABI mismatch", "descriptor says ABI 7");
	refused("small", "descriptor too small", "16 bytes");
	refused("nocalls", "missing mandatory call next()", NULL);
	refused("caps", "declares the estimate capability but has no estimate()", NULL);

	p = im_plugin_load("no-such-plugin", fixtures, err, sizeof err);
	ok(!p && strstr(err, "no-such-plugin") && strstr(err, fixtures) && strstr(err, IMMIGRATE_PLUGIN_DIR),
	   "a missing plugin names the directories searched: %s", err);

	/* IMMIGRATE_PLUGIN_PATH: empty and missing entries are skipped. */
	char env[PATH_MAX + 64];
	snprintf(env, sizeof env, "/nonexistent::%s", fixtures);
	setenv("IMMIGRATE_PLUGIN_PATH", env, 1);
	p = im_plugin_load("okfixture", NULL, err, sizeof err);
	ok(p != NULL, "found through IMMIGRATE_PLUGIN_PATH: %s", err);
	im_plugin_unload(p);

	/* --plugin-dir comes first: a same-named module there wins (and here is refused). */
	char tmp[] = "/tmp/immigrate-plugins.XXXXXX", link_path[PATH_MAX], target[PATH_MAX + 16];
	if (mkdtemp(tmp)) {
		snprintf(link_path, sizeof link_path, "%s/okfixture.so", tmp);
		snprintf(target, sizeof target, "%s/nocalls.so", fixtures);
		int linked = symlink(target, link_path) == 0;
		p = im_plugin_load("okfixture", tmp, err, sizeof err);
		ok(linked && !p && strstr(err, tmp) && strstr(err, "missing mandatory call"),
		   "--plugin-dir is searched before IMMIGRATE_PLUGIN_PATH: %s", err);
		im_plugin_unload(p);
		struct shadow sh = {0};
		im_plugin_foreach(tmp, shadowed, &sh);
		ok(sh.from_tmp == 1 && sh.from_fixtures == 0,
		   "im_plugin_foreach lists a name once, from the first directory that has it");
		unlink(link_path);
		rmdir(tmp);
	} else {
		ok(0, "mkdtemp");
	}
	unsetenv("IMMIGRATE_PLUGIN_PATH");

	/* A path instead of a name. */
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/okfixture.so", fixtures);
	p = im_plugin_load(path, NULL, err, sizeof err);
	ok(p != NULL, "loads by path: %s", err);
	im_plugin_unload(p);
	snprintf(path, sizeof path, "%s/abi2.so", fixtures);
	p = im_plugin_load(path, NULL, err, sizeof err);
	ok(!p && strstr(err, "abi2.so") && strstr(err, "ABI 2"), "refuses by path too: %s", err);

	struct seen s = {0};
	int n = im_plugin_foreach(fixtures, count, &s);
	ok(n >= 7, "im_plugin_foreach visits every module (%d)", n);
	is_int(s.total, 7, "seven fixture modules, each once (.so and .la deduplicated)");
	is_int(s.loaded, 1, "one of them loads");
	is_int(s.refused_named, 6, "six are refused, each reason naming its file");
	return done_testing();
}
