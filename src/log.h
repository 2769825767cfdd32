/* Logging for the runner, the emulator and (through the host table) plugins.
 *
 * One line per message on stderr, text by default or JSON Lines with
 * im_log_set_format(IM_LOG_JSON). Messages must never carry secrets: callers
 * pass identifiers and codes, never keys, UserSigs or tokens. */
#ifndef IMMIGRATE_LOG_H
#define IMMIGRATE_LOG_H

#include <stdarg.h>

enum im_log_level { IM_LOG_ERROR = 0, IM_LOG_WARN = 1, IM_LOG_INFO = 2, IM_LOG_DEBUG = 3 };
enum im_log_format { IM_LOG_TEXT = 0, IM_LOG_JSON = 1 };

/* Messages above this level are dropped. Default: IM_LOG_INFO. */
void im_log_set_level(enum im_log_level level);
enum im_log_level im_log_get_level(void);
void im_log_set_format(enum im_log_format format);
/* The program name printed at the start of text lines ("immigrate"). Not copied. */
void im_log_set_program(const char *name);

void im_log(enum im_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void im_logv(enum im_log_level level, const char *fmt, va_list ap);

#define im_error(...) im_log(IM_LOG_ERROR, __VA_ARGS__)
#define im_warn(...) im_log(IM_LOG_WARN, __VA_ARGS__)
#define im_info(...) im_log(IM_LOG_INFO, __VA_ARGS__)
#define im_debug(...) im_log(IM_LOG_DEBUG, __VA_ARGS__)

#endif
