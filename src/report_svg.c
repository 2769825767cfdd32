/* The report's charts as inline SVG (no script, no external asset). */
#include "config.h"

#include <math.h>
#include <stdio.h>

#include "report_priv.h"

const char *const im_report_palette[IM_KIND_COUNT] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
						   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

void im_report_chart(FILE *out, const struct im_report_actual *a, const struct im_plan *p)
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
			L, L + pw, y, y, L - 5, y + 4, im_report_num((int64_t)llround(ymax * i / 4)));
		double x = L + pw * i / 4;
		fprintf(out, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", x, H - 12,
			im_report_dur(xmax * i / 4));
	}
	/* One line per kind that landed anything, and the total. */
	for (int k = -1; k < IM_KIND_COUNT; k++) {
		double sum = 0;
		for (int b = 0; b < a->nbuckets; b++)
			sum += k < 0 ? 0 : a->rate[b][k];
		if (k >= 0 && sum <= 0)
			continue;
		fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" data-kind=\"%s\" points=\"",
			k < 0 ? "#1d2330" : im_report_palette[k], k < 0 ? "2" : "1.3", k < 0 ? "total" : im_kind_info(k)->name);
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
			fprintf(out, "<span><i style=\"background:%s\"></i>%s</span>", im_report_palette[k], im_kind_info(k)->name);
	fputs("</p>\n", out);
}

/* The plan against the actual time, per kind: planned span (light) and the span
 * the kind actually landed in (solid, from the samples); the whole load's actual
 * time as a line when there are no samples. */
void im_report_gantt(FILE *out, const struct im_plan *p, const struct im_report_actual *a, double actual)
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
			x, x, T, H - B, x, H - 12, im_report_dur(xmax * i / 4));
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
			im_kind_info(k)->name, x0, y + 3, fmax(x1 - x0, 1.5), im_report_palette[k],
			p->slot[k].critical ? " stroke=\"#d97706\"" : "");
		if (a->kind_seen[k]) {
			double a0 = L + pw * a->kind_start[k] / xmax, a1 = L + pw * a->kind_end[k] / xmax;
			fprintf(out, "<rect class=\"actual\" data-kind=\"%s\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" "
				     "height=\"9\" fill=\"%s\"/>\n",
				im_kind_info(k)->name, a0, y + 13, fmax(a1 - a0, 1.5), im_report_palette[k]);
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
