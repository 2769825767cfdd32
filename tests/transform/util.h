/* Scratch files for the transform unit tests. */
#ifndef IMMIGRATE_TESTS_TRANSFORM_UTIL_H
#define IMMIGRATE_TESTS_TRANSFORM_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch_dir[256];

/* A private directory, removed (with its files) by scratch_cleanup(). */
static inline const char *scratch(void)
{
	if (!scratch_dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(scratch_dir, sizeof scratch_dir, "%s/im-transform.XXXXXX", tmp ? tmp : "/tmp");
		if (!mkdtemp(scratch_dir)) {
			perror("mkdtemp");
			exit(99);
		}
	}
	return scratch_dir;
}

/* Writes text to scratch()/name and returns the path (static buffer rotation of 8). */
static inline const char *scratch_file(const char *name, const char *text)
{
	static char paths[8][512];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 512, "%s/%s", scratch(), name);
	FILE *fp = fopen(p, "w");
	if (!fp || fputs(text, fp) < 0 || fclose(fp)) {
		perror(p);
		exit(99);
	}
	return p;
}

static inline void scratch_cleanup(void)
{
	if (scratch_dir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", scratch_dir);
	}
}

#endif
