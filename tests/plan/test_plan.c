/* Unit tests for src/plan.c: exact call counts from a stage, the schedule under
 * the dependency order, the critical path, limits from target, the ETA, and the
 * warnings for what the service will refuse. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"
#include "tap.h"

static struct im_stage *st;
static int64_t seq;

static void put(const char *kind, const char *conv, int64_t ord, const char *payload)
{
	char key[64];
	snprintf(key, sizeof key, "%s:%lld", kind, (long long)++seq);
	struct im_stage_record r = {kind, conv, ord, seq, payload, strlen(payload), NULL, key, 0};
	char err[256];
	if (im_stage_put_record(st, &r, NULL, err, sizeof err) != IM_STAGE_NEW)
		diag("put_record: %s", err);
}

static void putf(const char *kind, const char *conv, int64_t ord, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void putf(const char *kind, const char *conv, int64_t ord, const char *fmt, ...)
{
	char buf[16384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	put(kind, conv, ord, buf);
}

static int near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

static const struct im_plan_warning *find_warning(const struct im_plan_warnings *w, const char *kind,
						  const char *what_part)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->v[i].kind, kind) == 0 && strstr(w->v[i].what, what_part))
			return &w->v[i];
	return NULL;
}

/* The fixture: 250 accounts, friends batched per user, groups with members and
 * history, 1,000 one-to-one messages, and a few records the service refuses. */
static void fill(void)
{
	char id[64], conv[80];
	for (int i = 0; i < 250; i++) {
		snprintf(id, sizeof id, "u%03d", i);
		putf("account", id, i, "{\"UserID\":\"%s\"}", id);
	}
	put("profile", "u000", 1, "{\"From_Account\":\"u000\",\"ProfileItem\":[]}");
	put("profile", "u001", 2, "{\"From_Account\":\"u001\",\"ProfileItem\":[]}");
	/* u000: 1,500 friends (2 calls); u001: 10 (1 call), one of them unknown and
	 * one with a 33-byte id. */
	for (int i = 0; i < 1500; i++)
		putf("friend", "u000", i, "{\"From_Account\":\"u000\",\"To_Account\":\"u%03d\"}", i % 250);
	for (int i = 0; i < 8; i++)
		putf("friend", "u001", i, "{\"From_Account\":\"u001\",\"To_Account\":\"u%03d\"}", i + 2);
	put("friend", "u001", 8, "{\"From_Account\":\"u001\",\"To_Account\":\"ghost\"}");
	put("friend", "u001", 9, "{\"From_Account\":\"u001\",\"To_Account\":\"x23456789012345678901234567890123\"}");
	for (int i = 0; i < 5; i++)
		putf("blacklist", "u000", i, "{\"From_Account\":\"u000\",\"To_Account\":\"u%03d\"}", i + 10);
	/* g1 created at 1000, g2 without CreateTime, g3 created at 1000. */
	put("group", "g1", 1, "{\"GroupId\":\"g1\",\"Type\":\"Public\",\"Name\":\"a\",\"CreateTime\":1000}");
	put("group", "g2", 2, "{\"GroupId\":\"g2\",\"Type\":\"Public\",\"Name\":\"b\"}");
	put("group", "g3", 3, "{\"GroupId\":\"g3\",\"Type\":\"Public\",\"Name\":\"c\",\"CreateTime\":1000,"
			      "\"Owner_Account\":\"u000\"}");
	for (int i = 0; i < 301; i++)
		putf("group_member", "g1", i, "{\"GroupId\":\"g1\",\"Member_Account\":\"u%03d\",\"JoinTime\":%d}",
		     i % 250, i == 0 ? 1000 : 2000);
	for (int i = 0; i < 25; i++)
		putf("group_member", "g3", i, "{\"GroupId\":\"g3\",\"Member_Account\":\"u%03d\"}", i + 1);
	for (int i = 0; i < 15; i++)
		putf("group_msg", "g1", i == 3 ? 500 : 2000 + i,
		     "{\"GroupId\":\"g1\",\"From_Account\":\"u001\",\"SendTime\":%d,\"MsgBody\":[]}",
		     i == 3 ? 500 : 2000 + i);
	for (int i = 0; i < 7; i++)
		putf("group_msg", "g3", 2000 + i,
		     "{\"GroupId\":\"g3\",\"From_Account\":\"u001\",\"SendTime\":%d,\"MsgBody\":[]}", 2000 + i);
	put("group_msg", "g2", 3000, "{\"GroupId\":\"g2\",\"From_Account\":\"u001\",\"SendTime\":3000,\"MsgBody\":[]}");
	put("group_msg", "gX", 3000, "{\"GroupId\":\"gX\",\"From_Account\":\"u001\",\"SendTime\":3000,\"MsgBody\":[]}");
	for (int i = 0; i < 3; i++)
		putf("group_unread", "g1", i, "{\"GroupId\":\"g1\",\"Member_Account\":\"u%03d\",\"UnreadMsgNum\":1}", i);
	/* 1,000 one-to-one messages, two of them large. */
	static char big[13000];
	for (int i = 0; i < 998; i++) {
		snprintf(conv, sizeof conv, "u%03d|u%03d", i % 10, 100 + i % 10);
		putf("c2c_msg", conv, 5000 + i,
		     "{\"From_Account\":\"u%03d\",\"To_Account\":\"u%03d\",\"MsgTimeStamp\":%d,"
		     "\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]}",
		     i % 10, 100 + i % 10, 5000 + i);
	}
	memset(big, 'x', 12500);
	big[12500] = '\0';
	putf("c2c_msg", "u000|u100", 7000,
	     "{\"From_Account\":\"u000\",\"To_Account\":\"u100\",\"MsgTimeStamp\":7000,"
	     "\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"%s\"}}]}", big);
	big[9000] = '\0';
	putf("c2c_msg", "u000|u100", 7001,
	     "{\"From_Account\":\"u000\",\"To_Account\":\"u100\",\"MsgTimeStamp\":7001,"
	     "\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"%s\"}}]}", big);
	for (int i = 0; i < 10; i++)
		putf("c2c_read", "u000|u100", i,
		     "{\"Report_Account\":\"u%03d\",\"Peer_Account\":\"u100\",\"MsgReadTime\":7000}", i);
	struct im_stage_dead d = {0, 0, "validate", "c2c_msg", "export.jsonl:7", NULL, NULL, 90010, "MsgBody[0]: no Text", 0, 0};
	char err[256];
	im_stage_put_dead(st, &d, NULL, err, sizeof err);
	d.origin = "export.jsonl:9";
	im_stage_put_dead(st, &d, NULL, err, sizeof err);
}

static void test_counts_and_schedule(void)
{
	struct im_plan_config c;
	im_plan_config_defaults(&c);
	is_int(c.limit[IM_KIND_ACCOUNT], 100, "multiaccount_import defaults to 100/s");
	is_int(c.limit[IM_KIND_C2C_MSG], 200, "importmsg defaults to 200/s");
	is_int(c.batch[IM_KIND_GROUP_MSG], 7, "import_group_msg batch defaults to 7");

	struct im_plan_work w[IM_KIND_COUNT];
	char err[256] = "";
	ok(im_plan_count(st, &c, IM_PLAN_ALL, w, err, sizeof err) == 0, "count the stage (%s)", err);
	is_int(w[IM_KIND_ACCOUNT].records, 250, "250 accounts");
	is_int(w[IM_KIND_ACCOUNT].calls, 3, "250 accounts take 3 calls of 100");
	is_int(w[IM_KIND_PROFILE].calls, 2, "portrait_set: one call per user");
	is_int(w[IM_KIND_FRIEND].records, 1510, "1,510 friend records");
	is_int(w[IM_KIND_FRIEND].calls, 3, "friend_import: ceil(1500/1000) + ceil(10/1000) = 3");
	is_int(w[IM_KIND_FRIEND].convs, 2, "friends of 2 users");
	is_int(w[IM_KIND_BLACKLIST].calls, 1, "black_list_add: 1 call");
	is_int(w[IM_KIND_GROUP].calls, 3, "import_group: 1 per group");
	is_int(w[IM_KIND_GROUP_MEMBER].calls, 3, "import_group_member: ceil(301/300) + ceil(25/300) = 3");
	is_int(w[IM_KIND_GROUP_MSG].calls, 3 + 1 + 1 + 1, "import_group_msg: ceil(15/7) + 1 + 1 + 1");
	is_int(w[IM_KIND_GROUP_MSG].max_conv_calls, 3, "busiest group takes 3 serialised calls");
	is_int(w[IM_KIND_GROUP_UNREAD].calls, 3, "set_unread_msg_num: 1 per record");
	is_int(w[IM_KIND_C2C_MSG].calls, 1000, "importmsg: 1 per message");
	is_int(w[IM_KIND_C2C_READ].calls, 10, "admin_set_msg_read: 1 per record");

	struct im_plan p;
	im_plan_schedule(&p, &c, w);
	ok(near(p.slot[IM_KIND_ACCOUNT].floor, 0.03), "accounts: 3 calls at 100/s = 0.03 s");
	ok(near(p.slot[IM_KIND_C2C_MSG].start, 0.03), "c2c history starts after the accounts");
	ok(near(p.slot[IM_KIND_C2C_MSG].end, 5.03), "c2c history: 1,000 calls at 200/s");
	ok(near(p.slot[IM_KIND_PROFILE].start, 0.03) && near(p.slot[IM_KIND_GROUP].start, 0.03),
	   "profiles and groups run beside c2c history");
	ok(near(p.slot[IM_KIND_GROUP_MEMBER].start, p.slot[IM_KIND_GROUP].end), "members start after groups");
	ok(near(p.slot[IM_KIND_GROUP_MSG].start, p.slot[IM_KIND_GROUP_MEMBER].end),
	   "group history starts after members");
	ok(near(p.slot[IM_KIND_GROUP_UNREAD].start, p.slot[IM_KIND_GROUP_MSG].end), "unread counts go last");
	ok(near(p.slot[IM_KIND_C2C_READ].start, 0.03) && near(p.slot[IM_KIND_C2C_READ].end, 5.035),
	   "read marks run beside c2c history (per conversation), the last one after its last message");
	ok(near(p.total, 5.035), "floor 0.03 + 5 + one read mark 0.005 = 5.035 s (got %.6f)", p.total);
	is_int(p.critical_last, IM_KIND_C2C_READ, "c2c read marks end last");
	ok(p.slot[IM_KIND_ACCOUNT].critical && p.slot[IM_KIND_C2C_MSG].critical &&
		   p.slot[IM_KIND_C2C_READ].critical && !p.slot[IM_KIND_GROUP_MSG].critical &&
		   !p.slot[IM_KIND_FRIEND].critical,
	   "critical path: account -> c2c_msg -> c2c_read");

	/* Slow group history moves the critical path to the group chain. */
	json_error_t je;
	json_t *target = json_loads("{\"limits\":{\"import_group_msg\":0.5,\"sendmsg\":10}}", 0, &je);
	ok(im_plan_config_from_target(&c, target, err, sizeof err) == 0, "limits from target (%s)", err);
	json_decref(target);
	im_plan_schedule(&p, &c, w);
	ok(near(p.slot[IM_KIND_GROUP_MSG].floor, 12.0), "6 calls at 0.5/s = 12 s");
	ok(near(p.total, 0.03 + 0.015 + 0.015 + 12.0 + 0.015), "total follows the group chain (%.6f)", p.total);
	ok(p.slot[IM_KIND_ACCOUNT].critical && p.slot[IM_KIND_GROUP].critical &&
		   p.slot[IM_KIND_GROUP_MEMBER].critical && p.slot[IM_KIND_GROUP_MSG].critical &&
		   p.slot[IM_KIND_GROUP_UNREAD].critical && !p.slot[IM_KIND_C2C_MSG].critical,
	   "critical path: account -> group -> group_member -> group_msg -> group_unread");

	json_t *j = im_plan_to_json(&p, NULL);
	char *text = json_dumps(json_object_get(j, "critical_path"), JSON_COMPACT);
	is_str(text, "[\"account\",\"group\",\"group_member\",\"group_msg\",\"group_unread\"]",
	       "JSON critical path in run order");
	free(text);
	json_decref(j);

	/* A bigger import_group_msg batch (spec conflict 7 vs 20). */
	target = json_loads("{\"limits\":{\"group_msg_batch\":20}}", 0, &je);
	im_plan_config_defaults(&c);
	ok(im_plan_config_from_target(&c, target, err, sizeof err) == 0, "group_msg_batch = 20");
	json_decref(target);
	im_plan_count(st, &c, IM_PLAN_ALL, w, err, sizeof err);
	is_int(w[IM_KIND_GROUP_MSG].calls, 4, "20 per call: one call per group");

	/* A job loading only some kinds plans only those. */
	im_plan_config_defaults(&c);
	c.kinds = 1u << IM_KIND_ACCOUNT | 1u << IM_KIND_C2C_MSG;
	im_plan_count(st, &c, IM_PLAN_ALL, w, err, sizeof err);
	im_plan_schedule(&p, &c, w);
	ok(w[IM_KIND_FRIEND].calls == 0 && w[IM_KIND_C2C_READ].records == 0, "kinds not loaded count as no work");
	ok(near(p.total, 5.03), "floor of accounts and c2c history only: 5.03 s (%.6f)", p.total);

	/* A round trip bounds serialised conversations. */
	im_plan_config_defaults(&c);
	c.rtt = 0.1;
	im_plan_count(st, &c, IM_PLAN_ALL, w, err, sizeof err);
	im_plan_schedule(&p, &c, w);
	ok(near(p.slot[IM_KIND_GROUP_MSG].floor, 0.3), "3 serialised calls at 100 ms = 0.3 s");
	is_int(w[IM_KIND_C2C_MSG].max_conv_calls, 102, "busiest c2c conversation: 102 messages");
	ok(near(p.slot[IM_KIND_C2C_MSG].floor, 10.2), "102 serialised importmsg at 100 ms beat the rate");
}

static void test_target_errors(void)
{
	struct im_plan_config c;
	im_plan_config_defaults(&c);
	char err[256] = "";
	json_t *t = json_loads("{\"limits\":{\"importmsg\":\"fast\"}}", 0, NULL);
	ok(im_plan_config_from_target(&c, t, err, sizeof err) < 0 && strstr(err, "target.limits.importmsg"),
	   "a non-number limit names its key (%s)", err);
	json_decref(t);
	t = json_loads("{\"limits\":{\"importmsg\":0}}", 0, NULL);
	ok(im_plan_config_from_target(&c, t, err, sizeof err) < 0, "a zero limit is refused");
	json_decref(t);
	t = json_loads("{\"plan\":\"gold\"}", 0, NULL);
	ok(im_plan_config_from_target(&c, t, err, sizeof err) < 0 && strstr(err, "target.plan"),
	   "an unknown edition is refused (%s)", err);
	json_decref(t);
	t = json_loads("{\"limits\":{\"group_msg_batch\":21}}", 0, NULL);
	ok(im_plan_config_from_target(&c, t, err, sizeof err) < 0, "group_msg_batch over 20 is refused");
	json_decref(t);
	t = json_loads("{\"plan\":\"free\",\"limits\":{\"importmsg\":400}}", 0, NULL);
	ok(im_plan_config_from_target(&c, t, err, sizeof err) == 0 && strcmp(c.edition, "free") == 0 &&
		   c.limit[IM_KIND_C2C_MSG] == 400,
	   "edition and a raised quota");
	json_decref(t);
}

static void test_eta(void)
{
	struct im_plan_config c;
	im_plan_config_defaults(&c);
	int64_t rem[IM_KIND_COUNT] = {0};
	ok(im_plan_eta(&c, rem) == 0, "nothing left: ETA 0");
	rem[IM_KIND_C2C_MSG] = 200;
	ok(near(im_plan_eta(&c, rem), 1.0), "200 importmsg left: 1 s");
	rem[IM_KIND_C2C_READ] = 20;
	ok(near(im_plan_eta(&c, rem), 1.005), "read marks go beside the messages; the last one after them: 1.005 s");
	rem[IM_KIND_ACCOUNT] = 100;
	ok(near(im_plan_eta(&c, rem), 2.005), "and everything waits for the accounts: 2.005 s");
	int64_t recs[IM_KIND_COUNT] = {0};
	recs[IM_KIND_ACCOUNT] = 150;
	recs[IM_KIND_GROUP_MSG] = 70;
	ok(near(im_plan_eta_records(&c, recs), 0.02 + 0.05), "ETA from records: 2 account calls, then 10 group_msg calls");
	json_t *lim = json_loads("{\"multiaccount_import\":50,\"concurrency\":8}", 0, NULL);
	char lerr[128] = "";
	ok(im_plan_config_from_limits(&c, lim, lerr, sizeof lerr) == 0 && c.limit[IM_KIND_ACCOUNT] == 50,
	   "limits alone (the loader's view), concurrency ignored");
	json_decref(lim);
	ok(near(im_plan_eta_records(&c, recs), 0.04 + 0.05), "at 50/s the accounts take 0.04 s");
	im_plan_config_defaults(&c);
	is_int(im_plan_calls_for(&c, IM_KIND_FRIEND, 1500, 2), 2, "calls_for: lower bound when convs are few");
	is_int(im_plan_calls_for(&c, IM_KIND_FRIEND, 10, 5), 5, "calls_for: one call per conversation at least");
	is_int(im_plan_calls_for(&c, IM_KIND_ACCOUNT, 101, 0), 2, "calls_for: 101 accounts = 2 calls");

	/* Remaining work after some records landed. */
	char err[256] = "";
	sqlite3_exec(im_stage_db(st), "UPDATE records SET status = 2 WHERE kind = 'c2c_msg' AND id % 2 = 0", NULL,
		     NULL, NULL);
	struct im_plan_work w[IM_KIND_COUNT];
	ok(im_plan_count(st, &c, IM_PLAN_REMAINING, w, err, sizeof err) == 0, "count remaining");
	is_int(w[IM_KIND_C2C_MSG].calls, 500, "500 importmsg left");
	is_int(w[IM_KIND_ACCOUNT].calls, 3, "accounts still pending");
	sqlite3_exec(im_stage_db(st), "UPDATE records SET status = 0", NULL, NULL, NULL);

	struct im_plan_work s[IM_KIND_COUNT] = {0};
	s[IM_KIND_C2C_MSG] = (struct im_plan_work){10, 10, 2, 5};
	im_plan_scale(s, 2.5);
	is_int(s[IM_KIND_C2C_MSG].calls, 25, "scaled by 2.5");
	char buf[32];
	is_str(im_plan_format_duration(90061, buf, sizeof buf), "1d 01:01:01", "duration with days");
	is_str(im_plan_format_duration(5.08, buf, sizeof buf), "5.1s", "short duration");
}

static void test_warnings(void)
{
	struct im_plan_config c;
	im_plan_config_defaults(&c);
	snprintf(c.edition, sizeof c.edition, "free");
	/* A 33-byte recipient (checked once per conversation) and a 48-byte GroupId. */
	put("c2c_msg", "u000|y23456789012345678901234567890123", 7100,
	    "{\"From_Account\":\"u000\",\"To_Account\":\"y23456789012345678901234567890123\",\"MsgTimeStamp\":7100,"
	    "\"MsgBody\":[]}");
	put("group_member", "G23456789012345678901234567890123456789012345678", 1,
	    "{\"GroupId\":\"G23456789012345678901234567890123456789012345678\",\"Member_Account\":\"u001\"}");
	struct im_plan_warnings w = {0};
	char err[256] = "";
	ok(im_plan_check(st, &c, &w, err, sizeof err) == 0, "checks run (%s)", err);
	for (size_t i = 0; i < w.n; i++)
		diag("%s %s %lld %s [%s]", im_plan_severity_name(w.v[i].severity), w.v[i].kind,
		     (long long)w.v[i].count, w.v[i].what, w.v[i].example);
	const struct im_plan_warning *x;
	x = find_warning(&w, "friend", "To_Account over 32 bytes");
	ok(x && x->count == 1 && x->severity == IM_PLAN_REFUSE, "a 33-byte To_Account is refused");
	x = find_warning(&w, "c2c_msg", "over 12,000");
	ok(x && x->count == 1 && x->severity == IM_PLAN_REFUSE, "one message over 12,000 bytes");
	x = find_warning(&w, "c2c_msg", "over 8,000");
	ok(x && x->count == 1 && x->severity == IM_PLAN_WARN, "one message over 8,000 bytes warned");
	x = find_warning(&w, "group_msg", "SendTime before the group's CreateTime");
	ok(x && x->count == 1 && strcmp(x->example, "g1") == 0, "group history older than its group");
	x = find_warning(&w, "group_msg", "without CreateTime");
	ok(x && x->count == 1 && strcmp(x->example, "g2") == 0, "history of a group without CreateTime");
	x = find_warning(&w, "group_member", "JoinTime equal");
	ok(x && x->count == 1, "a member joining at CreateTime is warned");
	x = find_warning(&w, "group_member", "joining after their group's first message");
	ok(x && x->count == 301 && x->severity == IM_PLAN_INFO, "all 301 members of g1 joined after its first message (500)");
	x = find_warning(&w, "group_msg", "not staged");
	ok(x && x->count == 1 && strcmp(x->example, "gX") == 0, "history of a group not staged");
	x = find_warning(&w, "", "not staged as accounts");
	ok(x && x->count == 3, "three users named but not staged (got %lld)", x ? (long long)x->count : -1LL);
	x = find_warning(&w, "c2c_msg", "To_Account over 32 bytes");
	ok(x && x->count == 1 && x->example[0] == 'y', "a 33-byte c2c recipient is refused");
	x = find_warning(&w, "group_member", "GroupId over 47 bytes");
	ok(x && x->count == 1, "a 48-byte GroupId is refused");
	x = find_warning(&w, "account", "free app");
	ok(x && x->count == 150 && x->severity == IM_PLAN_REFUSE, "250 accounts on a free app: 150 refused");
	x = find_warning(&w, "group_member", "more than 20 members");
	ok(x && x->count == 2, "both staged groups with members exceed 20 on a free app");
	x = find_warning(&w, "c2c_msg", "dead letter (validate): MsgBody[0]: no Text");
	ok(x && x->count == 2 && strcmp(x->example, "export.jsonl:7") == 0, "dead letters grouped by reason");
	ok(!find_warning(&w, "account", "UserID over"), "no false id warning on accounts");

	json_t *pj;
	struct im_plan p;
	struct im_plan_work work[IM_KIND_COUNT];
	im_plan_count(st, &c, IM_PLAN_ALL, work, err, sizeof err);
	im_plan_schedule(&p, &c, work);
	pj = im_plan_to_json(&p, &w);
	is_int(json_array_size(json_object_get(pj, "warnings")), w.n, "warnings in the JSON");
	is_int(json_integer_value(json_object_get(json_array_get(json_object_get(pj, "kinds"), IM_KIND_C2C_MSG),
						  "calls")),
	       1001, "JSON calls of c2c_msg");
	json_decref(pj);
	im_plan_warnings_free(&w);
}

int main(void)
{
	char path[] = "/tmp/immigrate-plan-test.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		skip_all("mkstemp failed");
	close(fd);
	unlink(path);
	char err[256];
	if (im_stage_open(path, &st, err, sizeof err) < 0) {
		printf("1..0 # SKIP cannot open a stage: %s\n", err);
		return 1;
	}
	im_stage_begin(st, err, sizeof err);
	fill();
	im_stage_commit(st, err, sizeof err);
	test_counts_and_schedule();
	test_target_errors();
	test_eta();
	test_warnings();
	im_stage_close(st);
	char side[sizeof path + 8];
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	return done_testing();
}
