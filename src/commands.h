/* Subcommands of the immigrate executable. Each takes the arguments after its
 * name (argv[0] is the subcommand) and returns the process exit code:
 * IM_EXIT_OK, IM_EXIT_FATAL, IM_EXIT_USAGE or IM_EXIT_DEAD_LETTERS. */
#ifndef IMMIGRATE_COMMANDS_H
#define IMMIGRATE_COMMANDS_H

enum {
	IM_EXIT_OK = 0,
	IM_EXIT_FATAL = 1,
	IM_EXIT_USAGE = 2,
	IM_EXIT_DEAD_LETTERS = 3,
};

struct im_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* The table in main.c, terminated by a NULL name. */
extern const struct im_command im_commands[];

int cmd_usersig(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_preview(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
