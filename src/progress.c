/* Progress lines and the final summary; see progress.h. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

struct im_progress {
	FILE *out;
	bool tty, quiet, json;
	double last;
	int lines_drawn; /* lines of the previous in-place frame */
	struct im_plan_config model; /* for the total ETA */
};

struct im_progress *im_progress_new(FILE *out, bool tty, bool quiet, bool json)
{
	struct im_progress *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->out = out;
	p->tty = tty && !json;
	p->quiet = quiet;
	p->json = json;
	p->last = -1e9;
	im_plan_config_defaults(&p->model);
	return p;
}

void im_progress_set_model(struct im_progress *p, const struct im_plan_config *c)
{
	if (p && c)
		p->model = *c;
}

double im_progress_eta(const struct im_progress *p, const struct im_progress_kind *kinds)
{
	int64_t left[IM_KIND_COUNT];
	bool any = false;
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		int64_t n = kinds[k].staged - kinds[k].landed - kinds[k].dead;
		left[k] = kinds[k].selected && n > 0 ? n : 0;
		any |= left[k] > 0;
	}
	return any ? im_plan_eta_records(&p->model, left) : 0;
}

void im_progress_free(struct im_progress *p)
{
	free(p);
}

static void fmt_duration(char *out, size_t size, double s)
{
	if (!isfinite(s) || s < 0) {
		snprintf(out, size, "--");
		return;
	}
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(out, size, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else if (t >= 60)
		snprintf(out, size, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(out, size, "%.1fs", s);
}

/* A progress bar of done out of total, width characters. */
static void fill_bar(char *bar, int width, double done, double total)
{
	int fill = total > 0 ? (int)(done * width / total) : width;
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
}

static void line(struct im_progress *p, const struct im_progress_kind *k, double now)
{
	int64_t done = k->landed + k->dead;
	double el = (k->ended > 0 ? k->ended : now) - k->started;
	double rate = el > 0 ? (double)(done - k->done_before) / el : 0;
	/* Records done before this run count towards done, not towards the rate:
	 * the ETA is what remains at the rate seen so far. */
	double eta = rate > 0 ? (double)(k->staged - done) / rate : NAN;
	char e[32];
	fmt_duration(e, sizeof e, k->ended > 0 ? 0 : eta);
	if (p->json) {
		fprintf(p->out,
			"{\"event\":\"progress\",\"kind\":\"%s\",\"staged\":%lld,\"landed\":%lld,\"dead\":%lld,"
			"\"calls\":%llu,\"retries\":%llu,\"throttled\":%llu,\"rate\":%.1f,\"eta_s\":%.1f}\n",
			k->name, (long long)k->staged, (long long)k->landed, (long long)k->dead,
			(unsigned long long)k->calls, (unsigned long long)k->retries, (unsigned long long)k->throttled,
			rate, isfinite(eta) ? eta : -1.0);
		return;
	}
	char bar[32];
	fill_bar(bar, 24, (double)done, (double)k->staged);
	fprintf(p->out, "%-12s [%s] %lld/%lld landed, %lld dead, %llu calls, %.0f/s, %s %s%s\n", k->name, bar,
		(long long)k->landed, (long long)k->staged, (long long)k->dead, (unsigned long long)k->calls, rate,
		k->ended > 0 ? "done" : "ETA", k->ended > 0 ? "" : e, p->tty ? "\033[K" : "");
}

/* The whole load: counts over the selected kinds, and the ETA of the plan's model
 * (the per-kind ETAs extrapolate each kind's own rate; this one also counts the
 * kinds that have not started yet, in their order). */
static void total_line(struct im_progress *p, const struct im_progress_kind *kinds)
{
	int64_t staged = 0, landed = 0, dead = 0;
	uint64_t calls = 0;
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		if (!kinds[k].selected)
			continue;
		staged += kinds[k].staged;
		landed += kinds[k].landed;
		dead += kinds[k].dead;
		calls += kinds[k].calls;
	}
	double eta = im_progress_eta(p, kinds);
	if (p->json) {
		fprintf(p->out,
			"{\"event\":\"progress\",\"kind\":\"total\",\"staged\":%lld,\"landed\":%lld,\"dead\":%lld,"
			"\"calls\":%llu,\"eta_s\":%.1f}\n",
			(long long)staged, (long long)landed, (long long)dead, (unsigned long long)calls, eta);
		return;
	}
	char e[32];
	fmt_duration(e, sizeof e, eta);
	char bar[32];
	fill_bar(bar, 24, (double)(landed + dead), (double)staged);
	fprintf(p->out, "%-12s [%s] %lld/%lld landed, %lld dead, %llu calls, ETA %s at the rate limits%s\n", "total",
		bar, (long long)landed, (long long)staged, (long long)dead, (unsigned long long)calls, e,
		p->tty ? "\033[K" : "");
}

void im_progress_extract(struct im_progress *p, const struct im_extract_progress *x, double now, bool final)
{
	if (!p || p->quiet)
		return;
	if (!final && now - p->last < (p->tty ? 0.25 : 5.0))
		return;
	p->last = now;
	double el = now - x->started;
	double rate = el > 0 ? (double)(x->done - x->before) / el : 0;
	/* An estimate the input outgrew says nothing more: no ETA then. */
	double left = x->total >= 0 && (uint64_t)x->total >= x->done ? (double)((uint64_t)x->total - x->done) : NAN;
	double eta = final ? 0 : rate > 0 ? left / rate : NAN;
	if (p->json) {
		fprintf(p->out,
			"{\"event\":\"progress\",\"phase\":\"extract\",\"native\":%llu,\"total\":%lld,\"staged\":%llu,"
			"\"dead\":%llu,\"rate\":%.1f,\"eta_s\":%.1f,\"done\":%s,\"indexing\":%s}\n",
			(unsigned long long)x->done, (long long)x->total, (unsigned long long)x->staged,
			(unsigned long long)x->dead, rate, isfinite(eta) ? eta : -1.0, final ? "true" : "false",
			final && x->indexing ? "true" : "false");
		fflush(p->out);
		return;
	}
	if (p->tty && p->lines_drawn > 0)
		fprintf(p->out, "\033[%dA", p->lines_drawn);
	char e[32], of[48] = "", bar[40] = "";
	fmt_duration(e, sizeof e, eta);
	if (x->total >= 0) {
		char b[32];
		fill_bar(b, 24, (double)x->done, (double)x->total);
		snprintf(bar, sizeof bar, "[%s] ", b);
		snprintf(of, sizeof of, "/~%lld", (long long)x->total);
	}
	fprintf(p->out, "%-12s %s%llu%s native records, %llu staged, %llu dead, %.0f/s, %s%s%s\n", "extract", bar,
		(unsigned long long)x->done, of, (unsigned long long)x->staged, (unsigned long long)x->dead, rate,
		final ? (x->indexing ? "read; sorting the stage's indexes" : "done") : "ETA ", final ? "" : e,
		p->tty ? "\033[K" : "");
	p->lines_drawn = p->tty ? 1 : 0;
	fflush(p->out);
}

void im_progress_update(struct im_progress *p, const struct im_progress_kind *kinds, double now, bool force)
{
	if (!p || p->quiet)
		return;
	double every = p->tty ? 0.25 : 5.0;
	if (!force && now - p->last < every)
		return;
	p->last = now;
	if (p->tty && p->lines_drawn > 0)
		fprintf(p->out, "\033[%dA", p->lines_drawn);
	int n = 0;
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		if (!kinds[k].selected || kinds[k].staged <= 0 || (!p->tty && kinds[k].started == 0))
			continue;
		if (!p->tty && kinds[k].ended > 0 && kinds[k].ended < p->last - every && !force)
			continue; /* finished kinds are reported once on a log */
		line(p, &kinds[k], now);
		n++;
	}
	if (n > 0) {
		total_line(p, kinds);
		n++;
	}
	if (p->tty)
		p->lines_drawn = n;
	fflush(p->out);
}

double im_progress_floor(const struct im_progress_kind *k)
{
	return k->limit > 0 ? (double)k->calls / k->limit : 0;
}

double im_progress_total_floor(const struct im_progress_kind *kinds)
{
	/* The plan's schedule, over this run's calls at this run's limits, so that the
	 * summary's floor is the one `immigrate plan` and the report show. */
	struct im_plan_config c;
	struct im_plan_work work[IM_KIND_COUNT];
	im_plan_config_defaults(&c);
	memset(work, 0, sizeof work);
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		if (kinds[k].limit > 0)
			c.limit[k] = kinds[k].limit;
		work[k].calls = kinds[k].selected ? (int64_t)kinds[k].calls : 0;
	}
	struct im_plan p;
	im_plan_schedule(&p, &c, work);
	return p.total;
}

void im_progress_summary(FILE *out, const struct im_progress_kind *kinds, double wall, bool json)
{
	double floor_total = im_progress_total_floor(kinds);
	int64_t st = 0, la = 0, de = 0;
	uint64_t re = 0, ca = 0, th = 0;
	if (!json)
		fprintf(out, "%-13s %9s %9s %7s %8s %9s %9s %9s %9s\n", "kind", "staged", "landed", "dead", "retries",
			"calls", "wall", "floor", "throttled");
	for (int k = 0; k < IM_KIND_COUNT; k++) {
		const struct im_progress_kind *x = &kinds[k];
		if (!x->selected || x->staged <= 0)
			continue;
		double w = x->started > 0 ? (x->ended > 0 ? x->ended : x->started) - x->started : 0;
		if (x->started > 0 && x->ended <= 0)
			w = -1;
		st += x->staged;
		la += x->landed;
		de += x->dead;
		re += x->retries;
		ca += x->calls;
		th += x->throttled;
		if (json) {
			fprintf(out,
				"{\"event\":\"summary\",\"kind\":\"%s\",\"staged\":%lld,\"landed\":%lld,\"dead\":%lld,"
				"\"retries\":%llu,\"calls\":%llu,\"wall_s\":%.3f,\"floor_s\":%.3f,\"throttled\":%llu}\n",
				x->name, (long long)x->staged, (long long)x->landed, (long long)x->dead,
				(unsigned long long)x->retries, (unsigned long long)x->calls, w, im_progress_floor(x),
				(unsigned long long)x->throttled);
			continue;
		}
		char ws[32], fs[32];
		fmt_duration(ws, sizeof ws, w);
		fmt_duration(fs, sizeof fs, im_progress_floor(x));
		fprintf(out, "%-13s %9lld %9lld %7lld %8llu %9llu %9s %9s %9llu\n", x->name, (long long)x->staged,
			(long long)x->landed, (long long)x->dead, (unsigned long long)x->retries,
			(unsigned long long)x->calls, ws, fs, (unsigned long long)x->throttled);
	}
	if (json) {
		fprintf(out,
			"{\"event\":\"summary\",\"kind\":\"total\",\"staged\":%lld,\"landed\":%lld,\"dead\":%lld,"
			"\"retries\":%llu,\"calls\":%llu,\"wall_s\":%.3f,\"floor_s\":%.3f,\"throttled\":%llu}\n",
			(long long)st, (long long)la, (long long)de, (unsigned long long)re, (unsigned long long)ca, wall,
			floor_total, (unsigned long long)th);
	} else {
		char ws[32], fs[32];
		fmt_duration(ws, sizeof ws, wall);
		fmt_duration(fs, sizeof fs, floor_total);
		fprintf(out, "%-13s %9lld %9lld %7lld %8llu %9llu %9s %9s %9llu\n", "total", (long long)st, (long long)la,
			(long long)de, (unsigned long long)re, (unsigned long long)ca, ws, fs, (unsigned long long)th);
		if (floor_total > 0 && wall > 0)
			fprintf(out, "wall time / rate-limit floor: %.2f\n", wall / floor_total);
	}
	fflush(out);
}
