#include "log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum im_log_level current_level = IM_LOG_INFO;
static enum im_log_format current_format = IM_LOG_TEXT;
static const char *program = "immigrate";

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void im_log_set_level(enum im_log_level level) { current_level = level; }
enum im_log_level im_log_get_level(void) { return current_level; }
void im_log_set_format(enum im_log_format format) { current_format = format; }
void im_log_set_program(const char *name) { program = name; }

void im_logv(enum im_log_level level, const char *fmt, va_list ap)
{
	if (level > current_level)
		return;
	char msg[2048];
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (current_format == IM_LOG_JSON) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		json_t *line = json_pack("{s:f, s:s, s:s, s:s}", "ts",
					 (double)ts.tv_sec + ts.tv_nsec / 1e9, "level",
					 level_names[level], "program", program, "msg", msg);
		char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
		/* One call per line so concurrent writers do not interleave mid-line. */
		if (text)
			fprintf(stderr, "%s\n", text);
		free(text);
		json_decref(line);
		return;
	}
	fprintf(stderr, "%s: %s%s%s\n", program, level == IM_LOG_INFO ? "" : level_names[level],
		level == IM_LOG_INFO ? "" : ": ", msg);
}

void im_log(enum im_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	im_logv(level, fmt, ap);
	va_end(ap);
}
