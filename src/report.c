/* The self-contained HTML report (see report.h). */
#include "config.h"

#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
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

static const char samples_sql[] =
	"CREATE TABLE IF NOT EXISTS progress_samples(run_id INTEGER NOT NULL, t REAL NOT NULL,"
	" kind TEXT NOT NULL, landed INTEGER NOT NULL, PRIMARY KEY(run_id, t, kind))";

int im_report_sample(struct im_stage *st, int64_t run_id, double t, const int64_t landed[IM_KIND_COUNT],
		     char *err, size_t err_size)
{
	sqlite3 *db = im_stage_db(st);
	if (sqlite3_exec(db, samples_sql, NULL, NULL, NULL) != SQLITE_OK) {
		set_err(err, err_size, "%s: creating progress_samples: %s", im_stage_path(st), sqlite3_errmsg(db));
		return -1;
	}
	if (run_id <= 0) {
		/* The run in progress: the latest one not ended yet. */
		sqlite3_stmt *r = im_stage_stmt(st, "SELECT id FROM runs WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1",
						err, err_size);
		if (!r)
			return -1;
		run_id = sqlite3_step(r) == SQLITE_ROW ? sqlite3_column_int64(r, 0) : 0;
		sqlite3_reset(r);
	}
	sqlite3_stmt *s = im_stage_stmt(st,
					"INSERT OR REPLACE INTO progress_samples(run_id, t, kind, landed)"
					" VALUES(?1, ?2, ?3, ?4)",
					err, err_size);
	if (!s)
		return -1;
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, run_id);
		sqlite3_bind_double(s, 2, t);
		sqlite3_bind_text(s, 3, im_kind_info(k)->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, landed[k]);
		if (sqlite3_step(s) != SQLITE_DONE) {
			set_err(err, err_size, "%s: writing a progress sample: %s", im_stage_path(st),
				sqlite3_errmsg(db));
			sqlite3_reset(s);
			return -1;
		}
	}
	sqlite3_reset(s);
	return 0;
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
		if (max && done >= max) {
			fputs("\xE2\x80\xA6", out);
			return;
		}
		size_t n = utf8_seq(p);
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

static const char *num(int64_t v)
{
	/* Rotating buffers so several numbers can appear in one printf. */
	static char bufs[8][32];
	static int next;
	char *b = bufs[next++ & 7];
	fmt_int(b, 32, v);
	return b;
}

static const char *dur(double s)
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

/* ---- samples ------------------------------------------------------------------ */

#define BUCKETS 240

struct actual {
	int have_samples;
	double elapsed;			 /* load time: sum over runs of sampled spans */
	double kind_start[IM_KIND_COUNT]; /* elapsed seconds when the kind first landed a record */
	double kind_end[IM_KIND_COUNT];	  /* ... when it landed its last */
	int kind_seen[IM_KIND_COUNT];
	double rate[BUCKETS][IM_KIND_COUNT]; /* records per second per bucket */
	double bucket_width;
	int nbuckets;
	double peak; /* highest total rate of a bucket */
};

static int kind_index(const char *name)
{
	for (int k = 0; name && k < IM_KIND_COUNT; k++)
		if (strcmp(im_kind_info(k)->name, name) == 0)
			return k;
	return -1;
}

/* Walks the samples in (run, t) order calling fn for each step between two
 * consecutive snapshots of one run: [t0, t1) on the elapsed axis and the landed
 * increments per kind. */
typedef void (*step_fn)(struct actual *a, double e0, double e1, const int64_t delta[IM_KIND_COUNT]);

static int walk_samples(struct im_stage *st, struct actual *a, step_fn fn, char *err, size_t err_size)
{
	sqlite3 *db = im_stage_db(st);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT run_id, t, kind, landed FROM progress_samples ORDER BY run_id, t", -1, &s,
			       NULL) != SQLITE_OK)
		return 1; /* no samples table */
	int64_t run = -1;
	double t = 0, run_start = 0, base = 0;
	int64_t prev[IM_KIND_COUNT] = {0}, cur[IM_KIND_COUNT] = {0};
	int have_prev = 0, have_cur = 0;
	int rc;
	double elapsed = 0;
	for (;;) {
		rc = sqlite3_step(s);
		int64_t r = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -2;
		double rt = rc == SQLITE_ROW ? sqlite3_column_double(s, 1) : 0;
		/* A snapshot is complete when the (run, t) changes. */
		if (have_cur && (rc != SQLITE_ROW || r != run || rt != t)) {
			if (have_prev) {
				int64_t delta[IM_KIND_COUNT];
				for (int k = 0; k < IM_KIND_COUNT; k++)
					delta[k] = cur[k] - prev[k];
				double e1 = base + (t - run_start);
				if (fn)
					fn(a, elapsed, e1, delta);
				elapsed = e1;
			} else {
				elapsed = base;
			}
			memcpy(prev, cur, sizeof prev);
			have_prev = 1;
			have_cur = 0;
		}
		if (rc != SQLITE_ROW)
			break;
		if (r != run) {
			base = elapsed;
			run = r;
			run_start = rt;
			have_prev = 0;
		}
		t = rt;
		int k = kind_index((const char *)sqlite3_column_text(s, 2));
		if (k >= 0)
			cur[k] = sqlite3_column_int64(s, 3);
		have_cur = 1;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		set_err(err, err_size, "%s: reading progress samples: %s", im_stage_path(st), sqlite3_errmsg(db));
		return -1;
	}
	a->elapsed = elapsed;
	return 0;
}

static void span_step(struct actual *a, double e0, double e1, const int64_t delta[IM_KIND_COUNT])
{
	for (int k = 0; k < IM_KIND_COUNT; k++)
		if (delta[k] > 0) {
			if (!a->kind_seen[k]) {
				a->kind_seen[k] = 1;
				a->kind_start[k] = e0;
			}
			a->kind_end[k] = e1;
		}
}

static void bucket_step(struct actual *a, double e0, double e1, const int64_t delta[IM_KIND_COUNT])
{
	if (!(e1 > e0) || !(a->bucket_width > 0))
		return;
	/* Spread the step's records evenly over the buckets it covers. */
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		if (delta[k] <= 0)
			continue;
		double per_second = (double)delta[k] / (e1 - e0);
		int b0 = (int)(e0 / a->bucket_width), b1 = (int)(e1 / a->bucket_width);
		for (int b = b0; b <= b1 && b < a->nbuckets; b++) {
			double lo = fmax(e0, b * a->bucket_width), hi = fmin(e1, (b + 1) * a->bucket_width);
			if (hi > lo)
				a->rate[b][k] += per_second * (hi - lo) / a->bucket_width;
		}
	}
}

static int load_actual(struct im_stage *st, struct actual *a, char *err, size_t err_size)
{
	memset(a, 0, sizeof *a);
	int rc = walk_samples(st, a, span_step, err, err_size);
	if (rc)
		return rc < 0 ? -1 : 0;
	if (!(a->elapsed > 0))
		return 0;
	a->have_samples = 1;
	a->nbuckets = BUCKETS;
	a->bucket_width = a->elapsed / BUCKETS;
	if (walk_samples(st, a, bucket_step, err, err_size) < 0)
		return -1;
	for (int b = 0; b < a->nbuckets; b++) {
		double total = 0;
		for (int k = 0; k < IM_KIND_COUNT; k++)
			total += a->rate[b][k];
		if (total > a->peak)
			a->peak = total;
	}
	return 0;
}

/* Load time from the runs table when there are no samples: the runs that loaded. */
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

static const char *const palette[IM_KIND_COUNT] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
						   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

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

static void chart(FILE *out, const struct actual *a, const struct im_plan *p)
{
	const double W = 900, H = 280, L = 60, R = 20, T = 15, B = 35;
	double pw = W - L - R, ph = H - T - B;
	double xmax = fmax(a->elapsed, p->total);
	double ymax = a->peak > 0 ? a->peak * 1.1 : 1;
	fprintf(out, "<svg id=\"throughput\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
		     "width=\"100%%\" role=\"img\" aria-label=\"records landed per second over the load\">\n",
		W, H);
	fprintf(out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fbfbfe\" stroke=\"#dde\"/>\n", L, T,
		pw, ph);
	for (int i = 0; i <= 4; i++) {
		double y = T + ph - ph * i / 4;
		fprintf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eef\"/>"
			     "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s/s</text>\n",
			L, L + pw, y, y, L - 5, y + 4, num((int64_t)llround(ymax * i / 4)));
		double x = L + pw * i / 4;
		fprintf(out, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", x, H - 12,
			dur(xmax * i / 4));
	}
	/* One line per kind that landed anything, and the total. */
	for (int k = -1; k < IM_KIND_COUNT; k++) {
		double sum = 0;
		for (int b = 0; b < a->nbuckets; b++)
			sum += k < 0 ? 0 : a->rate[b][k];
		if (k >= 0 && sum <= 0)
			continue;
		fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" data-kind=\"%s\" points=\"",
			k < 0 ? "#1d2330" : palette[k], k < 0 ? "2" : "1.3", k < 0 ? "total" : im_kind_info(k)->name);
		for (int b = 0; b < a->nbuckets; b++) {
			double v = 0;
			if (k < 0)
				for (int j = 0; j < IM_KIND_COUNT; j++)
					v += a->rate[b][j];
			else
				v = a->rate[b][k];
			double x = L + pw * ((b + 0.5) * a->bucket_width) / xmax;
			double y = T + ph - ph * v / ymax;
			fprintf(out, "%.1f,%.1f ", x, y);
		}
		fputs("\"/>\n", out);
	}
	double xf = L + pw * p->total / xmax;
	fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#b91c1c\" stroke-dasharray=\"5,4\"/>"
		     "<text x=\"%.1f\" y=\"%.0f\" fill=\"#b91c1c\" text-anchor=\"end\">plan floor</text>\n",
		xf, xf, T, T + ph, xf - 4, T + 12);
	fputs("</svg>\n<p class=\"legend\"><span><i style=\"background:#1d2330\"></i>total</span>", out);
	for (int k = 0; k < IM_KIND_COUNT; k++)
		if (a->kind_seen[k])
			fprintf(out, "<span><i style=\"background:%s\"></i>%s</span>", palette[k], im_kind_info(k)->name);
	fputs("</p>\n", out);
}

/* The plan against the actual time, per kind: planned span (light) and the span
 * the kind actually landed in (solid, from the samples); the whole load's actual
 * time as a line when there are no samples. */
static void gantt(FILE *out, const struct im_plan *p, const struct actual *a, double actual)
{
	int rows = 0;
	for (int k = 0; k < IM_KIND_COUNT; k++)
		rows += p->work[k].records > 0;
	if (!rows)
		return;
	const double W = 900, L = 110, R = 20, T = 10, row = 26, B = 30;
	double H = T + rows * row + B, pw = W - L - R;
	double xmax = fmax(fmax(p->total, a->have_samples ? a->elapsed : actual), 1e-9);
	fprintf(out, "<svg id=\"plan-vs-actual\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
		     "width=\"100%%\" role=\"img\" aria-label=\"planned and actual time per kind\">\n",
		W, H);
	for (int i = 0; i <= 4; i++) {
		double x = L + pw * i / 4;
		fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#eef\"/>"
			     "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
			x, x, T, H - B, x, H - 12, dur(xmax * i / 4));
	}
	int r = 0;
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		if (!p->work[k].records)
			continue;
		double y = T + r++ * row;
		fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", L - 6, y + 16,
			im_kind_info(k)->name);
		double x0 = L + pw * p->slot[k].start / xmax, x1 = L + pw * p->slot[k].end / xmax;
		fprintf(out, "<rect class=\"planned\" data-kind=\"%s\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"9\" "
			     "fill=\"%s\" fill-opacity=\"0.35\"%s/>\n",
			im_kind_info(k)->name, x0, y + 3, fmax(x1 - x0, 1.5), palette[k],
			p->slot[k].critical ? " stroke=\"#d97706\"" : "");
		if (a->kind_seen[k]) {
			double a0 = L + pw * a->kind_start[k] / xmax, a1 = L + pw * a->kind_end[k] / xmax;
			fprintf(out, "<rect class=\"actual\" data-kind=\"%s\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" "
				     "height=\"9\" fill=\"%s\"/>\n",
				im_kind_info(k)->name, a0, y + 13, fmax(a1 - a0, 1.5), palette[k]);
		}
	}
	if (!a->have_samples && actual > 0) {
		double x = L + pw * actual / xmax;
		fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#1d2330\" "
			     "stroke-dasharray=\"4,3\"/><text x=\"%.1f\" y=\"%.0f\" text-anchor=\"end\">actual</text>\n",
			x, x, T, H - B, x - 4, T + 10);
	}
	fputs("</svg>\n<p class=\"legend\"><span><i style=\"background:#9ab\"></i>planned (light; outlined: critical "
	      "path)</span><span><i style=\"background:#1d2330\"></i>actual, from the progress samples</span></p>\n",
	      out);
}

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
			       "SELECT d.origin, COALESCE(d.raw, r.data), d.payload FROM dead_letters d"
			       " LEFT JOIN raw r ON r.id = d.raw_id WHERE d.replayed = 0 AND d.stage = ?1"
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
		}
		fprintf(out, "</details></td><td>%s</td></tr>\n", num(sqlite3_column_int64(g, 4)));
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
		sample ? num(sample) : "", missing ? "bad" : "ok", num(missing));
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
			num(exp), num(json_integer_value(json_object_get(k, "found"))), m ? "bad" : "", num(m),
			d ? "warn" : "", num(d), num(unc));
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
	struct actual *a = calloc(1, sizeof *a);
	struct im_plan *p = calloc(1, sizeof *p);
	json_t *verification = NULL;
	int rc = -1;
	if (!a || !p) {
		set_err(err, err_size, "out of memory");
		goto done;
	}
	if (load_counts(st, &c, err, err_size) < 0 || im_plan_count(st, &cfg, IM_PLAN_ALL, work, err, err_size) < 0 ||
	    im_plan_check(st, &cfg, &warnings, err, err_size) < 0 || load_actual(st, a, err, err_size) < 0 ||
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
	fprintf(out, "<div class=\"card\">Staged<b id=\"total-staged\">%s</b></div>", num(staged));
	fprintf(out, "<div class=\"card\">Landed<b id=\"total-landed\" class=\"%s\">%s</b></div>",
		landed == staged ? "ok" : "", num(landed));
	fprintf(out, "<div class=\"card\">Not landed yet<b id=\"total-pending\">%s</b></div>", num(pending));
	fprintf(out, "<div class=\"card\">Dead letters<b id=\"total-dead\" class=\"%s\">%s</b></div>",
		dead_letters ? "bad" : "ok", num(dead_letters));
	fprintf(out, "<div class=\"card\">Plan floor<b id=\"plan-floor\">%s</b></div>", dur(p->total));
	fprintf(out, "<div class=\"card\">Actual load time<b id=\"actual-time\">%s</b>%s</div>",
		actual > 0 ? dur(actual) : "-",
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
			num(ks), num(c.by[k][IM_STAGE_LANDED]), num(c.by[k][IM_STAGE_DEAD]),
			num(c.by[k][IM_STAGE_PENDING] + c.by[k][IM_STAGE_INFLIGHT]), num(p->work[k].calls), cfg.limit[k],
			dur(p->slot[k].floor));
		fprintf(out, "<td>%s &ndash; %s</td>", dur(p->slot[k].start), dur(p->slot[k].end));
		if (a->kind_seen[k])
			fprintf(out, "<td>%s &ndash; %s</td>", dur(a->kind_start[k]), dur(a->kind_end[k]));
		else
			fputs("<td>-</td>", out);
		fputs("</tr>\n", out);
	}
	fputs("</table>\n<p class=\"meta\">&#9733; critical path of the plan: the chain of kinds that sets the floor. "
	      "Floors assume the configured rate limits; kinds without a dependency between them run at once.</p>\n",
	      out);
	if (c.dead_unknown)
		fprintf(out, "<p>%s dead letters before a record kind was known (parse or script stage).</p>\n",
			num(c.dead_unknown));

	fputs("<h2 id=\"plan-h\">Plan against actual</h2>\n", out);
	gantt(out, p, a, actual);
	fputs("<h2 id=\"throughput-h\">Throughput</h2>\n", out);
	if (a->have_samples)
		chart(out, a, p);
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
			fprintf(out, "</td><td>%s</td><td class=\"text\">", num(w->count));
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
