/* The job file's `sync` table: how `immigrate sync` listens and delivers.
 *
 *   sync = {
 *     listen = "127.0.0.1:8080",   -- address:port ("[::1]:8080" for IPv6); port 0 picks one
 *     port_file = "sync.port",     -- written with the bound port once listening (optional)
 *     tls_cert = "cert.pem", tls_key = "key.pem",  -- serve HTTPS (both or neither)
 *     callback_token_file = "cb.token",  -- Tencent callback token; else callback_token
 *                                  -- (e.g. env("IM_CALLBACK_TOKEN")), else
 *                                  -- $IMMIGRATE_CALLBACK_TOKEN. Required.
 *     callback_window = 60,        -- seconds of RequestTime skew accepted
 *     max_body_bytes = 1048576,    -- larger requests get 413, nothing stored
 *     max_connections = 1024,
 *     connection_timeout = 30,     -- idle seconds before a connection is closed
 *     fsync = true,                -- false: synchronous=NORMAL (crash-safe, not power-safe)
 *     batch_max = 4096,            -- requests per group commit at most
 *     max_attempts = 10,           -- delivery attempts before an event is dead
 *     retry_base_ms = 500, retry_max_ms = 60000,  -- backoff with full jitter
 *     concurrency = 32,            -- old -> new events of different conversations in
 *                                  -- flight at once (each API paced at its spec limit)
 *     history_wait_ms = 2000,      -- re-check interval for group messages whose
 *                                  -- group history is still importing
 *     directions = { old_to_new = true, new_to_old = true },
 *     deliver_workers = 4,         -- new -> old: deliveries to the old system in parallel
 *                                  -- (conversations partitioned among them, each in order)
 *     retention_hours = 168,       -- delivered events (and their dedupe keys) kept this long
 *     deliver = true,              -- false: accept and store only (deliveries wait for a
 *                                  -- start with deliver = true; for staging a cutover
 *                                  -- and for measuring acceptance alone)
 *   }
 *
 * Relative paths are relative to the job file's directory. Unknown keys are
 * errors naming the key. */
#ifndef IMMIGRATE_SYNC_CONFIG_H
#define IMMIGRATE_SYNC_CONFIG_H

#include <jansson.h>
#include <stddef.h>

struct im_sync_config {
	char *listen_host; /* numeric address */
	int port;
	char *port_file;   /* NULL: none */
	char *tls_cert, *tls_key; /* NULL: plain HTTP */
	char *callback_token;     /* secret; wiped by im_sync_config_free */
	size_t callback_token_len;
	int callback_window;
	size_t max_body;
	unsigned max_connections;
	unsigned connection_timeout;
	int fsync;
	long ack_deadline_ms;
	size_t batch_max;
	int max_attempts;
	long retry_base_ms, retry_max_ms;
	long history_wait_ms;
	int concurrency;
	int deliver_workers;
	long retention_hours;
	int old_to_new, new_to_old;
	int deliver;
};

/* Fills cfg from the sync table (NULL: all defaults) with paths resolved against
 * base_dir. Returns 0, or -1 with err naming the key ("sync.listen: ...") and the
 * problem; cfg must then still be freed. The token is never put into err. */
int im_sync_config_parse(const json_t *sync, const char *base_dir, struct im_sync_config *cfg, char *err,
			 size_t err_size);
void im_sync_config_free(struct im_sync_config *cfg);

#endif
