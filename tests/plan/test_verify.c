/* End-to-end test of src/verify.c against immigrate-imsim: a stage whose records
 * are marked landed, the emulator seeded with the request bodies the sink builds
 * (batch.h) for most of them, then verification must find exactly the ones that
 * landed, name the missing and the differing ones, and count duplicates. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "tap.h"
#include "verify.h"

extern char **environ;

static const char KEY[] = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
static struct im_stage *st;
static struct im_tim *tim;
static int64_t seq;
static char dir[] = "/tmp/immigrate-verify-test.XXXXXX";
static pid_t sim_pid;

/* Stages a landed record (payload without kind) and returns its JSON (with kind)
 * for sending. */
static json_t *stage(const char *kind, const char *conv, int64_t ord, const char *payload)
{
	char key[64];
	snprintf(key, sizeof key, "%s:%lld", kind, (long long)++seq);
	struct im_stage_record r = {kind, conv, ord, seq, payload, strlen(payload), NULL, key, 0};
	char err[256];
	int64_t id;
	if (im_stage_put_record(st, &r, &id, err, sizeof err) != IM_STAGE_NEW)
		diag("put_record: %s", err);
	char sql[96];
	snprintf(sql, sizeof sql, "UPDATE records SET status = 2 WHERE id = %lld", (long long)id);
	sqlite3_exec(im_stage_db(st), sql, NULL, NULL, NULL);
	json_t *rec = json_loads(payload, 0, NULL);
	json_object_set_new(rec, "kind", json_string(kind));
	return rec;
}

struct box {
	int done;
	char *body;
};

static void on_reply(void *arg, const struct im_tim_reply *r)
{
	struct box *b = arg;
	b->done = 1;
	b->body = r->body ? strndup(r->body, r->body_len) : NULL;
}

/* Sends records of one kind as the sink would; returns the ErrorCode. */
static long send_records(enum im_kind kind, json_t **recs, size_t n)
{
	char err[256];
	json_t *body = im_batch_body(kind, recs, n, err, sizeof err);
	if (!body) {
		diag("batch body: %s", err);
		return -1;
	}
	const struct im_kind_info *ki = im_kind_info(kind);
	if (kind == IM_KIND_C2C_MSG)
		json_object_set_new(body, "SyncFromOldSystem", json_integer(2));
	char *text = json_dumps(body, JSON_COMPACT);
	struct box b = {0};
	im_tim_submit(tim, ki->service, ki->command, text, strlen(text), on_reply, &b);
	while (!b.done)
		im_tim_run(tim, 1000);
	json_t *resp = b.body ? json_loads(b.body, 0, NULL) : NULL;
	long code = resp ? (long)json_integer_value(json_object_get(resp, "ErrorCode")) : -1;
	if (code)
		diag("%s: %s", ki->command, b.body ? b.body : "(no answer)");
	json_decref(resp);
	free(b.body);
	free(text);
	json_decref(body);
	return code;
}

static void send1(enum im_kind kind, json_t *rec)
{
	send_records(kind, &rec, 1);
	json_decref(rec);
}

static int start_sim(void)
{
	const char *top = getenv("top_builddir");
	char sim[1024], keyf[600], portf[600], logf[600];
	snprintf(sim, sizeof sim, "%s/immigrate-imsim", top ? top : ".");
	if (access(sim, X_OK) != 0)
		return -1;
	snprintf(keyf, sizeof keyf, "%s/key", dir);
	snprintf(portf, sizeof portf, "%s/port", dir);
	snprintf(logf, sizeof logf, "%s/imsim.log", dir);
	FILE *f = fopen(keyf, "w");
	fputs(KEY, f);
	fclose(f);
	chmod(keyf, 0600);
	char *argv[] = {sim, "--listen", "127.0.0.1:0", "--sdkappid", "1400000000", "--admin", "admin",
			"--key-file", keyf, "--port-file", portf, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = posix_spawn(&sim_pid, sim, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	for (int i = 0; i < 400; i++) {
		f = fopen(portf, "r");
		int port = 0;
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port > 0)
			return port;
		struct timespec ts = {0, 25 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void stop_sim(void)
{
	if (sim_pid > 0) {
		kill(sim_pid, SIGTERM);
		waitpid(sim_pid, NULL, 0);
		sim_pid = 0;
	}
}

static const struct im_verify_diff *find_diff(const struct im_verify_result *r, int kind, const char *part)
{
	for (size_t i = 0; i < r->ndiffs; i++)
		if (r->diffs[i].kind == kind && (strstr(r->diffs[i].key, part) || strstr(r->diffs[i].problem, part)))
			return &r->diffs[i];
	return NULL;
}

#define TEXT(s) "[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"" s "\"}}]"

static void seed(void)
{
	/* Accounts a..e staged and imported; "ghost" staged as landed, never sent. */
	json_t *accts[5];
	const char *names[] = {"alice", "bob", "carol", "dave", "erin"};
	char p[512];
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof p, "{\"UserID\":\"%s\"}", names[i]);
		accts[i] = stage("account", names[i], i, p);
	}
	send_records(IM_KIND_ACCOUNT, accts, 5);
	for (int i = 0; i < 5; i++)
		json_decref(accts[i]);
	json_decref(stage("account", "ghost", 9, "{\"UserID\":\"ghost\"}"));

	/* Profiles: alice as staged; bob's nick differs in the target. */
	send1(IM_KIND_PROFILE, stage("profile", "alice", 1,
				     "{\"From_Account\":\"alice\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\","
				     "\"Value\":\"Alice\"}]}"));
	json_decref(stage("profile", "bob", 2,
			  "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"Bob\"}]}"));
	json_t *other = json_loads("{\"kind\":\"profile\",\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":"
				   "\"Tag_Profile_IM_Nick\",\"Value\":\"Robert\"}]}",
				   0, NULL);
	send1(IM_KIND_PROFILE, other);

	/* Friends of alice: bob and carol land, dave never does. */
	json_t *fr[2];
	fr[0] = stage("friend", "alice", 1,
		      "{\"From_Account\":\"alice\",\"To_Account\":\"bob\",\"AddSource\":\"AddSource_Type_Web\"}");
	fr[1] = stage("friend", "alice", 2,
		      "{\"From_Account\":\"alice\",\"To_Account\":\"carol\",\"AddSource\":\"AddSource_Type_Web\","
		      "\"Remark\":\"C\"}");
	send_records(IM_KIND_FRIEND, fr, 2);
	json_decref(fr[0]);
	json_decref(fr[1]);
	json_decref(stage("friend", "alice", 3,
			  "{\"From_Account\":\"alice\",\"To_Account\":\"dave\",\"AddSource\":\"AddSource_Type_Web\"}"));
	json_decref(stage("blacklist", "erin", 1, "{\"From_Account\":\"erin\",\"To_Account\":\"dave\"}"));

	/* Groups: g1 as staged, g2 renamed in the target, g3 never imported. */
	send1(IM_KIND_GROUP, stage("group", "g1", 1,
				   "{\"GroupId\":\"g1\",\"Type\":\"Public\",\"Name\":\"One\",\"Owner_Account\":\"alice\","
				   "\"CreateTime\":1600000000}"));
	json_decref(stage("group", "g2", 2, "{\"GroupId\":\"g2\",\"Type\":\"Private\",\"Name\":\"Two\",\"CreateTime\":1600000000}"));
	send1(IM_KIND_GROUP, json_loads("{\"kind\":\"group\",\"GroupId\":\"g2\",\"Type\":\"Private\",\"Name\":\"Deux\","
					"\"CreateTime\":1600000000}",
					0, NULL));
	json_decref(stage("group", "g3", 3, "{\"GroupId\":\"g3\",\"Type\":\"Public\",\"Name\":\"Three\"}"));
	/* A group without GroupId: the service picks the id, the stage never learns it. */
	json_decref(stage("group", "", 4, "{\"Type\":\"Public\",\"Name\":\"Auto\"}"));

	json_t *mem[2];
	mem[0] = stage("group_member", "g1", 1,
		       "{\"GroupId\":\"g1\",\"Member_Account\":\"bob\",\"Role\":\"Admin\",\"JoinTime\":1600000100}");
	/* carol's UnreadMsgNum is set again by a group_unread record below: that one counts. */
	mem[1] = stage("group_member", "g1", 2,
		       "{\"GroupId\":\"g1\",\"Member_Account\":\"carol\",\"JoinTime\":1600000100,\"UnreadMsgNum\":5}");
	send_records(IM_KIND_GROUP_MEMBER, mem, 2);
	json_decref(mem[0]);
	json_decref(mem[1]);
	json_decref(stage("group_member", "g1", 3, "{\"GroupId\":\"g1\",\"Member_Account\":\"erin\"}"));

	/* Group history: three landed in g1, one staged only. */
	json_t *gm[3];
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p,
			 "{\"GroupId\":\"g1\",\"From_Account\":\"bob\",\"SendTime\":%d,\"Random\":%d,\"MsgBody\":" TEXT("hi %d") "}",
			 1600000200 + i, 500 + i, i);
		gm[i] = stage("group_msg", "g1", 1600000200 + i, p);
	}
	send_records(IM_KIND_GROUP_MSG, gm, 3);
	for (int i = 0; i < 3; i++)
		json_decref(gm[i]);
	json_decref(stage("group_msg", "g1", 1600000300,
			  "{\"GroupId\":\"g1\",\"From_Account\":\"bob\",\"SendTime\":1600000300,\"Random\":999,\"MsgBody\":" TEXT("lost") "}"));
	send1(IM_KIND_GROUP_UNREAD, stage("group_unread", "g1", 1, "{\"GroupId\":\"g1\",\"Member_Account\":\"carol\",\"UnreadMsgNum\":2}"));

	/* One-to-one: 150 messages alice|bob (two pages), one lost, one altered. */
	for (int i = 0; i < 150; i++) {
		snprintf(p, sizeof p,
			 "{\"From_Account\":\"%s\",\"To_Account\":\"%s\",\"MsgTimeStamp\":%d,\"MsgSeq\":%d,\"MsgRandom\":%d,"
			 "\"MsgBody\":" TEXT("m%d") "}",
			 i % 2 ? "bob" : "alice", i % 2 ? "alice" : "bob", 1600001000 + i / 3, i, 7000 + i, i);
		json_t *rec = stage("c2c_msg", "alice|bob", 1600001000 + i / 3, p);
		if (i == 10) {
			json_decref(rec);
			continue;
		}
		if (i == 20)
			json_object_set_new(rec, "MsgBody", json_loads(TEXT("changed"), 0, NULL));
		send1(IM_KIND_C2C_MSG, rec);
	}
	json_decref(stage("c2c_read", "alice|bob", 1, "{\"Report_Account\":\"alice\",\"Peer_Account\":\"bob\",\"MsgReadTime\":1600002000}"));
	/* A staged record not landed yet. */
	const char *pend = "{\"UserID\":\"frank\"}";
	struct im_stage_record r = {"account", "frank", 99, ++seq, pend, strlen(pend), NULL, "account:pending", 0};
	char err[256];
	im_stage_put_record(st, &r, NULL, err, sizeof err);
}

int main(void)
{
	if (!mkdtemp(dir))
		skip_all("mkdtemp failed");
	atexit(stop_sim); /* a failing assertion path never leaves the emulator behind */
	int port = start_sim();
	if (port < 0) {
		stop_sim();
		skip_all("immigrate-imsim is not built or did not start");
	}
	char url[64], path[600], err[256] = "";
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	snprintf(path, sizeof path, "%s/stage.db", dir);
	struct im_tim_config cfg = {.endpoint = url, .sdkappid = 1400000000, .admin = "admin", .key = KEY,
				    .key_len = strlen(KEY)};
	tim = im_tim_new(&cfg, err, sizeof err);
	if (!tim || im_stage_open(path, &st, err, sizeof err) < 0) {
		stop_sim();
		printf("Bail out! setup: %s\n", err);
		return 1;
	}
	seed();

	struct im_verify_result res;
	struct im_verify_options opt = {0};
	ok(im_verify_run(st, tim, &opt, &res, err, sizeof err) == 0, "verification runs (%s)", err);
	for (size_t i = 0; i < res.ndiffs; i++)
		diag("%s %s: %s", im_kind_info(res.diffs[i].kind)->name, res.diffs[i].key, res.diffs[i].problem);
	const struct im_verify_kind *k = res.kinds;
	is_int(k[IM_KIND_ACCOUNT].expected, 6, "6 landed accounts expected");
	is_int(k[IM_KIND_ACCOUNT].found, 5, "5 found");
	is_int(k[IM_KIND_ACCOUNT].missing, 1, "ghost is missing");
	ok(find_diff(&res, IM_KIND_ACCOUNT, "ghost") != NULL, "the missing account is named");
	is_int(k[IM_KIND_ACCOUNT].not_landed, 1, "one account not landed yet");
	is_int(k[IM_KIND_PROFILE].found, 1, "alice's profile found");
	is_int(k[IM_KIND_PROFILE].differing, 1, "bob's profile differs");
	const struct im_verify_diff *d = find_diff(&res, IM_KIND_PROFILE, "bob");
	ok(d && strstr(d->problem, "\"Bob\"") && strstr(d->problem, "\"Robert\""), "the difference shows both values");
	is_int(k[IM_KIND_FRIEND].found, 2, "two friendships found with their fields");
	is_int(k[IM_KIND_FRIEND].missing, 1, "alice -> dave missing");
	ok(find_diff(&res, IM_KIND_FRIEND, "alice / dave") != NULL, "named as alice / dave");
	is_int(k[IM_KIND_BLACKLIST].unchecked, 1, "blocklists are unchecked, not found");
	is_int(k[IM_KIND_BLACKLIST].found, 0, "no blocklist counted as found");
	is_int(k[IM_KIND_GROUP].found, 1, "g1 found");
	is_int(k[IM_KIND_GROUP].differing, 1, "g2 differs");
	d = find_diff(&res, IM_KIND_GROUP, "g2");
	ok(d && strstr(d->problem, "Name"), "g2's Name is the difference");
	is_int(k[IM_KIND_GROUP].missing, 1, "g3 missing");
	is_int(k[IM_KIND_GROUP].unchecked, 1, "a group without GroupId is unchecked, not missing");
	is_int(k[IM_KIND_GROUP_MEMBER].found, 2, "two members found (role and join time; the unread count a later group_unread sets is not the member's)");
	is_int(k[IM_KIND_GROUP_MEMBER].missing, 1, "erin never joined");
	is_int(k[IM_KIND_GROUP_MSG].found, 3, "three group messages found");
	is_int(k[IM_KIND_GROUP_MSG].missing, 1, "one group message missing");
	is_int(k[IM_KIND_GROUP_UNREAD].found, 1, "unread count as staged");
	is_int(k[IM_KIND_C2C_MSG].expected, 150, "150 one-to-one messages expected");
	is_int(k[IM_KIND_C2C_MSG].found, 148, "148 found over two pages");
	is_int(k[IM_KIND_C2C_MSG].missing, 1, "one missing");
	is_int(k[IM_KIND_C2C_MSG].differing, 1, "one with another body");
	is_int(k[IM_KIND_C2C_READ].unchecked, 1, "read marks unchecked");
	is_int(im_verify_missing(&res), 6, "6 missing in all");
	ok(res.calls > 0 && res.calls < 40, "a handful of calls (%llu)", (unsigned long long)res.calls);

	ok(im_verify_save(st, &res, err, sizeof err) == 0, "saved (%s)", err);
	json_t *latest = NULL;
	ok(im_verify_load_latest(st, &latest, err, sizeof err) == 0, "loaded back");
	is_int(json_integer_value(json_object_get(latest, "missing")), 6, "stored missing count");
	json_decref(latest);
	im_verify_result_free(&res);

	/* A sample of 3 per kind checks at most 3 per kind. */
	opt.sample = 3;
	ok(im_verify_run(st, tim, &opt, &res, err, sizeof err) == 0, "sampled verification runs");
	is_int(res.kinds[IM_KIND_C2C_MSG].expected, 3, "3 sampled messages");
	is_int(res.kinds[IM_KIND_C2C_MSG].found + res.kinds[IM_KIND_C2C_MSG].missing +
		       res.kinds[IM_KIND_C2C_MSG].differing,
	       3, "each sampled message accounted for");
	im_verify_result_free(&res);

	/* Only the kinds asked for. */
	opt.sample = 0;
	opt.kinds = 1u << IM_KIND_GROUP_MSG;
	ok(im_verify_run(st, tim, &opt, &res, err, sizeof err) == 0, "verification of group history only");
	is_int(res.kinds[IM_KIND_GROUP_MSG].found, 3, "group history found again");
	is_int(res.kinds[IM_KIND_ACCOUNT].expected, 0, "kinds not asked for are skipped");
	im_verify_result_free(&res);

	/* Stopped target: a clear error, not a hang. */
	stop_sim();
	opt.kinds = 1u << IM_KIND_ACCOUNT;
	opt.max_attempts = 2;
	ok(im_verify_run(st, tim, &opt, &res, err, sizeof err) < 0 && strstr(err, "account_check"),
	   "an unreachable target fails naming the API (%s)", err);
	im_verify_result_free(&res);

	im_tim_free(tim);
	im_stage_close(st);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
