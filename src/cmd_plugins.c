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
	int json;
	int found;
	int refused;
	json_t *array; /* --json */
};

static const struct {
	uint32_t bit;
	const char *name;
} capability_names[] = {
	{IM_SOURCE_CAP_READ, "read"},       {IM_SOURCE_CAP_ESTIMATE, "estimate"},
	{IM_SOURCE_CAP_WEBHOOK, "webhook"}, {IM_SOURCE_CAP_DELIVER, "deliver"},
	{IM_SOURCE_CAP_PULL, "pull"},
};

static void join_capabilities(uint32_t caps, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof capability_names / sizeof capability_names[0]; i++)
		if ((caps & capability_names[i].bit) && used < size)
			used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "",
						 capability_names[i].name);
}

static void join_streams(const char *const *streams, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (; streams && *streams && used < size; streams++)
		used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "", *streams);
}

static void print_one(const char *path, const struct im_source *src, const char *error, void *ud)
{
	struct listing *l = ud;
	if (!src) {
		l->refused++;
		if (l->json)
			json_array_append_new(l->array, json_pack("{s:s, s:s}", "path", path, "error", error));
		else
			printf("refused  %s\n", error);
		return;
	}
	l->found++;
	char caps[128], streams[512];
	join_capabilities(src->capabilities, caps, sizeof caps);
	join_streams(src->streams, streams, sizeof streams);
	if (l->json) {
		json_t *s = json_array(), *c = json_array();
		for (const char *const *st = src->streams; st && *st; st++)
			json_array_append_new(s, json_string(*st));
		for (size_t i = 0; i < sizeof capability_names / sizeof capability_names[0]; i++)
			if (src->capabilities & capability_names[i].bit)
				json_array_append_new(c, json_string(capability_names[i].name));
		json_array_append_new(l->array, json_pack("{s:s, s:s, s:s?, s:o, s:o, s:s}", "name", src->name,
							  "version", src->version, "description",
							  src->description, "streams", s, "capabilities", c,
							  "path", path));
		return;
	}
	printf("%-12s %-9s %-28s %-22s %s\n", src->name, src->version, streams, caps, path);
	if (src->description && *src->description)
		printf("%-12s %s\n", "", src->description);
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
	const char *plugin_dir = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "d:jh", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			plugin_dir = optarg;
			break;
		case 'j':
			l.json = 1;
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
	if (l.json && !(l.array = json_array())) {
		fprintf(stderr, "immigrate plugins: out of memory\n");
		return IM_EXIT_FATAL;
	}
	if (!l.json)
		printf("%-12s %-9s %-28s %-22s %s\n", "NAME", "VERSION", "STREAMS", "CAPABILITIES", "PATH");
	int n = im_plugin_foreach(plugin_dir, print_one, &l);
	if (n < 0) {
		fprintf(stderr, "immigrate plugins: out of memory\n");
		json_decref(l.array);
		return IM_EXIT_FATAL;
	}
	if (l.json) {
		if (json_dumpf(l.array, stdout, JSON_INDENT(2)) == 0)
			putchar('\n');
		json_decref(l.array);
	}
	if (n == 0)
		fprintf(stderr, "immigrate plugins: no plugins found\n");
	fflush(stdout);
	return IM_EXIT_OK;
}
