/* The documents of a Sendbird export: where they are and how to read one as bytes.
 *
 * An export arrives as a zip (as Sendbird delivers it), as the directory it was
 * unpacked into, or as single JSON files; a migration over a long history gives
 * several of them (one per 31-day message window). Every document is read through
 * libarchive, so zip members, plain files and gzip-compressed files all stream the
 * same way and nothing is ever loaded whole. */
#ifndef SENDBIRD_EXPORT_INPUT_H
#define SENDBIRD_EXPORT_INPUT_H

#include <stddef.h>
#include <sys/types.h>

/* One JSON document. */
struct sb_doc {
	char *container; /* the file on disk */
	char *member;    /* the zip member's path, or NULL for a plain file */
	char *name;      /* for humans and checkpoints: "path" or "path!member" */
	int streamable;  /* read the zip front to back (its central directory is missing) */
};

struct sb_doc_list {
	struct sb_doc *v;
	size_t n, cap;
};

/* Appends the documents found at path: a directory (searched recursively, entries
 * in byte order; *.json, *.json.gz and *.zip files), a zip (its *.json members in
 * archive order) or a plain file. A zip without its central directory (a cut
 * download) is read front to back instead, up to where it ends; the member that
 * was cut then fails when read. Returns 0, or -1 with err filled (missing path,
 * unreadable zip, out of memory). Skipped entries are counted in *skipped when
 * skipped is not NULL; warnings go to warn(ctx, message) when warn is not NULL. */
int sb_docs_add_path(struct sb_doc_list *list, const char *path, size_t *skipped,
		     void (*warn)(void *ctx, const char *message), void *warn_ctx, char *err, size_t err_size);

/* Releases every document and the list's storage; the list can be reused. */
void sb_docs_free(struct sb_doc_list *list);

struct sb_doc_stream;

/* Opens a document for reading. Returns a stream the caller closes with
 * sb_doc_close(), or NULL with err filled. */
struct sb_doc_stream *sb_doc_open(const struct sb_doc *doc, char *err, size_t err_size);

/* A jas_read_fn: ctx is a struct sb_doc_stream. Returns bytes read, 0 at the end,
 * -1 on error (the reason is in sb_doc_error()). */
ssize_t sb_doc_read(void *ctx, void *buf, size_t len);

/* The last read error, or "" when none. Borrowed. */
const char *sb_doc_error(const struct sb_doc_stream *stream);

/* Safe with NULL. */
void sb_doc_close(struct sb_doc_stream *stream);

#endif
