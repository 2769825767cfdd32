/* Test helper for tests/plan/report.sh: fills a stage with a known migration
 * (counts, dead letters with hostile text, progress samples over two runs, a
 * stored verification) and writes its HTML report.
 *
 *   mkreport STAGE.db OUT.html     exit 0 on success */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "verify.h"

static struct im_stage *st;
static int64_t seq;

static void put(const char *kind, const char *conv, int status, const char *payload)
{
	char key[64], err[256];
	snprintf(key, sizeof key, "%s:%lld", kind, (long long)++seq);
	struct im_stage_record r = {kind, conv, seq, seq, payload, strlen(payload), NULL, key, 0};
	int64_t id;
	if (im_stage_put_record(st, &r, &id, err, sizeof err) != IM_STAGE_NEW) {
		fprintf(stderr, "mkreport: %s\n", err);
		exit(1);
	}
	if (status) {
		char sql[96];
		snprintf(sql, sizeof sql, "UPDATE records SET status = %d WHERE id = %lld", status, (long long)id);
		sqlite3_exec(im_stage_db(st), sql, NULL, NULL, NULL);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mkreport STAGE.db OUT.html\n");
		return 2;
	}
	char err[256], p[512], conv[64];
	if (im_stage_open(argv[1], &st, err, sizeof err) < 0) {
		fprintf(stderr, "mkreport: %s\n", err);
		return 1;
	}
	im_stage_begin(st, err, sizeof err);
	/* 125 accounts (120 landed, 5 dead), 2 groups, 1,010 messages (10 pending). */
	for (int i = 0; i < 125; i++) {
		snprintf(conv, sizeof conv, "u%03d", i);
		snprintf(p, sizeof p, "{\"UserID\":\"%s\"}", conv);
		put("account", conv, i < 120 ? IM_STAGE_LANDED : IM_STAGE_DEAD, p);
	}
	put("group", "g1", IM_STAGE_LANDED, "{\"GroupId\":\"g1\",\"Type\":\"Public\",\"Name\":\"a\",\"CreateTime\":1}");
	put("group", "g2", IM_STAGE_LANDED, "{\"GroupId\":\"g2\",\"Type\":\"Public\",\"Name\":\"b\",\"CreateTime\":1}");
	for (int i = 0; i < 1010; i++) {
		snprintf(conv, sizeof conv, "u%03d|u%03d", i % 7, 50 + i % 7);
		snprintf(p, sizeof p,
			 "{\"From_Account\":\"u%03d\",\"To_Account\":\"u%03d\",\"MsgTimeStamp\":%d,\"MsgBody\":[]}",
			 i % 7, 50 + i % 7, 1700000000 + i);
		put("c2c_msg", conv, i < 1000 ? IM_STAGE_LANDED : IM_STAGE_PENDING, p);
	}
	/* Dead letters: 5 refused accounts, and 2 script failures whose text tries
	 * to inject markup and carries invalid UTF-8. */
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof p, "{\"UserID\":\"u%03d\"}", 120 + i);
		struct im_stage_dead d = {0, 0, "api", "account", "multiaccount_import", NULL, p, 70398, "FailAccounts", 1, 0};
		im_stage_put_dead(st, &d, NULL, err, sizeof err);
	}
	for (int i = 0; i < 2; i++) {
		struct im_stage_dead d = {0, 0, "script", NULL, "map.lua:12", "{\"text\":\"<img src=x onerror=alert(1)>\xff\xfe\"}",
					  NULL, 0, "bad field <script>alert('x')</script> & more", 0, 0};
		/* The second keeps no copy: the report reads the stage's raw record. */
		if (i == 1) {
			static const char native[] = "{\"text\":\"<b>from the stage</b>\"}";
			d.raw = NULL;
			im_stage_put_raw(st, "records", NULL, "export.jsonl:7", native, sizeof native - 1, &d.raw_id, err,
					 sizeof err);
		}
		im_stage_put_dead(st, &d, NULL, err, sizeof err);
	}
	im_stage_commit(st, err, sizeof err);

	/* Two load runs: 10 s landing everything but the messages' tail, then 5 s. */
	int64_t landed[IM_KIND_COUNT] = {0};
	for (int t = 0; t <= 10; t++) {
		landed[IM_KIND_ACCOUNT] = t >= 1 ? 120 : 0;
		landed[IM_KIND_GROUP] = t >= 1 ? 2 : 0;
		landed[IM_KIND_C2C_MSG] = t >= 1 ? (t - 1) * 80 : 0;
		if (im_report_sample(st, 1, 1000 + t, landed, err, sizeof err) < 0) {
			fprintf(stderr, "mkreport: %s\n", err);
			return 1;
		}
	}
	for (int t = 0; t <= 5; t++) {
		landed[IM_KIND_C2C_MSG] = 720 + t * 56;
		im_report_sample(st, 2, 5000 + t, landed, err, sizeof err);
	}

	struct im_verify_result v = {0};
	v.kinds[IM_KIND_ACCOUNT] = (struct im_verify_kind){120, 120, 0, 0, 0, 0};
	v.kinds[IM_KIND_GROUP] = (struct im_verify_kind){2, 2, 0, 0, 0, 0};
	v.kinds[IM_KIND_C2C_MSG] = (struct im_verify_kind){1000, 998, 1, 1, 0, 10};
	struct im_verify_diff diffs[2] = {{IM_KIND_C2C_MSG, "u001|u051 / 3 / 4 / 1700000008", "missing"},
					  {IM_KIND_C2C_MSG, "u002|u052 / <b>", "MsgBody: staged \"<i>a</i>\", target \"b\""}};
	v.diffs = diffs;
	v.ndiffs = 2;
	v.seconds = 1.5;
	v.calls = 12;
	if (im_verify_save(st, &v, err, sizeof err) < 0) {
		fprintf(stderr, "mkreport: %s\n", err);
		return 1;
	}

	FILE *out = fopen(argv[2], "w");
	struct im_report_options opt = {"demo <job>", NULL};
	if (!out || im_report_write(st, &opt, out, err, sizeof err) < 0) {
		fprintf(stderr, "mkreport: %s\n", out ? err : "cannot write the report");
		return 1;
	}
	fclose(out);
	im_stage_close(st);
	return 0;
}
