/* timrun: im_tim_run hands over an answer that its first transfer step read,
 * without waiting for its timeout (the emulator's URL is argv[1], the key file
 * argv[2]; tests/load/tim.sh starts the emulator with --latency so the answer
 * is known to be waiting in the socket before the call).
 *
 * The call under test gets a timeout of five minutes and an alarm of one: a
 * layer that polls before delivering what it already read is killed by SIGALRM
 * and the test fails; one that delivers returns at once.
 *
 * Then: replies name the UserSig their request carried, and refusals of one
 * UserSig by several requests in flight sign one new UserSig, not one each. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pace.h"
#include "secret.h"
#include "tap.h"
#include "tim.h"

static int answers;
static long status;
static struct im_tim_reply seen[8]; /* copies without the body */

static void on_reply(void *arg, const struct im_tim_reply *reply)
{
	(void)arg;
	if (answers < 8) {
		seen[answers] = *reply;
		seen[answers].body = NULL;
	}
	answers++;
	status = reply->http_status;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: timrun URL KEY_FILE LATENCY_MS\n");
		return 2;
	}
	long latency_ms = atol(argv[3]);
	char err[512], *key = NULL;
	size_t key_len = 0;
	if (im_secret_load_file(argv[2], &key, &key_len, err, sizeof err) < 0) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	struct im_tim_config cfg = {
		.endpoint = argv[1], .sdkappid = 1400000000, .admin = "admin", .key = key, .key_len = key_len};
	struct im_tim *t = im_tim_new(&cfg, err, sizeof err);
	if (!t) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	const char body[] = "{\"UserID\":\"timrun\"}";
	ok(im_tim_submit(t, "im_open_login_svc", "account_import", body, sizeof body - 1, on_reply, NULL) == 0,
	   "request submitted");
	/* Connect and send with non-blocking steps, well within the emulator's latency. */
	for (int i = 0; i < 5; i++) {
		im_tim_run(t, 0);
		usleep(10000);
	}
	is_int(answers, 0, "no answer yet (the emulator holds it for %ld ms)", latency_ms);
	/* Now the answer arrives and waits, unread, in the socket. */
	usleep((useconds_t)(latency_ms + 500) * 1000);
	alarm(60);
	double t0 = im_pace_now();
	int n = im_tim_run(t, 300000);
	double took = im_pace_now() - t0;
	alarm(0);
	is_int(n, 1, "the answer read by the first step is delivered by the same call (%.3f s)", took);
	is_int(answers, 1, "callback called once");
	is_int(status, 200, "HTTP 200");
	is_int((long)im_tim_in_flight(t), 0, "nothing left in flight");

	/* Three requests in flight with one UserSig, all refused (as 70001 answers
	 * would be): the first refusal signs a new UserSig, the others do not. */
	answers = 0;
	uint64_t gen = im_tim_usersig_gen(t);
	for (int i = 0; i < 3; i++)
		im_tim_submit(t, "im_open_login_svc", "account_import", body, sizeof body - 1, on_reply, NULL);
	alarm(60);
	while (im_tim_in_flight(t) > 0 && im_tim_run(t, 1000) >= 0)
		;
	alarm(0);
	is_int(answers, 3, "three answers");
	ok(seen[0].usersig_gen == gen && seen[1].usersig_gen == gen && seen[2].usersig_gen == gen,
	   "each reply names the UserSig its request carried");
	is_int(im_tim_usersig_rejected(t, &seen[0]), 1, "the first refusal signs a new UserSig");
	is_int(im_tim_usersig_rejected(t, &seen[1]), 0, "the second finds it signed already");
	is_int(im_tim_usersig_rejected(t, &seen[2]), 0, "and the third");
	ok(im_tim_usersig_gen(t) == gen + 1, "one renewal in all");
	im_tim_free(t);
	im_secret_free(key, key_len);
	return done_testing();
}
