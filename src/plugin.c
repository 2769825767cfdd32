#include "config.h"

#include "plugin.h"

#include <dirent.h>
#include <errno.h>
#include <ltdl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef IMMIGRATE_PLUGIN_DIR
#error "IMMIGRATE_PLUGIN_DIR must be defined (AM_CPPFLAGS)"
#endif

/* libtool's module extension; config.h does not carry LT_MODULE_EXT here. */
#ifdef LT_MODULE_EXT
#define MODULE_EXT LT_MODULE_EXT
#else
#define MODULE_EXT ".so"
#endif

/* How far to look for other ABI versions when the v1 symbol is missing, so the
 * refusal can say what the plugin was built for. */
#define MAX_ABI_PROBE 16

struct im_plugin {
	lt_dlhandle handle;
	const struct im_source *src;
	char *path;
};

struct search_path {
	char **dirs;
	size_t n;
};

static void fail(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t err_size, const char *fmt, ...)
{
	if (!err || !err_size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

static char *path_join(const char *dir, const char *name, const char *ext)
{
	size_t n = strlen(dir) + 1 + strlen(name) + strlen(ext) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s%s", dir, name, ext);
	return p;
}

static int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void search_path_free(struct search_path *sp)
{
	for (size_t i = 0; i < sp->n; i++)
		free(sp->dirs[i]);
	free(sp->dirs);
	sp->dirs = NULL;
	sp->n = 0;
}

static int search_path_add(struct search_path *sp, const char *dir, size_t len)
{
	if (len == 0)
		return 0;
	char **grown = realloc(sp->dirs, (sp->n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	sp->dirs = grown;
	sp->dirs[sp->n] = strndup(dir, len);
	if (!sp->dirs[sp->n])
		return -1;
	sp->n++;
	return 0;
}

/* --plugin-dir, then $IMMIGRATE_PLUGIN_PATH, then the install directory. */
static int search_path_build(struct search_path *sp, const char *plugin_dir)
{
	sp->dirs = NULL;
	sp->n = 0;
	if (plugin_dir && search_path_add(sp, plugin_dir, strlen(plugin_dir)) < 0)
		goto oom;
	const char *env = getenv("IMMIGRATE_PLUGIN_PATH");
	while (env && *env) {
		const char *colon = strchr(env, ':');
		size_t len = colon ? (size_t)(colon - env) : strlen(env);
		if (search_path_add(sp, env, len) < 0)
			goto oom;
		env = colon ? colon + 1 : NULL;
	}
	if (search_path_add(sp, IMMIGRATE_PLUGIN_DIR, strlen(IMMIGRATE_PLUGIN_DIR)) < 0)
		goto oom;
	return 0;
oom:
	search_path_free(sp);
	return -1;
}

/* The module name a path designates: basename without .la/.so. */
static char *module_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t len = strlen(base);
	size_t ext_len = strlen(MODULE_EXT);
	if (len > 3 && strcmp(base + len - 3, ".la") == 0)
		len -= 3;
	else if (len > ext_len && strcmp(base + len - ext_len, MODULE_EXT) == 0)
		len -= ext_len;
	return strndup(base, len);
}

/* Says which ABI a module without the v1 symbol was built for, if any. */
static int probe_other_abi(lt_dlhandle h)
{
	char sym[64];
	for (int v = 0; v <= MAX_ABI_PROBE; v++) {
		if (v == IMMIGRATE_SOURCE_ABI)
			continue;
		snprintf(sym, sizeof sym, "immigrate_source_v%d", v);
		if (lt_dlsym(h, sym))
			return v;
	}
	return -1;
}

/* The capability bit that must be set exactly when the optional call exists. */
static const char *check_capabilities(const struct im_source *s)
{
	if (!!(s->capabilities & IM_SOURCE_CAP_ESTIMATE) != (s->estimate != NULL))
		return s->estimate ? "has estimate() but does not declare the estimate capability"
				   : "declares the estimate capability but has no estimate()";
	if (!!(s->capabilities & IM_SOURCE_CAP_WEBHOOK) != (s->webhook != NULL))
		return s->webhook ? "has webhook() but does not declare the webhook capability"
				  : "declares the webhook capability but has no webhook()";
	if (!!(s->capabilities & IM_SOURCE_CAP_DELIVER) != (s->deliver != NULL))
		return s->deliver ? "has deliver() but does not declare the deliver capability"
				  : "declares the deliver capability but has no deliver()";
	if (!(s->capabilities & (IM_SOURCE_CAP_READ | IM_SOURCE_CAP_WEBHOOK | IM_SOURCE_CAP_DELIVER)))
		return "declares none of the read, webhook or deliver capabilities";
	return NULL;
}

/* Checks a descriptor against ABI 1; returns the reason it is refused, or NULL. */
static const char *check_descriptor(const struct im_source *s, const char *expected_name, char *buf,
				    size_t buf_size)
{
	if (s->size < offsetof(struct im_source, abi) + sizeof s->abi) {
		snprintf(buf, buf_size, "descriptor too small: %u bytes, the ABI 1 layout has %zu",
			 (unsigned)s->size, (size_t)IM_SOURCE_SIZE_V1);
		return buf;
	}
	if (s->abi != IMMIGRATE_SOURCE_ABI) {
		snprintf(buf, buf_size, "ABI mismatch: descriptor says ABI %u, this immigrate loads ABI %d",
			 (unsigned)s->abi, IMMIGRATE_SOURCE_ABI);
		return buf;
	}
	if (s->size < IM_SOURCE_SIZE_V1) {
		snprintf(buf, buf_size, "descriptor too small: %u bytes, the ABI 1 layout has %zu",
			 (unsigned)s->size, (size_t)IM_SOURCE_SIZE_V1);
		return buf;
	}
	const char *missing = !s->open ? "open" : !s->next ? "next" : !s->checkpoint ? "checkpoint"
			      : !s->close ? "close" : NULL;
	if (missing) {
		snprintf(buf, buf_size, "missing mandatory call %s()", missing);
		return buf;
	}
	if (!s->name || !*s->name)
		return "descriptor has no name";
	if (!s->version || !*s->version)
		return "descriptor has no version";
	if (!s->streams || !s->streams[0])
		return "descriptor lists no streams";
	if (expected_name && strcmp(s->name, expected_name) != 0) {
		snprintf(buf, buf_size, "descriptor names the plugin '%.64s' but its file is '%.64s'", s->name,
			 expected_name);
		return buf;
	}
	return check_capabilities(s);
}

/* Opens base (a path without extension) and checks it. On failure err names
 * display (the file) and the reason. */
static struct im_plugin *load_module(const char *base, const char *display, char *err, size_t err_size)
{
	if (lt_dlinit() != 0) {
		fail(err, err_size, "%s: cannot initialise libltdl: %s", display, lt_dlerror());
		return NULL;
	}
	struct im_plugin *p = calloc(1, sizeof *p);
	char *name = module_name(base);
	lt_dladvise advise = NULL;
	if (!p || !name) {
		fail(err, err_size, "%s: out of memory", display);
		goto fail;
	}
	if (lt_dladvise_init(&advise) || lt_dladvise_ext(&advise) || lt_dladvise_local(&advise)) {
		fail(err, err_size, "%s: libltdl: %s", display, lt_dlerror());
		goto fail;
	}
	p->handle = lt_dlopenadvise(base, advise);
	if (!p->handle) {
		const char *why = lt_dlerror();
		fail(err, err_size, "%s: cannot load: %s", display, why ? why : "unknown error");
		goto fail;
	}
	im_source_entry_fn entry = (im_source_entry_fn)(void (*)(void))lt_dlsym(p->handle,
										  IMMIGRATE_SOURCE_ENTRY_NAME);
	if (!entry) {
		int other = probe_other_abi(p->handle);
		if (other >= 0)
			fail(err, err_size,
			     "%s: ABI mismatch: built for plugin ABI %d (exports immigrate_source_v%d), "
			     "this immigrate loads ABI %d (%s)",
			     display, other, other, IMMIGRATE_SOURCE_ABI, IMMIGRATE_SOURCE_ENTRY_NAME);
		else
			fail(err, err_size, "%s: missing entry symbol %s: not an immigrate source plugin",
			     display, IMMIGRATE_SOURCE_ENTRY_NAME);
		goto fail;
	}
	p->src = entry();
	if (!p->src) {
		fail(err, err_size, "%s: %s() returned no descriptor", display, IMMIGRATE_SOURCE_ENTRY_NAME);
		goto fail;
	}
	char why_buf[256];
	const char *why = check_descriptor(p->src, name, why_buf, sizeof why_buf);
	if (why) {
		fail(err, err_size, "%s: %s", display, why);
		goto fail;
	}
	const lt_dlinfo *info = lt_dlgetinfo(p->handle);
	p->path = strdup(info && info->filename ? info->filename : display);
	if (!p->path) {
		fail(err, err_size, "%s: out of memory", display);
		goto fail;
	}
	lt_dladvise_destroy(&advise);
	free(name);
	return p;
fail:
	if (advise)
		lt_dladvise_destroy(&advise);
	free(name);
	im_plugin_unload(p);
	if (!p)
		lt_dlexit();
	return NULL;
}

/* The file to name for module base: NAME.so, else NAME.la, else NULL. */
static char *candidate_file(const char *dir, const char *name)
{
	char *so = path_join(dir, name, MODULE_EXT);
	if (so && is_file(so))
		return so;
	free(so);
	char *la = path_join(dir, name, ".la");
	if (la && is_file(la))
		return la;
	free(la);
	return NULL;
}

static struct im_plugin *load_path(const char *path, char *err, size_t err_size)
{
	char *base = strdup(path);
	if (!base) {
		fail(err, err_size, "%s: out of memory", path);
		return NULL;
	}
	size_t len = strlen(base);
	size_t ext_len = strlen(MODULE_EXT);
	if (len > 3 && strcmp(base + len - 3, ".la") == 0)
		base[len - 3] = '\0';
	else if (len > ext_len && strcmp(base + len - ext_len, MODULE_EXT) == 0)
		base[len - ext_len] = '\0';
	struct im_plugin *p = NULL;
	char *dir = strdup(base), *slash = dir ? strrchr(dir, '/') : NULL;
	char *file = NULL;
	if (slash) {
		*slash = '\0';
		file = candidate_file(*dir ? dir : "/", slash + 1);
	}
	if (!file)
		fail(err, err_size, "%s: no such plugin file (looked for %s%s and %s.la)", path, base, MODULE_EXT,
		     base);
	else
		p = load_module(base, file, err, err_size);
	free(file);
	free(dir);
	free(base);
	return p;
}

struct im_plugin *im_plugin_load(const char *name, const char *plugin_dir, char *err, size_t err_size)
{
	if (err && err_size)
		err[0] = '\0';
	if (!name || !*name) {
		fail(err, err_size, "no plugin name given");
		return NULL;
	}
	if (strchr(name, '/'))
		return load_path(name, err, err_size);
	struct search_path sp;
	if (search_path_build(&sp, plugin_dir) < 0) {
		fail(err, err_size, "out of memory");
		return NULL;
	}
	struct im_plugin *p = NULL;
	int found = 0;
	for (size_t i = 0; i < sp.n && !found; i++) {
		char *file = candidate_file(sp.dirs[i], name);
		if (!file)
			continue;
		found = 1;
		char *base = path_join(sp.dirs[i], name, "");
		if (base)
			p = load_module(base, file, err, err_size);
		else
			fail(err, err_size, "out of memory");
		free(base);
		free(file);
	}
	if (!found) {
		/* Name every directory searched: the usual mistake is a wrong path. */
		size_t used = 0;
		if (err && err_size) {
			used = (size_t)snprintf(err, err_size, "plugin '%s' not found (searched:", name);
			for (size_t i = 0; i < sp.n && used < err_size; i++)
				used += (size_t)snprintf(err + used, err_size - used, " %s", sp.dirs[i]);
			if (used < err_size)
				snprintf(err + used, err_size - used, ")");
		}
	}
	search_path_free(&sp);
	return p;
}

const struct im_source *im_plugin_source(const struct im_plugin *p) { return p ? p->src : NULL; }

const char *im_plugin_path(const struct im_plugin *p) { return p ? p->path : NULL; }

void im_plugin_unload(struct im_plugin *p)
{
	if (!p)
		return;
	if (p->handle)
		lt_dlclose(p->handle);
	free(p->path);
	free(p);
	lt_dlexit();
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Module names in dir (sorted): *.so, and *.la that have no .so beside them. */
static char **list_modules(const char *dir, size_t *count)
{
	*count = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || (!has_suffix(e->d_name, MODULE_EXT) && !has_suffix(e->d_name, ".la")))
			continue;
		char *name = module_name(e->d_name);
		if (!name)
			continue;
		int dup = 0;
		for (size_t i = 0; i < n && !dup; i++)
			dup = strcmp(names[i], name) == 0;
		if (dup) {
			free(name);
			continue;
		}
		if (n == cap) {
			char **grown = realloc(names, (cap ? cap * 2 : 16) * sizeof *names);
			if (!grown) {
				free(name);
				break;
			}
			names = grown;
			cap = cap ? cap * 2 : 16;
		}
		names[n++] = name;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_str);
	*count = n;
	return names;
}

int im_plugin_foreach(const char *plugin_dir,
		      void (*cb)(const char *path, const struct im_source *src, const char *error, void *ud),
		      void *ud)
{
	struct search_path sp;
	if (search_path_build(&sp, plugin_dir) < 0)
		return -1;
	char **seen = NULL;
	size_t nseen = 0;
	int visited = 0, oom = 0;
	for (size_t i = 0; i < sp.n && !oom; i++) {
		size_t n;
		char **names = list_modules(sp.dirs[i], &n);
		for (size_t j = 0; j < n; j++) {
			int dup = 0;
			for (size_t k = 0; k < nseen && !dup; k++)
				dup = strcmp(seen[k], names[j]) == 0;
			char *file = dup || oom ? NULL : candidate_file(sp.dirs[i], names[j]);
			char *base = file ? path_join(sp.dirs[i], names[j], "") : NULL;
			char **grown = base ? realloc(seen, (nseen + 1) * sizeof *seen) : NULL;
			if (!grown) {
				oom |= file != NULL;
				free(base);
				free(file);
				free(names[j]);
				continue;
			}
			seen = grown;
			seen[nseen++] = names[j];
			char error[512];
			struct im_plugin *p = load_module(base, file, error, sizeof error);
			cb(p ? p->path : file, p ? p->src : NULL, p ? NULL : error, ud);
			visited++;
			im_plugin_unload(p);
			free(base);
			free(file);
		}
		free(names);
	}
	for (size_t k = 0; k < nseen; k++)
		free(seen[k]);
	free(seen);
	search_path_free(&sp);
	return oom ? -1 : visited;
}

int64_t im_plugin_estimate(const struct im_source *src, void *state)
{
	if (!(src->capabilities & IM_SOURCE_CAP_ESTIMATE) || !src->estimate)
		return -1;
	json_t *counts = NULL;
	char why[256] = "";
	if (src->estimate(state, &counts, why, sizeof why) != IM_SOURCE_OK || !json_is_object(counts)) {
		json_decref(counts);
		return -1;
	}
	int64_t total = 0;
	const char *key;
	json_t *v;
	json_object_foreach(counts, key, v)
		if (json_is_number(v) && json_number_value(v) > 0)
			total += (int64_t)json_number_value(v);
	json_decref(counts);
	return total;
}
