/* immigrate plugins [--plugin-dir DIR] [--json]: the source plugins found in the
 * search path, and the reason for each module refused. */
#include "config.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "plugin.h"

struct listing {
	int refused;
	json_t *array; /* every module found, in search order */
};

static const struct {
	uint32_t bit;
	const char *name;
} capability_names[] = {
	{IM_SOURCE_CAP_READ, "read"},       {IM_SOURCE_CAP_ESTIMATE, "estimate"},
	{IM_SOURCE_CAP_WEBHOOK, "webhook"}, {IM_SOURCE_CAP_DELIVER, "deliver"},
	{IM_SOURCE_CAP_PULL, "pull"},
};

/* Collected first (modules are unloaded after each callback), printed after. */
static void collect(const char *path, const struct im_source *src, const char *error, void *ud)
{
	struct listing *l = ud;
	if (!src) {
		l->refused++;
		json_array_append_new(l->array, json_pack("{s:s, s:s}", "path", path, "error", error));
		return;
	}
	json_t *s = json_array(), *c = json_array();
	for (const char *const *st = src->streams; st && *st; st++)
		json_array_append_new(s, json_string(*st));
	for (size_t i = 0; i < sizeof capability_names / sizeof capability_names[0]; i++)
		if (src->capabilities & capability_names[i].bit)
			json_array_append_new(c, json_string(capability_names[i].name));
	json_array_append_new(l->array, json_pack("{s:s, s:s, s:s?, s:o, s:o, s:s}", "name", src->name, "version",
						  src->version, "description", src->description, "streams", s,
						  "capabilities", c, "path", path));
}

/* "a,b,c" from a JSON array of strings, into out. */
static const char *join(const json_t *array, char *out, size_t size)
{
	size_t used = 0, i;
	json_t *v;
	out[0] = '\0';
	json_array_foreach(array, i, v) {
		if (used >= size)
			break;
		used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "," : "", json_string_value(v));
	}
	return out;
}

static int width(const json_t *array, const char *key, int min)
{
	size_t i;
	json_t *v;
	int w = min;
	char buf[512];
	json_array_foreach(array, i, v) {
		json_t *f = json_object_get(v, key);
		int n = (int)strlen(json_is_array(f) ? join(f, buf, sizeof buf) : json_is_string(f) ? json_string_value(f) : "");
		if (n > w)
			w = n;
	}
	return w;
}

static void print_table(const json_t *array)
{
	int wn = width(array, "name", 4), wv = width(array, "version", 7), ws = width(array, "streams", 7),
	    wc = width(array, "capabilities", 12);
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", wn, "NAME", wv, "VERSION", ws, "STREAMS", wc, "CAPABILITIES", "PATH");
	size_t i;
	json_t *v;
	char streams[512], caps[128];
	json_array_foreach(array, i, v) {
		const char *error = json_string_value(json_object_get(v, "error"));
		if (error) {
			printf("refused  %s\n", error);
			continue;
		}
		printf("%-*s  %-*s  %-*s  %-*s  %s\n", wn, json_string_value(json_object_get(v, "name")), wv,
		       json_string_value(json_object_get(v, "version")), ws,
		       join(json_object_get(v, "streams"), streams, sizeof streams), wc,
		       join(json_object_get(v, "capabilities"), caps, sizeof caps),
		       json_string_value(json_object_get(v, "path")));
		const char *description = json_string_value(json_object_get(v, "description"));
		if (description && *description)
			printf("%-*s  %s\n", wn, "", description);
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: immigrate plugins [--plugin-dir DIR] [--json]\n"
		     "Lists the source plugins found in DIR, $IMMIGRATE_PLUGIN_PATH and " IMMIGRATE_PLUGIN_DIR
		     ",\nwith the reason for every module refused.\n");
}

int cmd_plugins(int argc, char **argv)
{
	static const struct option options[] = {
		{"plugin-dir", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct listing l = {0};
	int json = 0;
	const char *plugin_dir = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "d:jh", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			plugin_dir = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return IM_EXIT_OK;
		default:
			usage(stderr);
			return IM_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "immigrate plugins: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return IM_EXIT_USAGE;
	}
	if (!(l.array = json_array())) {
		fprintf(stderr, "immigrate plugins: out of memory\n");
		return IM_EXIT_FATAL;
	}
	int n = im_plugin_foreach(plugin_dir, collect, &l);
	if (n < 0) {
		fprintf(stderr, "immigrate plugins: out of memory\n");
		json_decref(l.array);
		return IM_EXIT_FATAL;
	}
	if (json) {
		if (json_dumpf(l.array, stdout, JSON_INDENT(2)) == 0)
			putchar('\n');
	} else {
		print_table(l.array);
	}
	json_decref(l.array);
	if (n == 0)
		fprintf(stderr, "immigrate plugins: no plugins found\n");
	fflush(stdout);
	return IM_EXIT_OK;
}
