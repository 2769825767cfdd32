/* Finding and reading the JSON documents of a Sendbird export (see export_input.h). */
#include "export_input.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct sb_doc_stream {
	struct archive *ar;
	char err[256];
};

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int push_doc(struct sb_doc_list *l, const char *container, const char *member)
{
	struct sb_doc *d;
	size_t need;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct sb_doc *nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = cap;
	}
	d = &l->v[l->n];
	memset(d, 0, sizeof(*d));
	d->container = strdup(container);
	d->member = member ? strdup(member) : NULL;
	need = strlen(container) + (member ? strlen(member) + 2 : 1);
	d->name = malloc(need);
	if (!d->container || (member && !d->member) || !d->name) {
		free(d->container);
		free(d->member);
		free(d->name);
		return -1;
	}
	if (member)
		snprintf(d->name, need, "%s!%s", container, member);
	else
		snprintf(d->name, need, "%s", container);
	l->n++;
	return 0;
}

void sb_docs_free(struct sb_doc_list *l)
{
	size_t i;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].container);
		free(l->v[i].member);
		free(l->v[i].name);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int is_zip(const char *path)
{
	unsigned char magic[4] = {0};
	FILE *f = fopen(path, "rb");
	size_t n;
	if (!f)
		return 0;
	n = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	return n == 4 && magic[0] == 'P' && magic[1] == 'K' && (magic[2] == 3 || magic[2] == 5);
}

/* Zip members that are not export documents: folders, macOS resource forks. */
static int wanted_member(const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (strncmp(name, "__MACOSX/", 9) == 0 || strncmp(base, "._", 2) == 0)
		return 0;
	return ends_with(name, ".json");
}

static const char *why(struct archive *a)
{
	const char *s = archive_error_string(a);
	return s ? s : "unreadable";
}

static void open_zip_reader(struct archive *a, int streamable)
{
	if (streamable)
		archive_read_support_format_zip_streamable(a);
	else
		archive_read_support_format_zip_seekable(a);
}

/* Lists the zip's members. 0: complete; 1: the archive ended early (streamable
 * mode: members found so far are kept); -1: unreadable or out of memory. */
static int list_zip(struct sb_doc_list *l, const char *path, int streamable, size_t *skipped, char *err,
		    size_t err_size)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	size_t first = l->n, seen_skipped = 0;
	int r, rc = 0;

	if (!a) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	open_zip_reader(a, streamable);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		snprintf(err, err_size, "%s: cannot open as a zip: %s", path, why(a));
		archive_read_free(a);
		return -1;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(e);
		if (name && archive_entry_filetype(e) == AE_IFREG && wanted_member(name)) {
			if (push_doc(l, path, name) < 0) {
				snprintf(err, err_size, "out of memory");
				rc = -1;
				break;
			}
			l->v[l->n - 1].streamable = streamable;
		} else if (archive_entry_filetype(e) == AE_IFREG) {
			seen_skipped++;
		}
		if (archive_read_data_skip(a) != ARCHIVE_OK) {
			r = ARCHIVE_FATAL;
			break;
		}
	}
	if (rc == 0 && r != ARCHIVE_EOF) {
		snprintf(err, err_size, "%s: damaged zip: %s", path, why(a));
		rc = streamable && l->n > first ? 1 : -1;
	}
	if (rc < 0) {
		while (l->n > first) { /* forget this zip's members */
			struct sb_doc *d = &l->v[--l->n];
			free(d->container);
			free(d->member);
			free(d->name);
		}
	} else if (skipped) {
		*skipped += seen_skipped;
	}
	archive_read_free(a);
	return rc;
}

static int add_zip(struct sb_doc_list *l, const char *path, size_t *skipped, void (*warn)(void *, const char *),
		   void *warn_ctx, char *err, size_t err_size)
{
	char first_err[512];
	int r = list_zip(l, path, 0, skipped, first_err, sizeof(first_err));
	if (r >= 0)
		return 0;
	/* No central directory (a cut download): walk the local headers instead. */
	r = list_zip(l, path, 1, skipped, err, err_size);
	if (r < 0) {
		snprintf(err, err_size, "%s", first_err);
		return -1;
	}
	if (warn) {
		char msg[700];
		snprintf(msg, sizeof(msg), "%s: the zip has no central directory (cut short?); reading its members front to "
					   "back%s",
			 path, r == 1 ? ", up to where it ends" : "");
		warn(warn_ctx, msg);
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct walk {
	struct sb_doc_list *l;
	size_t *skipped;
	void (*warn)(void *, const char *);
	void *warn_ctx;
};

static int add_any(const struct walk *w, const char *path, int top, char *err, size_t err_size);

static int add_dir(const struct walk *w, const char *path, char *err, size_t err_size)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;

	if (!d) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nv;
			cap = cap ? cap * 2 : 32;
			nv = realloc(names, cap * sizeof(*nv));
			if (!nv) {
				rc = -1;
				break;
			}
			names = nv;
		}
		if (!(names[n] = malloc(strlen(path) + strlen(de->d_name) + 2))) {
			rc = -1;
			break;
		}
		sprintf(names[n++], "%s/%s", path, de->d_name);
	}
	closedir(d);
	if (rc < 0)
		snprintf(err, err_size, "out of memory");
	else if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		if (rc == 0)
			rc = add_any(w, names[i], 0, err, err_size);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int add_any(const struct walk *w, const char *path, int top, char *err, size_t err_size)
{
	struct sb_doc_list *l = w->l;
	size_t *skipped = w->skipped;
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return add_dir(w, path, err, err_size);
	if (!S_ISREG(st.st_mode)) {
		if (skipped)
			(*skipped)++;
		return 0;
	}
	if (is_zip(path))
		return add_zip(l, path, skipped, w->warn, w->warn_ctx, err, err_size);
	/* Inside a directory only JSON files count; a file named on its own is taken as is. */
	if (!top && !ends_with(path, ".json") && !ends_with(path, ".json.gz")) {
		if (skipped)
			(*skipped)++;
		return 0;
	}
	if (push_doc(l, path, NULL) < 0) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	return 0;
}

int sb_docs_add_path(struct sb_doc_list *l, const char *path, size_t *skipped, void (*warn)(void *, const char *),
		     void *warn_ctx, char *err, size_t err_size)
{
	struct walk w = {l, skipped, warn, warn_ctx};
	return add_any(&w, path, 1, err, err_size);
}

struct sb_doc_stream *sb_doc_open(const struct sb_doc *doc, char *err, size_t err_size)
{
	struct sb_doc_stream *s = calloc(1, sizeof(*s));
	struct archive_entry *e;
	int r;

	if (!s || !(s->ar = archive_read_new())) {
		snprintf(err, err_size, "out of memory");
		free(s);
		return NULL;
	}
	if (doc->member) {
		open_zip_reader(s->ar, doc->streamable);
	} else {
		archive_read_support_filter_all(s->ar);
		archive_read_support_format_raw(s->ar);
	}
	if (archive_read_open_filename(s->ar, doc->container, 65536) != ARCHIVE_OK) {
		snprintf(err, err_size, "%s: %s", doc->container, why(s->ar));
		goto fail;
	}
	for (;;) {
		r = archive_read_next_header(s->ar, &e);
		if (r == ARCHIVE_EOF) {
			snprintf(err, err_size, "%s: no longer in the archive", doc->name);
			goto fail;
		}
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			snprintf(err, err_size, "%s: %s", doc->name, why(s->ar));
			goto fail;
		}
		if (!doc->member || (archive_entry_pathname(e) && strcmp(archive_entry_pathname(e), doc->member) == 0))
			break;
		archive_read_data_skip(s->ar);
	}
	return s;
fail:
	archive_read_free(s->ar);
	free(s);
	return NULL;
}

ssize_t sb_doc_read(void *ctx, void *buf, size_t len)
{
	struct sb_doc_stream *s = ctx;
	la_ssize_t n = archive_read_data(s->ar, buf, len);
	if (n < 0) {
		snprintf(s->err, sizeof(s->err), "%s", why(s->ar));
		return -1;
	}
	return (ssize_t)n;
}

const char *sb_doc_error(const struct sb_doc_stream *s)
{
	return s->err;
}

void sb_doc_close(struct sb_doc_stream *s)
{
	if (!s)
		return;
	archive_read_free(s->ar);
	free(s);
}
