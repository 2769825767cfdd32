/* Expanding input paths into files (see em_inputs.h). */
#include "em_inputs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int push(struct em_input_list *list, char *path, enum em_input_kind kind)
{
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 8;
		struct em_input *v = realloc(list->v, cap * sizeof(*v));
		if (!v)
			return -1;
		list->v = v;
		list->cap = cap;
	}
	list->v[list->n].path = path;
	list->v[list->n].kind = kind;
	list->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_dir(struct em_input_list *list, const char *dir, enum em_input_kind kind, char *err,
		   size_t err_size)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, err_size, "%s: %s", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		char *full = malloc(len);
		if (!full) {
			rc = -1;
			break;
		}
		snprintf(full, len, "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **v = realloc(names, cap * sizeof(*v));
			if (!v) {
				free(full);
				rc = -1;
				break;
			}
			names = v;
		}
		names[n++] = full;
	}
	closedir(d);
	if (rc == 0 && n > 0)
		qsort(names, n, sizeof(*names), by_name);
	size_t i = 0;
	for (; rc == 0 && i < n; i++)
		if (push(list, names[i], kind) < 0)
			rc = -1;
	for (; i < n; i++)
		free(names[i]);
	free(names);
	if (rc < 0)
		snprintf(err, err_size, "%s: out of memory", dir);
	return rc;
}

int em_inputs_add(struct em_input_list *list, const char *path, enum em_input_kind kind, char *err,
		  size_t err_size)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return add_dir(list, path, kind, err, err_size);
	char *copy = strdup(path);
	if (!copy || push(list, copy, kind) < 0) {
		free(copy);
		snprintf(err, err_size, "%s: out of memory", path);
		return -1;
	}
	return 0;
}

void em_inputs_free(struct em_input_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->v[i].path);
	free(list->v);
	list->v = NULL;
	list->n = list->cap = 0;
}
