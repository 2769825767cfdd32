/* The self-contained HTML report (see report.h): the page and its sections. */
#include "config.h"

#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "report_priv.h"
#include "verify.h"

static void set_err(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;
	if (!err || !err_size)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned min, cp;
	if ((c & 0xE0) == 0xC0) {
		n = 2, min = 0x80, cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3, min = 0x800, cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4, min = 0x10000, cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

void im_report_escape(FILE *out, const char *s, size_t max)
{
	if (!s)
		return;
	const unsigned char *p = (const unsigned char *)s;
	size_t done = 0;
	while (*p) {
		size_t n = utf8_seq(p);
		if (max && done + (n ? n : 1) > max) {
			fputs("\xE2\x80\xA6", out);
			return;
		}
		if (n == 0) {
			fputs("\xEF\xBF\xBD", out);
			p++;
			done++;
			continue;
		}
		if (n == 1) {
			switch (*p) {
			case '&': fputs("&amp;", out); break;
			case '<': fputs("&lt;", out); break;
			case '>': fputs("&gt;", out); break;
			case '"': fputs("&quot;", out); break;
			case '\'': fputs("&#39;", out); break;
			default:
				if (*p >= 0x20 || *p == '\t' || *p == '\n')
					fputc(*p, out);
				else if (*p != '\r')
					fputs("\xEF\xBF\xBD", out);
			}
		} else {
			fwrite(p, 1, n, out);
		}
		p += n;
		done += n;
	}
}

static void esc(FILE *out, const char *s)
{
	im_report_escape(out, s, 0);
}

static void fmt_int(char *buf, size_t size, int64_t v)
{
	/* 1234567 -> "1,234,567" */
	char digits[32];
	snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
	size_t len = strlen(digits), o = 0;
	if (v < 0 && o + 1 < size)
		buf[o++] = '-';
	for (size_t i = 0; i < len && o + 2 < size; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

const char *im_report_num(int64_t v)
{
	/* Rotating buffers so several numbers can appear in one printf. */
	static char bufs[8][32];
	static int next;
	char *b = bufs[next++ & 7];
	fmt_int(b, 32, v);
	return b;
}

const char *im_report_dur(double s)
{
	static char bufs[8][32];
	static int next;
	char *b = bufs[next++ & 7];
	return im_plan_format_duration(s, b, 32);
}

static const char *utc(int64_t t)
{
	static char bufs[4][32];
	static int next;
	char *b = bufs[next++ & 3];
	time_t tt = (time_t)t;
	struct tm tm;
	if (t <= 0 || !gmtime_r(&tt, &tm))
		snprintf(b, 32, "-");
	else
		strftime(b, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return b;
}

/* ---- counts ------------------------------------------------------------------- */

struct counts {
	int64_t by[IM_KIND_COUNT][IM_STAGE_NSTATUS];
	int64_t dead_letters[IM_KIND_COUNT]; /* dead letters not replayed, any stage */
	int64_t dead_unknown;		     /* dead letters with no kind (parse, script) */
};

static int count_cb(void *arg, const char *kind, int status, int64_t n)
{
	struct counts *c = arg;
	for (int k = 0; k < IM_KIND_COUNT; k++)
		if (strcmp(im_kind_info(k)->name, kind) == 0 && status >= 0 && status < IM_STAGE_NSTATUS)
			c->by[k][status] = n;
	return 0;
}

static int load_counts(struct im_stage *st, struct counts *c, char *err, size_t err_size)
{
	memset(c, 0, sizeof *c);
	if (im_stage_counts(st, count_cb, c) < 0) {
		set_err(err, err_size, "%s: counting records: %s", im_stage_path(st), im_stage_errmsg(st));
		return -1;
	}
	sqlite3_stmt *s = im_stage_stmt(st,
					"SELECT kind, COUNT(*) FROM dead_letters WHERE replayed = 0 GROUP BY kind",
					err, err_size);
	if (!s)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);
		int64_t n = sqlite3_column_int64(s, 1);
		int matched = 0;
		for (int k = 0; kind && k < IM_KIND_COUNT; k++)
			if (strcmp(im_kind_info(k)->name, kind) == 0) {
				c->dead_letters[k] = n;
				matched = 1;
			}
		if (!matched)
			c->dead_unknown += n;
	}
	sqlite3_reset(s);
	return 0;
}

static double runs_time(struct im_stage *st)
{
	sqlite3_stmt *s;
	double total = 0;
	if (sqlite3_prepare_v2(im_stage_db(st),
			       "SELECT COALESCE(SUM(ended_at - started_at), 0) FROM runs WHERE ended_at IS NOT NULL"
			       " AND command IN ('run', 'load')",
			       -1, &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		total = sqlite3_column_double(s, 0);
	sqlite3_finalize(s);
	return total;
}

/* ---- HTML --------------------------------------------------------------------- */

static const char css[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;max-width:1100px;"
	"color:#1d2330;padding:0 1em}"
	"h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #dde;"
	"padding-bottom:.2em}"
	".meta{color:#667}table{border-collapse:collapse;margin:.5em 0;width:100%}"
	"th,td{padding:.3em .6em;border-bottom:1px solid #eef;text-align:right;vertical-align:top}"
	"th:first-child,td:first-child{text-align:left}th{background:#f5f6fa;font-weight:600}"
	"td.text,th.text{text-align:left}tr.crit td:first-child::after{content:' \\2605';color:#d97706}"
	".cards{display:flex;gap:1em;flex-wrap:wrap}.card{flex:1;min-width:160px;border:1px solid #dde;"
	"border-radius:6px;padding:.7em 1em}.card b{display:block;font-size:1.5em}"
	".ok{color:#15803d}.bad{color:#b91c1c}.warn{color:#b45309}"
	"pre{white-space:pre-wrap;word-break:break-all;background:#f7f7fb;padding:.4em;margin:.2em 0;"
	"font-size:12px;max-height:12em;overflow:auto}"
	"details{margin:.3em 0}summary{cursor:pointer}svg text{font-size:11px;fill:#445}"
	".legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:10px;"
	"height:10px;margin-right:4px;vertical-align:middle}";

static int dead_letter_section(struct im_stage *st, FILE *out, char *err, size_t err_size)
{
	sqlite3 *db = im_stage_db(st);
	sqlite3_stmt *g, *ex;
	if (sqlite3_prepare_v2(db,
			       "SELECT stage, kind, code, reason, COUNT(*) FROM dead_letters WHERE replayed = 0"
			       " GROUP BY stage, kind, code, reason ORDER BY 5 DESC, 1, 2, 4 LIMIT 50",
			       -1, &g, NULL) != SQLITE_OK) {
		set_err(err, err_size, "%s: reading dead letters: %s", im_stage_path(st), sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_prepare_v2(db,
			       "SELECT d.origin, d.raw, d.payload, d.raw_id FROM dead_letters d"
			       " WHERE d.replayed = 0 AND d.stage = ?1"
			       " AND d.kind IS ?2 AND d.code IS ?3 AND d.reason = ?4 ORDER BY d.id LIMIT 3",
			       -1, &ex, NULL) != SQLITE_OK) {
		sqlite3_finalize(g);
		set_err(err, err_size, "%s: reading dead letters: %s", im_stage_path(st), sqlite3_errmsg(db));
		return -1;
	}
	int rows = 0;
	fputs("<h2 id=\"dead-letters\">Dead letters</h2>\n", out);
	while (sqlite3_step(g) == SQLITE_ROW) {
		if (!rows++)
			fputs("<table id=\"dead-table\"><tr><th>Stage</th><th class=\"text\">Kind</th><th class=\"text\">Code</th><th class=\"text\">Reason</th>"
			      "<th>Records</th></tr>\n",
			      out);
		const char *stage = (const char *)sqlite3_column_text(g, 0);
		const char *kind = (const char *)sqlite3_column_text(g, 1);
		const char *reason = (const char *)sqlite3_column_text(g, 3);
		int has_code = sqlite3_column_type(g, 2) != SQLITE_NULL;
		long code = (long)sqlite3_column_int64(g, 2);
		fputs("<tr class=\"dl\"><td>", out);
		esc(out, stage);
		fputs("</td><td class=\"text\">", out);
		esc(out, kind ? kind : "-");
		fputs("</td><td class=\"text\">", out);
		if (has_code && code) {
			fprintf(out, "%ld <span class=\"meta\">", code);
			esc(out, im_code_meaning(code));
			fputs("</span>", out);
		} else {
			fputs("-", out);
		}
		fputs("</td><td class=\"text\">", out);
		esc(out, reason);
		fputs("<details><summary>examples</summary>", out);
		sqlite3_reset(ex);
		sqlite3_bind_text(ex, 1, stage, -1, SQLITE_TRANSIENT);
		if (kind)
			sqlite3_bind_text(ex, 2, kind, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(ex, 2);
		if (has_code)
			sqlite3_bind_int64(ex, 3, code);
		else
			sqlite3_bind_null(ex, 3);
		sqlite3_bind_text(ex, 4, reason, -1, SQLITE_TRANSIENT);
		while (sqlite3_step(ex) == SQLITE_ROW) {
			const char *origin = (const char *)sqlite3_column_text(ex, 0);
			const char *raw = (const char *)sqlite3_column_text(ex, 1);
			const char *payload = (const char *)sqlite3_column_text(ex, 2);
			/* No copy in the dead letter: the native record from the stage. */
			char *stored = NULL;
			if (!raw && sqlite3_column_int64(ex, 3) > 0 &&
			    im_stage_get_raw(st, sqlite3_column_int64(ex, 3), &stored, NULL, NULL, NULL) == 0)
				raw = stored;
			fputs("<div class=\"example\"><span class=\"meta\">", out);
			esc(out, origin ? origin : "(no origin)");
			fputs("</span>", out);
			if (raw) {
				fputs("<pre>", out);
				im_report_escape(out, raw, 600);
				fputs("</pre>", out);
			}
			if (payload) {
				fputs("<pre>", out);
				im_report_escape(out, payload, 600);
				fputs("</pre>", out);
			}
			fputs("</div>", out);
			free(stored);
		}
		fprintf(out, "</details></td><td>%s</td></tr>\n", im_report_num(sqlite3_column_int64(g, 4)));
	}
	sqlite3_finalize(ex);
	sqlite3_finalize(g);
	if (rows)
		fputs("</table>\n", out);
	else
		fputs("<p class=\"ok\" id=\"no-dead-letters\">No dead letters.</p>\n", out);
	return 0;
}

static void verify_section(FILE *out, json_t *v)
{
	fputs("<h2 id=\"verification\">Verification</h2>\n", out);
	if (!v) {
		fputs("<p class=\"meta\" id=\"verify-none\">Not verified yet: run <code>immigrate verify JOB</code>.</p>\n",
		      out);
		return;
	}
	int64_t missing = json_integer_value(json_object_get(v, "missing"));
	int64_t sample = json_integer_value(json_object_get(v, "sample"));
	fprintf(out, "<p>Checked %s, %s%s: <b id=\"verify-missing\" class=\"%s\">%s</b> missing.</p>\n",
		utc(json_integer_value(json_object_get(v, "ended_at"))), sample ? "a sample of " : "every landed record",
		sample ? im_report_num(sample) : "", missing ? "bad" : "ok", im_report_num(missing));
	if (sample)
		fputs("<p class=\"meta\">(sampled per kind)</p>\n", out);
	fputs("<table id=\"verify-table\"><tr><th>Kind</th><th>Expected</th><th>Found</th><th>Missing</th>"
	      "<th>Differing</th><th>Unchecked</th></tr>\n",
	      out);
	size_t i;
	json_t *k;
	json_array_foreach(json_object_get(v, "kinds"), i, k) {
		int64_t exp = json_integer_value(json_object_get(k, "expected"));
		int64_t unc = json_integer_value(json_object_get(k, "unchecked"));
		if (!exp && !unc)
			continue;
		const char *name = json_string_value(json_object_get(k, "kind"));
		fputs("<tr><td>", out);
		esc(out, name);
		int64_t m = json_integer_value(json_object_get(k, "missing"));
		int64_t d = json_integer_value(json_object_get(k, "differing"));
		fprintf(out, "</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td><td class=\"%s\">%s</td><td>%s</td></tr>\n",
			im_report_num(exp), im_report_num(json_integer_value(json_object_get(k, "found"))), m ? "bad" : "", im_report_num(m),
			d ? "warn" : "", im_report_num(d), im_report_num(unc));
	}
	fputs("</table>\n", out);
	json_t *diffs = json_object_get(v, "differences");
	if (json_array_size(diffs)) {
		fputs("<details open><summary>First differences</summary><table><tr><th>Kind</th><th class=\"text\">Record</th>"
		      "<th class=\"text\">Problem</th></tr>\n",
		      out);
		json_array_foreach(diffs, i, k) {
			fputs("<tr><td>", out);
			esc(out, json_string_value(json_object_get(k, "kind")));
			fputs("</td><td class=\"text\">", out);
			esc(out, json_string_value(json_object_get(k, "key")));
			fputs("</td><td class=\"text\">", out);
			esc(out, json_string_value(json_object_get(k, "problem")));
			fputs("</td></tr>\n", out);
		}
		fputs("</table></details>\n", out);
	}
}

static void runs_section(struct im_stage *st, FILE *out)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(im_stage_db(st),
			       "SELECT id, command, started_at, ended_at, exit_code FROM runs ORDER BY id DESC LIMIT 30", -1,
			       &s, NULL) != SQLITE_OK)
		return;
	int rows = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (!rows++)
			fputs("<h2 id=\"runs\">Runs</h2>\n<table><tr><th>Run</th><th class=\"text\">Command</th><th>Started</th>"
			      "<th>Ended</th><th>Exit</th></tr>\n",
			      out);
		fprintf(out, "<tr><td>%lld</td><td class=\"text\">", (long long)sqlite3_column_int64(s, 0));
		esc(out, (const char *)sqlite3_column_text(s, 1));
		fprintf(out, "</td><td>%s</td><td>%s</td><td>", utc(sqlite3_column_int64(s, 2)),
			sqlite3_column_type(s, 3) == SQLITE_NULL ? "(running or killed)" : utc(sqlite3_column_int64(s, 3)));
		if (sqlite3_column_type(s, 4) == SQLITE_NULL)
			fputs("-", out);
		else
			fprintf(out, "%lld", (long long)sqlite3_column_int64(s, 4));
		fputs("</td></tr>\n", out);
	}
	if (rows)
		fputs("</table>\n", out);
	sqlite3_finalize(s);
}

int im_report_write(struct im_stage *st, const struct im_report_options *opt, FILE *out, char *err, size_t err_size)
{
	struct im_plan_config cfg;
	if (opt && opt->plan)
		cfg = *opt->plan;
	else
		im_plan_config_defaults(&cfg);
	struct counts c;
	struct im_plan_work work[IM_KIND_COUNT];
	struct im_plan_warnings warnings = {0};
	struct im_report_actual *a = calloc(1, sizeof *a);
	struct im_plan *p = calloc(1, sizeof *p);
	json_t *verification = NULL;
	int rc = -1;
	if (!a || !p) {
		set_err(err, err_size, "out of memory");
		goto done;
	}
	if (load_counts(st, &c, err, err_size) < 0 || im_plan_count(st, &cfg, IM_PLAN_ALL, work, err, err_size) < 0 ||
	    im_plan_check(st, &cfg, &warnings, err, err_size) < 0 || im_report_load_actual(st, a, err, err_size) < 0 ||
	    im_verify_load_latest(st, &verification, err, err_size) < 0)
		goto done;
	im_plan_schedule(p, &cfg, work);
	double actual = a->have_samples ? a->elapsed : runs_time(st);

	const char *title = opt && opt->title ? opt->title : im_stage_path(st);
	int64_t staged = 0, landed = 0, dead = 0, pending = 0, dead_letters = c.dead_unknown;
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		for (int s = 0; s < IM_STAGE_NSTATUS; s++)
			staged += c.by[k][s];
		landed += c.by[k][IM_STAGE_LANDED];
		dead += c.by[k][IM_STAGE_DEAD];
		pending += c.by[k][IM_STAGE_PENDING] + c.by[k][IM_STAGE_INFLIGHT];
		dead_letters += c.dead_letters[k];
	}

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
	      "<title>Migration report: ",
	      out);
	esc(out, title);
	fprintf(out, "</title><style>%s</style></head><body>\n<h1>Migration report: ", css);
	esc(out, title);
	fprintf(out, "</h1>\n<p class=\"meta\">Generated %s by immigrate %s from <code>", utc((int64_t)time(NULL)),
		PACKAGE_VERSION);
	esc(out, im_stage_path(st));
	fputs("</code>.</p>\n<div class=\"cards\">", out);
	fprintf(out, "<div class=\"card\">Staged<b id=\"total-staged\">%s</b></div>", im_report_num(staged));
	fprintf(out, "<div class=\"card\">Landed<b id=\"total-landed\" class=\"%s\">%s</b></div>",
		landed == staged ? "ok" : "", im_report_num(landed));
	fprintf(out, "<div class=\"card\">Not landed yet<b id=\"total-pending\">%s</b></div>", im_report_num(pending));
	fprintf(out, "<div class=\"card\">Dead letters<b id=\"total-dead\" class=\"%s\">%s</b></div>",
		dead_letters ? "bad" : "ok", im_report_num(dead_letters));
	fprintf(out, "<div class=\"card\">Plan floor<b id=\"plan-floor\">%s</b></div>", im_report_dur(p->total));
	fprintf(out, "<div class=\"card\">Actual load time<b id=\"actual-time\">%s</b>%s</div>",
		actual > 0 ? im_report_dur(actual) : "-",
		actual > 0 && p->total > 0 ? "" : "");
	if (actual > 0 && p->total > 0)
		fprintf(out, "<div class=\"card\">Actual / floor<b id=\"floor-ratio\">%.2f</b></div>", actual / p->total);
	if (verification) {
		int64_t m = json_integer_value(json_object_get(verification, "missing"));
		fprintf(out, "<div class=\"card\">Verification<b class=\"%s\">%s</b></div>", m ? "bad" : "ok",
			m ? "records missing" : "nothing missing");
	}
	fputs("</div>\n", out);

	/* Per kind: counts, plan and actual. */
	fputs("<h2 id=\"kinds\">Per kind</h2>\n<table id=\"kind-table\"><tr><th>Kind</th><th class=\"text\">API</th><th>Staged</th>"
	      "<th>Landed</th><th>Dead</th><th>Not landed</th><th>Calls</th><th>Rate</th><th>Floor</th>"
	      "<th>Planned</th><th>Actual</th></tr>\n",
	      out);
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		int64_t ks = 0;
		for (int s = 0; s < IM_STAGE_NSTATUS; s++)
			ks += c.by[k][s];
		if (!ks && !c.dead_letters[k])
			continue;
		const char *name = im_kind_info(k)->name;
		fprintf(out, "<tr id=\"kind-%s\"%s><td>%s</td><td class=\"text\">%s</td>", name,
			p->slot[k].critical ? " class=\"crit\"" : "", name, im_kind_info(k)->command);
		fprintf(out, "<td class=\"staged\">%s</td><td class=\"landed\">%s</td><td class=\"dead\">%s</td>"
			     "<td>%s</td><td>%s</td><td>%g/s</td><td>%s</td>",
			im_report_num(ks), im_report_num(c.by[k][IM_STAGE_LANDED]), im_report_num(c.by[k][IM_STAGE_DEAD]),
			im_report_num(c.by[k][IM_STAGE_PENDING] + c.by[k][IM_STAGE_INFLIGHT]), im_report_num(p->work[k].calls), cfg.limit[k],
			im_report_dur(p->slot[k].floor));
		fprintf(out, "<td>%s &ndash; %s</td>", im_report_dur(p->slot[k].start), im_report_dur(p->slot[k].end));
		if (a->kind_seen[k])
			fprintf(out, "<td>%s &ndash; %s</td>", im_report_dur(a->kind_start[k]), im_report_dur(a->kind_end[k]));
		else
			fputs("<td>-</td>", out);
		fputs("</tr>\n", out);
	}
	fputs("</table>\n<p class=\"meta\">&#9733; critical path of the plan: the chain of kinds that sets the floor. "
	      "Floors assume the configured rate limits; kinds without a dependency between them run at once.</p>\n",
	      out);
	if (c.dead_unknown)
		fprintf(out, "<p>%s dead letters before a record kind was known (parse or script stage).</p>\n",
			im_report_num(c.dead_unknown));

	fputs("<h2 id=\"plan-h\">Plan against actual</h2>\n", out);
	im_report_gantt(out, p, a, actual);
	fputs("<h2 id=\"throughput-h\">Throughput</h2>\n", out);
	if (a->have_samples)
		im_report_chart(out, a, p);
	else
		fputs("<p class=\"meta\" id=\"no-samples\">No progress samples were recorded for this stage.</p>\n", out);

	if (dead_letter_section(st, out, err, err_size) < 0)
		goto done;
	verify_section(out, verification);

	if (warnings.n) {
		fputs("<h2 id=\"warnings\">Plan warnings</h2>\n<table><tr><th>Severity</th><th class=\"text\">Kind</th><th>Records</th>"
		      "<th class=\"text\">What</th><th class=\"text\">Example</th></tr>\n",
		      out);
		for (size_t i = 0; i < warnings.n; i++) {
			const struct im_plan_warning *w = &warnings.v[i];
			fprintf(out, "<tr><td class=\"%s\">%s</td><td class=\"text\">",
				w->severity == IM_PLAN_REFUSE ? "bad" : w->severity == IM_PLAN_WARN ? "warn" : "",
				im_plan_severity_name(w->severity));
			esc(out, w->kind[0] ? w->kind : "-");
			fprintf(out, "</td><td>%s</td><td class=\"text\">", im_report_num(w->count));
			esc(out, w->what);
			fputs("</td><td class=\"text\">", out);
			esc(out, w->example);
			fputs("</td></tr>\n", out);
		}
		fputs("</table>\n", out);
	}
	runs_section(st, out);
	fputs("</body></html>\n", out);
	rc = 0;
done:
	json_decref(verification);
	im_plan_warnings_free(&warnings);
	free(a);
	free(p);
	return rc;
}
