/* Unit tests of the Easemob plugin's pieces: the message-id set, the callback
 * signature, JID parsing, record classification and the bounded line reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "em_lines.h"
#include "em_record.h"
#include "em_security.h"
#include "em_seen.h"
#include "tap.h"

static void test_seen(void)
{
	struct em_seen *s = em_seen_new();
	char id[32];
	int all_added = 1, all_found = 1, dup_refused = 1;
	/* Enough ids to make the table grow several times. */
	for (int i = 0; i < 50000; i++) {
		snprintf(id, sizeof(id), "9664752209006%05d", i);
		all_added &= em_seen_add(s, em_seen_hash(id, strlen(id)), (uint32_t)i) == 1;
	}
	for (int i = 0; i < 50000; i++) {
		uint32_t secs = 0;
		snprintf(id, sizeof(id), "9664752209006%05d", i);
		all_found &= em_seen_find(s, em_seen_hash(id, strlen(id)), &secs) == 1 && secs == (uint32_t)i;
		dup_refused &= em_seen_add(s, em_seen_hash(id, strlen(id)), 7) == 0;
	}
	ok(all_added, "50000 distinct ids are added");
	ok(all_found, "each is found with its time after growth");
	ok(dup_refused, "adding an id again reports a duplicate");
	is_int((int)em_seen_count(s), 50000, "count");
	ok(!em_seen_find(s, em_seen_hash("nope", 4), NULL), "an absent id is absent");
	ok(em_seen_hash("", 0) != 0, "the hash is never 0 (0 marks empty slots)");
	em_seen_free(s);
}

static void test_security(void)
{
	char why[256];
	json_t *good = json_pack("{sssssI}", "callId", "org#app_123", "security", "af197fadf188f240d104a1679f953525",
				 "timestamp", (json_int_t)1700000000000);
	json_t *upper = json_pack("{sssssI}", "callId", "org#app_123", "security", "AF197FADF188F240D104A1679F953525",
				  "timestamp", (json_int_t)1700000000000);
	json_t *bad = json_pack("{sssssI}", "callId", "org#app_123", "security", "af197fadf188f240d104a1679f953526",
				"timestamp", (json_int_t)1700000000000);
	json_t *later = json_pack("{sssssI}", "callId", "org#app_123", "security",
				  "af197fadf188f240d104a1679f953525", "timestamp", (json_int_t)1700000000001);
	json_t *none = json_pack("{sssI}", "callId", "org#app_123", "timestamp", (json_int_t)1700000000000);
	is_int(em_security_check(good, "s3cret", why, sizeof(why)), 0, "md5(callId+secret+timestamp) verifies");
	is_int(em_security_check(upper, "s3cret", why, sizeof(why)), 0, "upper-case hex verifies too");
	is_int(em_security_check(good, "other", why, sizeof(why)), -1, "another secret fails");
	ok(strstr(why, "does not match") && !strstr(why, "other"), "the reason never shows the secret: %s", why);
	is_int(em_security_check(bad, "s3cret", why, sizeof(why)), -1, "an altered signature fails");
	is_int(em_security_check(later, "s3cret", why, sizeof(why)), -1, "an altered timestamp fails");
	is_int(em_security_check(none, "s3cret", why, sizeof(why)), -1, "a missing signature fails");
	json_decref(good);
	json_decref(upper);
	json_decref(bad);
	json_decref(later);
	json_decref(none);
}

static void jid_case(const char *jid, const char *appkey, const char *want, int want_admin)
{
	int admin = -1;
	char *got = em_user_from_jid(jid, appkey, &admin);
	ok((want ? got && !strcmp(got, want) : got == NULL) && admin == want_admin, "jid %s (appkey %s) -> %s%s", jid,
	   appkey ? appkey : "none", want ? want : "nothing", want_admin ? ", admin" : "");
	free(got);
}

static void test_jid(void)
{
	jid_case("org#app_alice@easemob.com/android_1", "org#app", "alice", 0);
	jid_case("org#app_alice@easemob.com", "org#app", "alice", 0);
	jid_case("alice", "org#app", "alice", 0);
	jid_case("org#app", "org#app", NULL, 1);
	jid_case("org#app/webim", "org#app", NULL, 1);
	jid_case("org#app_b_o_b/ios", NULL, "b_o_b", 0);
	jid_case("org#app_@XXXX", "org#app", NULL, 0);
	jid_case("org#app", NULL, NULL, 1);
	jid_case("org#app_173556296122369@conference.easemob.com", "org#app", "173556296122369", 0);
}

static void test_classify(void)
{
	char why[256];
	struct em_classified c;
	json_t *h = json_loads("{\"msg_id\":\"5\",\"timestamp\":1700000000123,\"direction\":\"outgoing\","
			       "\"from\":\"alice\",\"to\":\"g1\",\"chat_type\":\"groupchat\","
			       "\"payload\":{\"bodies\":[{\"type\":\"txt\",\"msg\":\"hi\"}],\"ext\":{}}}",
			       0, NULL);
	is_int(em_record_history(h, "org#app", &c, why, sizeof(why)), 0, "a history group message is valid");
	is_str(c.id, "5", "its msg_id");
	is_str(json_string_value(json_object_get(h, "_group_id")), "g1", "_group_id from to");
	is_str(json_string_value(json_object_get(h, "_from")), "alice", "_from");
	json_decref(h);

	h = json_loads("{\"msg_id\":6,\"timestamp\":1,\"from\":\"a\",\"to\":\"b\",\"chat_type\":\"chat\","
		       "\"payload\":{\"bodies\":[{\"msg\":\"no type\"}]}}",
		       0, NULL);
	is_int(em_record_history(h, NULL, &c, why, sizeof(why)), -1, "a body without type is refused");
	is_str(why, "payload.bodies[0] has no type", "with the reason");
	json_decref(h);

	json_t *cb = json_loads("{\"callId\":\"k#a_1\",\"chat_type\":\"muc\",\"timestamp\":5,\"from\":\"k#a\","
				"\"to\":\"u2\",\"payload\":{\"muc_id\":\"k#a_777@conference.easemob.com\","
				"\"operation\":\"kick\",\"is_chatroom\":true}}",
				0, NULL);
	is_int(em_record_callback(cb, NULL, &c, why, sizeof(why)), 0, "a muc callback is valid");
	is_int(c.stream, EM_STREAM_GROUPS, "in the groups stream");
	is_str(json_string_value(json_object_get(cb, "_group_id")), "777", "group id from muc_id");
	ok(json_is_true(json_object_get(cb, "_from_admin")), "bare appkey sender is the admin");
	ok(json_is_true(json_object_get(cb, "_chatroom")), "is_chatroom noted");
	json_decref(cb);

	cb = json_loads("{\"callId\":\"x\",\"reason\":\"login\",\"timestamp\":5}", 0, NULL);
	is_int(em_record_callback(cb, NULL, &c, why, sizeof(why)), 0, "a login event is valid");
	is_int(c.stream, EM_STREAM_SKIP, "and skipped");
	json_decref(cb);
	cb = json_loads("{\"chat_type\":\"roster\"}", 0, NULL);
	is_int(em_record_callback(cb, NULL, &c, why, sizeof(why)), -1, "no callId: not a callback");
	json_decref(cb);
	cb = json_loads("{\"callId\":\"x\",\"chat_type\":\"read_ack\",\"timestamp\":5,\"from\":\"a\",\"to\":\"b\","
			"\"payload\":{}}",
			0, NULL);
	is_int(em_record_callback(cb, NULL, &c, why, sizeof(why)), -1, "read_ack without ack_message_id");
	json_decref(cb);
}

static void test_lines(void)
{
	char path[] = "/tmp/em-lines-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	gzFile gz = gzopen(path, "wb");
	gzputs(gz, "one\r\n\n");
	for (int i = 0; i < 3000; i++)
		gzputs(gz, "x");
	gzputs(gz, "\nlast");
	gzclose(gz);

	char err[256];
	const char *text;
	size_t len;
	struct em_lines *r = em_lines_open(path, 1024, err, sizeof(err));
	ok(r != NULL, "open a gzip file");
	is_int(em_lines_next(r, &text, &len, err, sizeof(err)), EM_LINE_OK, "line 1");
	is_str(text, "one", "CR stripped");
	is_int((int)em_lines_offset(r), 5, "offset past CRLF");
	is_int(em_lines_next(r, &text, &len, err, sizeof(err)), EM_LINE_OK, "line 2 (empty)");
	is_int(em_lines_next(r, &text, &len, err, sizeof(err)), EM_LINE_TOO_LONG, "3000 bytes > 1024: too long");
	is_int((int)em_lines_offset(r), 5 + 1 + 3001, "the long line is consumed whole");
	is_int(em_lines_next(r, &text, &len, err, sizeof(err)), EM_LINE_OK, "last line without newline");
	is_str(text, "last", "its text");
	is_int((int)em_lines_number(r), 4, "four lines");
	is_int(em_lines_next(r, &text, &len, err, sizeof(err)), EM_LINE_EOF, "then EOF");
	em_lines_close(r);
	is_int((int)em_lines_count(path, NULL, NULL, err, sizeof(err)), 4, "count agrees");

	/* A gzip stream cut in the middle is an error, not a silent end. */
	FILE *f = fopen(path, "r+b");
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	ok(truncate(path, size / 2) == 0, "truncate the gzip file");
	r = em_lines_open(path, 1024, err, sizeof(err));
	int k;
	while ((k = em_lines_next(r, &text, &len, err, sizeof(err))) > 0)
		;
	is_int(k, EM_LINE_ERROR, "a truncated gzip stream is reported: %s", err);
	em_lines_close(r);
	unlink(path);
	ok(em_lines_open("/nonexistent/x", 1024, err, sizeof(err)) == NULL, "a missing file fails to open");
}

int main(void)
{
	test_seen();
	test_security();
	test_jid();
	test_classify();
	test_lines();
	return done_testing();
}
