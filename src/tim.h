/* The request layer for the Tencent IM REST API (spec §1): URLs, the admin
 * UserSig, and many requests in flight over libcurl multi (keep-alive, HTTP/2
 * multiplexing when the server offers it), driven by the caller's event loop.
 *
 * Secrets: the key is borrowed and never copied into logs; the UserSig and the
 * URL that carries it are never logged or returned. Log lines name the API
 * ("openim/importmsg"). Not thread-safe: one struct im_tim per loop.
 *
 * Test knobs (environment, read by im_tim_new, not for production use):
 *   IMMIGRATE_USERSIG_TTL=N       sign UserSigs valid N seconds (overrides
 *                                 usersig_ttl), so that they expire during a run;
 *   IMMIGRATE_USERSIG_BACKDATE=N  sign them as if issued N seconds ago while
 *                                 renewal still counts from now: a clock N seconds
 *                                 behind the service's, where the service refuses
 *                                 a UserSig (70001) before its planned renewal. */
#ifndef IMMIGRATE_TIM_H
#define IMMIGRATE_TIM_H

#include <stddef.h>
#include <stdint.h>

struct im_tim_config {
	const char *endpoint;  /* "https://adminapisgp.im.qcloud.com" or "http://127.0.0.1:PORT" */
	uint64_t sdkappid;
	const char *admin;     /* the app admin identifier */
	const char *key;       /* secret key, borrowed for the life of the im_tim */
	size_t key_len;
	const char *ca_file;   /* CA bundle to verify the endpoint with; NULL: system default */
	int insecure;	       /* non-zero: do not verify TLS (test endpoints only) */
	long timeout_ms;       /* whole request; 0: 10000 (the server's own limit is 3 s) */
	long connect_timeout_ms; /* 0: 5000 */
	int64_t usersig_ttl;   /* validity of generated UserSigs in seconds; 0: 86400 */
	int max_connections;   /* per host; 0: 64 */
};

/* What came back for one request. body is valid only during the callback. */
struct im_tim_reply {
	int curl_code;	  /* CURLcode, 0 when an HTTP answer was read */
	long http_status; /* 0 when none */
	const char *body;
	size_t body_len;
	double seconds;	  /* time from hand-over to libcurl to completion */
	uint64_t usersig_gen; /* which UserSig the request carried (im_tim_usersig_gen) */
};

typedef void (*im_tim_cb)(void *arg, const struct im_tim_reply *reply);

struct im_tim;

/* Creates a request layer and signs the first UserSig. Returns NULL with the
 * reason in err (which never contains the key) on failure. */
struct im_tim *im_tim_new(const struct im_tim_config *cfg, char *err, size_t err_size);

/* Aborts requests still in flight (their callbacks are not called) and frees. */
void im_tim_free(struct im_tim *t);

/* Queues POST /v4/service/command with body (JSON text, copied). cb(arg, reply) is
 * called exactly once from im_tim_run, unless im_tim_free comes first. Returns 0,
 * or -1 when the request could not be set up (out of memory, UserSig failure). */
int im_tim_submit(struct im_tim *t, const char *service, const char *command, const char *body,
		  size_t body_len, im_tim_cb cb, void *arg);

/* Flags for im_tim_submit_flags. */
enum {
	/* Send on a connection of its own, closed afterwards. libcurl silently
	 * resends a request whose reused keep-alive connection closes before any
	 * answer; a call that is not idempotent must not be sent twice unseen. */
	IM_TIM_FRESH_CONNECTION = 1u << 0,
};

/* im_tim_submit with flags (IM_TIM_*). */
int im_tim_submit_flags(struct im_tim *t, const char *service, const char *command, const char *body,
			size_t body_len, unsigned flags, im_tim_cb cb, void *arg);

/* Drives transfers and calls the callbacks of finished requests. When the first
 * transfer step finishes some, they are called back at once without waiting;
 * otherwise it waits up to timeout_ms (0: not at all) for network activity and
 * steps again. Returns the number of callbacks called, or -1 on a libcurl multi
 * error. */
int im_tim_run(struct im_tim *t, int timeout_ms);

/* Requests submitted and not yet called back. */
size_t im_tim_in_flight(const struct im_tim *t);

/* The service said the UserSig expired (70001): sign a new one for the next
 * requests. Returns 0, or -1 when signing failed. */
int im_tim_renew_usersig(struct im_tim *t);

/* The service refused the UserSig the request of reply carried (70001). Signs a
 * new one unless one was signed since that request was sent (the other requests
 * in flight with the old UserSig come back refused too). Returns 1 when it
 * signed, 0 when a newer UserSig was in use already, -1 when signing failed. */
int im_tim_usersig_rejected(struct im_tim *t, const struct im_tim_reply *reply);

/* The UserSig in use: 1 for the first, one more at every renewal (planned, or
 * after a refusal). */
uint64_t im_tim_usersig_gen(const struct im_tim *t);

/* Calls submitted so far. */
uint64_t im_tim_calls(const struct im_tim *t);

#endif
