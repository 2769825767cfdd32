/* immigrate source plugin SDK: the whole interface between the runner and a plugin.
 *
 * A plugin is a shared object loaded with libltdl. It exports exactly one symbol,
 * IMMIGRATE_SOURCE_ENTRY (immigrate_source_v1 for ABI 1), a function returning a
 * pointer to a static struct im_source. The runner refuses a plugin whose symbol
 * is missing, whose descriptor reports another ABI or is smaller than the first
 * ABI 1 layout, lacks a mandatory call, names itself other than its file (NAME.so
 * must say "NAME"), or declares capabilities its optional calls do not match.
 *
 * Growth rule: both structs below start with their own size. New members are only
 * ever appended; a reader checks `size` before touching a member past the first
 * layout (IM_HAS_MEMBER). Removing or reordering members means a new ABI major,
 * hence a new entry symbol name.
 *
 * Plugins never link against the executable: everything they need from the runner
 * comes through struct im_host (logging, HTTP with the runner's TLS, retry and rate
 * policy). Records cross the boundary as Jansson objects (the process has one
 * libjansson; plugins link it themselves), or, where the runner says it takes
 * them (IM_HOST_TEXT_RECORDS), as checked JSON text.
 *
 * Writing one: include <immigrate/source.h>, define the descriptor and the entry
 * function, build a module exporting only the entry symbol, e.g.
 *     cc -shared -fPIC -o myvendor.so myvendor.c \
 *        $(pkg-config --cflags --libs immigrate-plugin) \
 *        -Wl,--version-script=<(echo '{global: immigrate_source_v1; local: *;};')
 * install it as $(pkg-config --variable=plugindir immigrate-plugin)/myvendor.so
 * (or point IMMIGRATE_PLUGIN_PATH at it) and check it with `immigrate plugins`.
 * In-tree plugins also pass tests/conformance/plugin-conformance.
 *
 * Return codes used by every call: IM_SOURCE_OK (0), IM_SOURCE_END (1, no more
 * records), IM_SOURCE_REJECT (2, webhook authentication failed),
 * IM_SOURCE_RETRY (3, transient failure: try again later), IM_SOURCE_ERROR (-1,
 * failure described in the caller's err buffer). */
#ifndef IMMIGRATE_SOURCE_H
#define IMMIGRATE_SOURCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IMMIGRATE_SOURCE_ABI 1
#define IMMIGRATE_SOURCE_ENTRY immigrate_source_v1
#define IMMIGRATE_SOURCE_ENTRY_NAME "immigrate_source_v1"

/* True when a struct that starts with `uint32_t size` is large enough to hold member. */
#define IM_HAS_MEMBER(ptr, type, member) \
	((ptr)->size >= offsetof(type, member) + sizeof(((type *)0)->member))

enum im_source_status {
	IM_SOURCE_ERROR = -1,
	IM_SOURCE_OK = 0,
	IM_SOURCE_END = 1,
	IM_SOURCE_REJECT = 2,
	IM_SOURCE_RETRY = 3,
};

enum im_source_log_level { IM_SOURCE_LOG_ERROR = 0, IM_SOURCE_LOG_WARN, IM_SOURCE_LOG_INFO, IM_SOURCE_LOG_DEBUG };

/* Capabilities a plugin declares in im_source.capabilities. */
#define IM_SOURCE_CAP_READ 0x01u     /* open/next/checkpoint/close over an export or a pull */
#define IM_SOURCE_CAP_ESTIMATE 0x02u /* estimate() */
#define IM_SOURCE_CAP_WEBHOOK 0x04u  /* webhook(): parse and authenticate vendor webhooks */
#define IM_SOURCE_CAP_DELIVER 0x08u  /* deliver(): send an IM event to the old system */
#define IM_SOURCE_CAP_PULL 0x10u     /* reads from the vendor's REST API through host->http */

/* One HTTP request made through the host. All strings are borrowed for the call. */
struct im_http_request {
	uint32_t size;               /* sizeof(struct im_http_request) */
	const char *method;          /* "GET", "POST", ... */
	const char *url;
	const char *const *headers;  /* NULL-terminated "Name: value" lines, or NULL */
	const void *body;            /* may be NULL */
	size_t body_len;
	long timeout_ms;             /* 0: the host's default */
	const char *rate_key;        /* requests sharing a key share one token bucket; NULL: none */
	double rate_per_second;      /* the bucket's rate when rate_key is set; 0: unlimited.
				      * The bucket holds max(1, rate) tokens: at most one
				      * second's worth of requests goes out in a burst, and
				      * every attempt (retries too) takes a token. */
	/* Appended after the first layout: read only when size covers it. */
	uint32_t flags;              /* IM_HTTP_* */
};

/* Do not retry this request on 429/5xx/transport errors (non-idempotent calls,
 * e.g. deliver() posting a message: the plugin returns IM_SOURCE_RETRY instead). */
#define IM_HTTP_NO_RETRY 0x01u

/* The answer. The host allocates body and headers; release them with host->http_free. */
struct im_http_response {
	uint32_t size;   /* sizeof(struct im_http_response), set by the caller */
	long status;     /* HTTP status */
	char *body;      /* NUL-terminated for convenience; body_len excludes the NUL */
	size_t body_len;
	char *headers;   /* raw response header block, NUL-terminated */
};

/* What the runner offers a plugin. Valid from open() until close() returns. */
struct im_host {
	uint32_t size; /* sizeof(struct im_host) as the runner was built */
	uint32_t abi;  /* IMMIGRATE_SOURCE_ABI */
	void *ctx;     /* pass back as the first argument of every call below */

	/* Log one line, prefixed with the plugin's name. Never pass secrets. */
	void (*log)(void *ctx, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

	/* Perform one HTTP request with the runner's TLS settings, honouring rate_key
	 * and retrying transport failures, 429 and 5xx with backoff (bounded).
	 * Returns IM_SOURCE_OK when an answer arrived (any status; inspect it),
	 * IM_SOURCE_ERROR with err filled when none did after the retries. */
	int (*http)(void *ctx, const struct im_http_request *req, struct im_http_response *resp,
		    char *err, size_t err_size);
	void (*http_free)(void *ctx, struct im_http_response *resp);

	/* Parse JSON text with the runner's limits (depth, size). Returns a new
	 * reference or NULL with err filled ("line 3 column 7: ..."). */
	json_t *(*json_parse)(void *ctx, const char *text, size_t len, char *err, size_t err_size);

	/* Appended after the first ABI 1 layout: read only when
	 * IM_HAS_MEMBER(host, struct im_host, flags); older runners have none. */
	uint32_t flags; /* IM_HOST_* */
};

/* The runner takes a good record as text alone: next() may leave out->data
 * NULL and hand the record in out->text/out->text_len, with out->error NULL.
 * The text must be exactly one JSON value that the plugin has checked as
 * thoroughly as parsing it would (syntax, UTF-8 and escapes, numbers within
 * Jansson's range, size cap, the shape the plugin promises, e.g. an object);
 * the runner parses it itself, so the plugin need not build a json_t. A plugin
 * may still set data for any record (it must when it cannot vouch for the
 * text); bad records stay data NULL + error + raw. Only set where the runner
 * feeds records to the mapping script (extract run and preview), never where
 * the caller needs out->data. */
#define IM_HOST_TEXT_RECORDS 0x01u

/* One record produced by next(). The plugin owns every pointer; they stay valid
 * until the next call to next() or close(). The core takes its own reference to
 * data when it keeps it. */
struct im_record {
	uint32_t size;         /* set by the caller: sizeof(struct im_record) */
	const char *stream;    /* one of im_source.streams, e.g. "users", "messages" */
	json_t *data;          /* the native record; NULL when the record is bad (see error), or
				* when it comes as text alone (IM_HOST_TEXT_RECORDS) */
	const char *source_id; /* the old system's id when known (message id, user id), else NULL */
	const char *origin;    /* where it came from, for humans: "export.jsonl:1234" */
	const char *raw;       /* the raw text when data is NULL (truncated by the plugin if huge) */
	const char *error;     /* non-NULL: this record is unreadable; it becomes a dead letter */
	/* Appended after the first ABI 1 layout (write them only when size covers
	 * them: IM_HAS_MEMBER(out, struct im_record, text_len)). Optional, for a good record: the
	 * record's JSON text exactly as the plugin read and parsed it into data (not
	 * NUL-terminated; text_len bytes), so the core stores that as the raw record
	 * instead of serialising data again. NULL/0 when the plugin has no such text;
	 * it must parse to a value equal to data. With IM_HOST_TEXT_RECORDS set by the
	 * host, a good record may come as this text alone, data NULL (see there). */
	const char *text;
	size_t text_len;
};

/* One inbound webhook request (sync). Borrowed for the call. */
struct im_webhook_request {
	uint32_t size;
	const char *method;
	const char *path;           /* e.g. "/source/sendbird" */
	const char *query;          /* raw query string without '?', or "" */
	const char *const *headers; /* NULL-terminated "name: value" lines, names lower-cased */
	const char *body;
	size_t body_len;
	int64_t now;                /* Unix seconds, for replay windows */
};

struct im_source {
	uint32_t size;       /* sizeof(struct im_source) as the plugin was built */
	uint32_t abi;        /* IMMIGRATE_SOURCE_ABI */
	const char *name;    /* "jsonl": what job files name in source.plugin; the file is NAME.so */
	const char *version; /* the plugin's own version, e.g. "1.0.0" */
	const char *description;
	const char *const *streams; /* NULL-terminated stream names, in the order next() yields
				     * them; a plugin whose stream names come from its options
				     * lists its defaults (every record's stream must be listed
				     * for the conformance kit's fixtures) */
	uint32_t capabilities;      /* IM_SOURCE_CAP_* */

	/* Validate options (the job file's `source` table as a JSON object, without
	 * the runner's own `plugin` key; unknown keys must be refused by name) and
	 * prepare to read. checkpoint is NULL for a fresh start, or a token previously
	 * returned by checkpoint(): reading then resumes right after the last record
	 * that token covered. On success stores the plugin's state in *state and
	 * returns IM_SOURCE_OK; otherwise IM_SOURCE_ERROR with err filled (naming the
	 * option or the checkpoint and the reason) and *state left NULL or safe to
	 * close(). Sync-only uses (webhook/deliver) also go through open(). */
	int (*open)(const struct im_host *host, const json_t *options, const char *checkpoint,
		    void **state, char *err, size_t err_size);

	/* Produce the next record into *out. Returns IM_SOURCE_OK (a record, possibly a
	 * bad one with out->error set: the run goes on), IM_SOURCE_END, or
	 * IM_SOURCE_ERROR (fatal: the source cannot go on; err says why). */
	int (*next)(void *state, struct im_record *out, char *err, size_t err_size);

	/* The resume point just after the last record next() produced (bad records
	 * included), as a malloc'd NUL-terminated string the caller frees; NULL on
	 * allocation failure. Before the first next() it is the starting point.
	 * Deterministic: the same position always gives the same string, whether
	 * reached by reading or by resuming, so the core may compare tokens. */
	char *(*checkpoint)(void *state);

	/* Release everything. Safe after any error, and with state NULL. */
	void (*close)(void *state);

	/* Optional (NULL when absent). Estimated record counts per stream, as a new JSON
	 * object {"users": 120, "messages": 51234}. Must not disturb next(). */
	int (*estimate)(void *state, json_t **counts, char *err, size_t err_size);

	/* Optional. Authenticate and parse one webhook request. On IM_SOURCE_OK stores a
	 * new JSON array in *records: objects {"stream": s, "id": vendor event id or
	 * null, "data": native record}. IM_SOURCE_REJECT when the signature or
	 * freshness check fails (nothing may be stored); IM_SOURCE_ERROR when the
	 * request cannot be parsed. */
	int (*webhook)(void *state, const struct im_webhook_request *req, json_t **records, char *err,
		       size_t err_size);

	/* Optional. Send one event (mapped by the script's reverse function) to the old
	 * system. On IM_SOURCE_OK may store a malloc'd id the old system gave it in
	 * *remote_id (used for echo suppression). IM_SOURCE_RETRY for transient
	 * failures, IM_SOURCE_ERROR for permanent ones. */
	int (*deliver)(void *state, const json_t *event, char **remote_id, char *err, size_t err_size);
};

/* The first ABI 1 layouts: a descriptor (or host table, or request) smaller than
 * this is refused; members appended later are read only when size covers them. */
#define IM_SOURCE_SIZE_V1 (offsetof(struct im_source, deliver) + sizeof(void (*)(void)))
#define IM_HOST_SIZE_V1 (offsetof(struct im_host, json_parse) + sizeof(void (*)(void)))
#define IM_HTTP_REQUEST_SIZE_V1 (offsetof(struct im_http_request, rate_per_second) + sizeof(double))
#define IM_HTTP_RESPONSE_SIZE_V1 (offsetof(struct im_http_response, headers) + sizeof(char *))
#define IM_RECORD_SIZE_V1 (offsetof(struct im_record, error) + sizeof(char *))

/* The one symbol a plugin exports. */
typedef const struct im_source *(*im_source_entry_fn)(void);
const struct im_source *IMMIGRATE_SOURCE_ENTRY(void);

#ifdef __cplusplus
}
#endif

#endif
