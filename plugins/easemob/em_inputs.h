/* The files behind the `history` and `callbacks` options.
 *
 * An option names a file or a directory (or an array of them). A directory
 * contributes its regular, non-hidden files in byte order of their names (hourly
 * history files are named by hour, so this is time order); subdirectories are
 * not entered. */
#ifndef EM_INPUTS_H
#define EM_INPUTS_H

#include <stddef.h>

enum em_input_kind { EM_INPUT_HISTORY = 0, EM_INPUT_CALLBACKS = 1 };

struct em_input {
	char *path;
	enum em_input_kind kind;
};

struct em_input_list {
	struct em_input *v;
	size_t n, cap;
};

/* Appends the files at path. Returns 0, or -1 with err filled (naming path). */
int em_inputs_add(struct em_input_list *list, const char *path, enum em_input_kind kind, char *err,
		  size_t err_size);

/* Releases the list's contents; the list can be reused. */
void em_inputs_free(struct em_input_list *list);

#endif
