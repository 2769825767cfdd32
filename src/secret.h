/* Loading secrets (the app's UserSig key, webhook tokens) from files or the
 * environment, never from argv. */
#ifndef IMMIGRATE_SECRET_H
#define IMMIGRATE_SECRET_H

#include <stddef.h>

/* Reads a secret from path, dropping one trailing newline (and CR).
 * Warns (naming the file, not the content) when the file is readable by group or
 * others, as ssh does for private keys. On success returns 0 and stores a malloc'd
 * NUL-terminated copy in *out and its length in *len; the caller wipes it with
 * im_secret_free(). Returns -1 with a message in err (never containing the secret)
 * when the file cannot be read or is empty. */
int im_secret_load_file(const char *path, char **out, size_t *len, char *err, size_t err_size);

/* Like im_secret_load_file, from environment variable name. Returns 1 when the
 * variable is unset or empty (nothing stored), 0 on success, -1 on allocation failure. */
int im_secret_load_env(const char *name, char **out, size_t *len);

/* Overwrites and frees a secret from the functions above. NULL is fine. */
void im_secret_free(char *secret, size_t len);

#endif
