/* What a running extract tells a progress display (extract.c fills it,
 * progress.c draws it), apart from extract.h so that the display needs
 * neither Lua nor SQLite. */
#ifndef IMMIGRATE_EXTRACT_PROGRESS_H
#define IMMIGRATE_EXTRACT_PROGRESS_H

#include <stdint.h>

/* Where a running extract stands, for a progress display. */
struct im_extract_progress {
	uint64_t done;   /* native records read, earlier runs' of this source (replayed) included */
	uint64_t before; /* of which earlier runs' (not part of this run's rate) */
	int64_t total;   /* the plugin's estimate for the whole source; -1: it gives none */
	uint64_t staged; /* IM records this run staged (a copy sorted out at the end included) */
	uint64_t dead;   /* dead letters of this run */
	double started;  /* monotonic seconds when this run began to read */
	int indexing;    /* with final: the source is read, the stage's indexes are built next */
};

/* A progress display: fn hears where the extract stands every 256 native
 * records, and once more with final set when it stops reading (at the end of
 * the source, on a stop or an error). x is borrowed for the call. */
struct im_extract_watch {
	void (*fn)(void *arg, const struct im_extract_progress *x, int final);
	void *arg;
};

/* Monotonic seconds (CLOCK_MONOTONIC), the clock of im_extract_progress. */
double im_extract_clock(void);

#endif
