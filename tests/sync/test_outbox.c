/* The outbox: storage before acknowledgement, dedupe of retries, group commit,
 * per-ticket failure isolation, reads and marks, persistence across reopen. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "outbox.h"

static struct im_outbox_event ev(const char *origin, const char *id, const char *body)
{
	struct im_outbox_event e = {origin, id, "messages", body, strlen(body), NULL, NULL, 0};
	return e;
}

/* An exec function that holds the committer until released, so that tickets
 * queued meanwhile provably share the next transaction. */
struct gate {
	pthread_mutex_t m;
	pthread_cond_t c;
	int entered, open;
};

static int hold(sqlite3 *db, void *arg)
{
	struct gate *g = arg;
	pthread_mutex_lock(&g->m);
	g->entered = 1;
	pthread_cond_broadcast(&g->c);
	while (!g->open)
		pthread_cond_wait(&g->c, &g->m);
	pthread_mutex_unlock(&g->m);
	return 0;
}

static void *hold_thread(void *arg)
{
	struct im_outbox *ob = ((void **)arg)[0];
	struct gate *g = ((void **)arg)[1];
	im_outbox_exec(ob, hold, g);
	return NULL;
}

struct counter {
	pthread_mutex_t m;
	int stored, dup, failed;
};

static void count_done(void *arg, int result, int64_t id)
{
	struct counter *c = arg;
	pthread_mutex_lock(&c->m);
	if (result == IM_OUTBOX_STORED)
		c->stored++;
	else if (result == IM_OUTBOX_DUPLICATE)
		c->dup++;
	else
		c->failed++;
	pthread_mutex_unlock(&c->m);
}

static int write_then_fail(sqlite3 *db, void *arg)
{
	sqlite3_exec(db, "INSERT INTO sync_events(origin, event_id, stream, body, received_at)"
			 " VALUES('test', 'doomed', 's', '{}', 0)", NULL, NULL, NULL);
	return -1;
}

static int mark_first(sqlite3 *db, void *arg)
{
	return im_outbox_mark(db, *(int64_t *)arg, IM_OUTBOX_DELIVERED, 1, 0, "conv-a", NULL);
}

static int64_t pruned = -1;

static int prune_future(sqlite3 *db, void *arg)
{
	pruned = im_outbox_prune(db, im_outbox_now_ms() + 60000);
	return pruned < 0 ? -1 : 0;
}

struct put_arg {
	struct im_outbox *ob;
	int base, n, bad;
};

static void *put_many(void *arg)
{
	struct put_arg *p = arg;
	char id[32];
	for (int i = 0; i < p->n; i++) {
		snprintf(id, sizeof id, "t%d", p->base + i);
		struct im_outbox_event e = ev("source:load", id, "{\"x\":1}");
		if (im_outbox_put(p->ob, &e, 1, NULL) != IM_OUTBOX_STORED)
			p->bad++;
	}
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/immigrate-outbox.XXXXXX", path[256], err[512] = "";
	if (!mkdtemp(dir))
		skip_all("no temporary directory");
	snprintf(path, sizeof path, "%s/state.db", dir);
	plan(35);

	struct im_outbox *ob = NULL;
	ok(im_outbox_open(path, NULL, &ob, err, sizeof err) == 0, "opens a new outbox (%s)", err);

	int64_t id1 = 0, id2 = 0;
	struct im_outbox_event e = ev("source:webhook", "m1", "{\"text\":\"hi\"}");
	is_int(im_outbox_put(ob, &e, 1, &id1), IM_OUTBOX_STORED, "a new event is stored");
	ok(id1 > 0, "and gets a row id");
	is_int(im_outbox_put(ob, &e, 1, &id2), IM_OUTBOX_DUPLICATE, "the same (origin, id) again is a duplicate");
	is_int(id2, 0, "a duplicate creates no row");
	e = ev("im", "m1", "{}");
	is_int(im_outbox_put(ob, &e, 1, NULL), IM_OUTBOX_STORED, "the same id from another origin is new");
	e = ev("source:webhook", NULL, "{}");
	is_int(im_outbox_put(ob, &e, 1, NULL), IM_OUTBOX_STORED, "an event without id is stored");
	is_int(im_outbox_put(ob, &e, 1, NULL), IM_OUTBOX_STORED, "and never deduplicated");
	struct im_outbox_event two[2] = {ev("source:webhook", "m1", "{}"), ev("source:webhook", "m2", "{}")};
	is_int(im_outbox_put(ob, two, 2, NULL), IM_OUTBOX_STORED, "a ticket with one old and one new event stores the new one");
	is_int(im_outbox_count(ob, NULL, IM_OUTBOX_PENDING), 5, "five events pending");

	is_int(im_outbox_exec(ob, write_then_fail, NULL), -1, "a failing exec reports its failure");
	is_int(im_outbox_count(ob, "test", -1), 0, "and its writes are rolled back");

	/* Group commit: hold the committer, queue 100 tickets, release. */
	struct im_outbox_stats before, after;
	struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	void *targ[2] = {ob, &g};
	pthread_t th;
	pthread_create(&th, NULL, hold_thread, targ);
	pthread_mutex_lock(&g.m);
	while (!g.entered)
		pthread_cond_wait(&g.c, &g.m);
	pthread_mutex_unlock(&g.m);
	im_outbox_stats(ob, &before);
	struct counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
	int queued = 0;
	for (int i = 0; i < 100; i++) {
		char id[16];
		snprintf(id, sizeof id, "g%d", i);
		struct im_outbox_event ge = ev("source:webhook", id, "{}");
		queued += im_outbox_submit(ob, &ge, 1, count_done, &c) == 0;
	}
	im_outbox_stats(ob, &after);
	is_int(after.queue_depth, 100, "100 tickets wait while the committer is busy");
	pthread_mutex_lock(&c.m);
	is_int(c.stored, 0, "none is acknowledged before its commit");
	pthread_mutex_unlock(&c.m);
	pthread_mutex_lock(&g.m);
	g.open = 1;
	pthread_cond_broadcast(&g.c);
	pthread_mutex_unlock(&g.m);
	pthread_join(th, NULL);
	for (;;) { /* waits for completions; asserts nothing about time */
		pthread_mutex_lock(&c.m);
		int done = c.stored + c.dup + c.failed;
		pthread_mutex_unlock(&c.m);
		if (done == queued)
			break;
		usleep(1000);
	}
	im_outbox_stats(ob, &after);
	is_int(c.stored, 100, "all 100 acknowledged as stored");
	is_int(after.commits - before.commits, 2, "in one transaction (plus the gate's own)");

	/* Many threads at once. */
	pthread_t ts[4];
	struct put_arg pa[4];
	for (int i = 0; i < 4; i++) {
		pa[i] = (struct put_arg){ob, i * 1000, 250, 0};
		pthread_create(&ts[i], NULL, put_many, &pa[i]);
	}
	int bad = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(ts[i], NULL);
		bad += pa[i].bad;
	}
	is_int(bad, 0, "1000 concurrent puts from 4 threads all stored");
	is_int(im_outbox_count(ob, "source:load", -1), 1000, "and all 1000 are there");

	/* Reads and marks. */
	struct im_outbox_row *rows;
	size_t n;
	ok(im_outbox_pending(ob, "source:webhook", 0, 3, 1, 0, &rows, &n) == 0 && n == 3, "pending reads a window");
	ok(n == 3 && rows[0].id == id1 && rows[0].id < rows[1].id && rows[1].id < rows[2].id, "in id order");
	ok(n == 3 && strcmp(rows[0].body, "{\"text\":\"hi\"}") == 0 && strcmp(rows[0].event_id, "m1") == 0,
	   "with body and event id");
	im_outbox_rows_free(rows, n);
	is_int(im_outbox_exec(ob, mark_first, &id1), 0, "mark delivered");
	ok(im_outbox_pending(ob, "source:webhook", 0, 1, 1, 0, &rows, &n) == 0 && n == 1 && rows[0].id != id1,
	   "a delivered event is no longer pending");
	im_outbox_rows_free(rows, n);

	struct im_outbox_event sh[3] = {ev("im", "s1", "{}"), ev("im", "s2", "{}"), ev("im", "s3", "{}")};
	sh[0].conv = "c:a|b";
	sh[0].shard = 4;
	sh[1].conv = "c:a|c";
	sh[1].shard = 5;
	im_outbox_put(ob, sh, 3, NULL);
	ok(im_outbox_pending(ob, "im", 0, 10, 2, 0, &rows, &n) == 0 && n == 3, "part 0 of 2: its shard, plus unknown ones");
	ok(n == 3 && rows[1].conv && strcmp(rows[1].conv, "c:a|b") == 0, "the ordering key given at intake is stored");
	im_outbox_rows_free(rows, n);
	ok(im_outbox_pending(ob, "im", 0, 10, 2, 1, &rows, &n) == 0 && n == 3 && strcmp(rows[1].event_id, "s2") == 0,
	   "part 1 of 2: the other shard, plus unknown ones");
	im_outbox_rows_free(rows, n);
	ok(im_outbox_shard("x") != 0 && im_outbox_shard("") != 0, "shards are never 0");

	is_int(im_outbox_exec(ob, prune_future, NULL), 0, "prune runs");
	is_int(pruned, 1, "it deletes the one delivered event, not the pending ones");
	is_int(im_outbox_count(ob, NULL, IM_OUTBOX_DELIVERED), 0, "no delivered event left");
	e = ev("source:webhook", "m1", "{}");
	is_int(im_outbox_put(ob, &e, 1, NULL), IM_OUTBOX_STORED, "a pruned event's id is free again");

	uint64_t seen = 0;
	is_int(im_outbox_wait(ob, &seen, 0), 1, "the first wait returns at once");
	is_int(im_outbox_wait(ob, &seen, 20), 0, "then waits for news");

	im_outbox_close(ob);
	ob = NULL;
	ok(im_outbox_open(path, NULL, &ob, err, sizeof err) == 0, "reopens");
	e = ev("source:webhook", "m2", "{}");
	is_int(im_outbox_put(ob, &e, 1, NULL), IM_OUTBOX_DUPLICATE, "dedupe survives a restart");
	im_outbox_close(ob);

	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
