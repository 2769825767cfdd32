/* The plumbing the job commands share (check, preview, run, plan, verify,
 * report, sync, dlq): the common options (--set, --plugin-dir, --log-format,
 * --help), the one JOB operand, loading the job and opening its stage, each
 * failure reported the same way ("immigrate CMD: reason" on stderr) with the
 * same exit code.
 *
 * A command's option loop hands every option it does not know itself to
 * im_cmd_option:
 *
 *   struct im_cmd cmd;
 *   if (im_cmd_init(&cmd, "check", usage, argc) < 0)
 *           return IM_EXIT_FATAL;
 *   while ((c = getopt_long(argc, argv, "s:p:h", opts, NULL)) != -1)
 *           if ((rc = im_cmd_option(&cmd, c, optarg)) != IM_CMD_NEXT)
 *                   return rc;
 *   if ((rc = im_cmd_load_job(&cmd, argc, argv, &job)) != IM_EXIT_OK)
 *           return rc;
 *
 * Ownership: struct im_cmd owns the array of --set values only (the strings are
 * argv's). Every function that returns an exit code other than IM_CMD_NEXT or
 * IM_EXIT_OK after loading has released it; a command that stops on its own
 * before loading the job calls im_cmd_free. */
#ifndef IMMIGRATE_CMD_COMMON_H
#define IMMIGRATE_CMD_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "extract_progress.h"

struct im_job;
struct im_stage;
struct im_plan_config;
struct im_tim_config;

/* The getopt_long entries of the shared options, with the short codes
 * im_cmd_option expects ("s:", "p:", "f:", "h"). */
#define IM_CMD_OPT_SET {"set", required_argument, NULL, 's'}
#define IM_CMD_OPT_PLUGIN_DIR {"plugin-dir", required_argument, NULL, 'p'}
#define IM_CMD_OPT_LOG_FORMAT {"log-format", required_argument, NULL, 'f'}
#define IM_CMD_OPT_HELP {"help", no_argument, NULL, 'h'}

/* im_cmd_option's "taken, go on parsing". */
#define IM_CMD_NEXT (-1)

struct im_cmd {
	const char *name;	    /* "check": messages read "immigrate check: ..." */
	void (*usage)(FILE *out);   /* the command's usage text */
	bool errors_to_log;	    /* report failures with im_error (the log's format) instead */
	const char **sets;	    /* --set values in order; owned array, borrowed strings */
	size_t nsets;
	const char *plugin_dir;	    /* --plugin-dir, or NULL */
	bool log_json;		    /* --log-format json was given */
};

/* Prepares cmd for a command called name whose argv has argc entries (room for
 * as many --set values). Returns 0, or -1 when out of memory (the command
 * returns IM_EXIT_FATAL). */
int im_cmd_init(struct im_cmd *cmd, const char *name, void (*usage)(FILE *out), int argc);

/* Releases what cmd owns; safe to call twice. */
void im_cmd_free(struct im_cmd *cmd);

/* Prints "immigrate NAME: " and the message on stderr (or logs it with
 * im_error when cmd->errors_to_log). */
void im_cmd_error(const struct im_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Handles one getopt_long result the command did not handle itself: 's'
 * (--set), 'p' (--plugin-dir), 'f' (--log-format text|json, applied to the log
 * at once), 'h' (--help: usage on stdout). Returns IM_CMD_NEXT when taken;
 * otherwise releases cmd and returns the exit code to stop with: IM_EXIT_OK
 * after --help, IM_EXIT_USAGE for a bad --log-format or any other option
 * (usage on stderr). */
int im_cmd_option(struct im_cmd *cmd, int opt, const char *arg);

/* Parses --concurrency's value (1 to 10000, the loader's lanes) into *out.
 * Returns IM_CMD_NEXT, or releases cmd and returns IM_EXIT_USAGE (usage
 * message on stderr). */
int im_cmd_concurrency(struct im_cmd *cmd, const char *arg, int *out);

/* Requires exactly one operand left after the options (argv[optind], the job
 * file; else usage on stderr and IM_EXIT_USAGE) and loads it with the --set
 * values. Always releases cmd's --set array. Returns IM_EXIT_OK with *job (free
 * with im_job_free), or IM_EXIT_USAGE with the reason reported. */
int im_cmd_load_job(struct im_cmd *cmd, int argc, char **argv, struct im_job **job);

/* The same for a job path the command found itself (dlq ACTION JOB). */
int im_cmd_load_job_at(struct im_cmd *cmd, const char *path, struct im_job **job);

/* Refuses a job whose stage does not exist yet, saying what makes one (hint,
 * e.g. "run `immigrate run` first"). Returns IM_EXIT_OK or IM_EXIT_USAGE
 * (reported). */
int im_cmd_need_stage(const struct im_cmd *cmd, const struct im_job *job, const char *hint);

/* Opens (creating if need be) the job's stage. Returns IM_EXIT_OK with *stage
 * (close with im_stage_close), or IM_EXIT_FATAL (reported, *stage NULL). */
int im_cmd_open_stage(const struct im_cmd *cmd, const struct im_job *job, struct im_stage **stage);

/* The plan configuration of a job: the defaults, target.limits, the job's
 * kinds, and the edition: edition (--edition) when not NULL, else target.plan.
 * Returns IM_EXIT_OK, or IM_EXIT_USAGE (reported, naming --edition or the key). */
int im_cmd_plan_config(const struct im_cmd *cmd, const struct im_job *job, const char *edition,
		       struct im_plan_config *cfg);

/* Fills tc (all of it; unset fields 0) to reach the job's target with key, which
 * tc borrows: it must outlive the im_tim made from it. */
void im_cmd_tim_config(const struct im_job *job, const char *key, size_t key_len, struct im_tim_config *tc);

/* An extract watch (extract.h) drawing a progress line on stderr: on a
 * terminal redrawn in place, else a line every 5 s; JSON Lines with json;
 * nothing with quiet. Give it to im_extract_run, then im_cmd_extract_watch_end. */
struct im_extract_watch im_cmd_extract_watch(bool quiet, bool json);
void im_cmd_extract_watch_end(struct im_extract_watch *w);

#endif
