/* Internal interfaces between the pieces of the Sendbird plugin: the descriptor
 * (sendbird.c) dispatches to one of two readers, the export-file reader
 * (export_source.c) or the Platform API reader (pull_source.c). Both produce the
 * same native records in the same streams. */
#ifndef SENDBIRD_INTERNAL_H
#define SENDBIRD_INTERNAL_H

#include <immigrate/source.h>

/* Streams, in the order records come out. */
#define SB_STREAM_USERS "users"
#define SB_STREAM_CHANNELS "channels"
#define SB_STREAM_MESSAGES "messages"
#define SB_STREAM_BLOCKS "blocks"

/* One element of a bad record's raw text at most this long reaches the dead letter. */
#define SB_RAW_MAX 4096
/* Default cap on one native record's size (a channel with thousands of members is a few MB). */
#define SB_DEFAULT_MAX_RECORD (16u << 20)

struct sb_export;
struct sb_pull;

/* Export mode. options is the validated `source` table; checkpoint is the parsed
 * token or NULL. Returns IM_SOURCE_OK with *out set (free with sb_export_close),
 * or IM_SOURCE_ERROR with err filled. */
int sb_export_open(const struct im_host *host, const json_t *options, const json_t *checkpoint,
		   struct sb_export **out, char *err, size_t err_size);
int sb_export_next(struct sb_export *x, struct im_record *out, char *err, size_t err_size);
/* A new JSON object (the caller serialises and frees it), NULL when out of memory. */
json_t *sb_export_checkpoint(struct sb_export *x);
int sb_export_estimate(struct sb_export *x, json_t **counts, char *err, size_t err_size);
void sb_export_close(struct sb_export *x);

/* Pull mode; same contracts as the export functions. */
int sb_pull_open(const struct im_host *host, const json_t *options, const json_t *checkpoint, struct sb_pull **out,
		 char *err, size_t err_size);
int sb_pull_next(struct sb_pull *p, struct im_record *out, char *err, size_t err_size);
json_t *sb_pull_checkpoint(struct sb_pull *p);
int sb_pull_estimate(struct sb_pull *p, json_t **counts, char *err, size_t err_size);
void sb_pull_close(struct sb_pull *p);

/* The old system's id of a native record: user_id, channel_url or message_id as
 * text, written into buf. Returns buf, or NULL when the record has none. */
const char *sb_record_id(const char *stream, const json_t *rec, char *buf, size_t size);

#endif
