/* immigrate: git-style dispatch to subcommands. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "log.h"

const struct im_command im_commands[] = {
	{"usersig", cmd_usersig, "print or verify a UserSig (TLSSigAPIv2)"},
	{"plugins", cmd_plugins, "list the source plugins found and why any are refused"},
	{"check", cmd_check, "validate a job: file, plugin options, script, key (no network)"},
	{"preview", cmd_preview, "print the IM records a job's script makes from the first records"},
	{"run", cmd_run, "extract, transform and stage a job's source, then load it"},
	{"dlq", cmd_dlq, "list, show and replay dead letters (records that could not be migrated)"},
	{"sync", cmd_sync, "two-way sync daemon: old system <-> Tencent IM while both are in use"},
	{"plan", cmd_plan, "the calls, wall-time floor and critical path of a migration, and what will be refused"},
	{"verify", cmd_verify, "read the target back and compare it with what landed"},
	{"report", cmd_report, "write the migration report as one self-contained HTML file"},
	{NULL, NULL, NULL},
};

static void print_usage(FILE *out)
{
	fprintf(out, "usage: immigrate [--version] [--help] <command> [<args>]\n");
}

static void print_help(void)
{
	print_usage(stdout);
	printf("\nMove a chat app's users, relationships, groups and history onto Tencent Cloud IM,\n"
	       "and keep old and new systems in sync while both are in use.\n\ncommands:\n");
	for (const struct im_command *c = im_commands; c->name; c++)
		printf("  %-10s %s\n", c->name, c->summary);
	printf("\nRun 'immigrate <command> --help' for a command's options. See immigrate(1).\n");
}

int main(int argc, char **argv)
{
	im_log_set_program("immigrate");
	if (argc < 2) {
		print_usage(stderr);
		return IM_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		print_help();
		return IM_EXIT_OK;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
		printf("immigrate %s\n", PACKAGE_VERSION);
		return IM_EXIT_OK;
	}
	for (const struct im_command *c = im_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c->run(argc - 1, argv + 1);
	if (name[0] == '-')
		fprintf(stderr, "immigrate: unknown option '%s'\n", name);
	else
		fprintf(stderr, "immigrate: '%s' is not an immigrate command\n", name);
	print_usage(stderr);
	fprintf(stderr, "Run 'immigrate --help' for the list of commands.\n");
	return IM_EXIT_USAGE;
}
