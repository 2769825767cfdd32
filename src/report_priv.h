/* Internals shared by the report's files: report.c (the page), report_samples.c
 * (progress samples: writing them, and what they say about the load) and
 * report_svg.c (the charts). Not for other modules. */
#ifndef IMMIGRATE_REPORT_PRIV_H
#define IMMIGRATE_REPORT_PRIV_H

#include <stdint.h>
#include <stdio.h>

#include "batch.h"
#include "plan.h"
#include "stage.h"

#define IM_REPORT_BUCKETS 240

/* What the progress samples say about the load. */
struct im_report_actual {
	int have_samples;
	double elapsed;			 /* load time: sum over runs of sampled spans */
	double kind_start[IM_KIND_COUNT]; /* elapsed seconds when the kind first landed a record */
	double kind_end[IM_KIND_COUNT];	  /* ... when it landed its last */
	int kind_seen[IM_KIND_COUNT];
	double rate[IM_REPORT_BUCKETS][IM_KIND_COUNT]; /* records per second per bucket */
	double bucket_width;
	int nbuckets;
	double peak; /* highest total rate of a bucket */
};

/* Reads progress_samples into *a (zeroed first; no samples: a->have_samples 0).
 * Returns 0, or -1 with err. */
int im_report_load_actual(struct im_stage *st, struct im_report_actual *a, char *err, size_t err_size);

/* The throughput chart (records per second over the load) and the plan-against-
 * actual chart, as inline SVG with a legend. */
void im_report_chart(FILE *out, const struct im_report_actual *a, const struct im_plan *p);
void im_report_gantt(FILE *out, const struct im_plan *p, const struct im_report_actual *a, double actual);

/* Formatting into rotating static buffers (eight of each), so several can be
 * used in one printf: "1,234,567", and im_plan_format_duration(). */
const char *im_report_num(int64_t v);
const char *im_report_dur(double seconds);

/* One colour per kind, shared by both charts. */
extern const char *const im_report_palette[IM_KIND_COUNT];

#endif
