/* Finding, loading and checking source plugins (libltdl).
 *
 * A plugin named NAME is the module NAME.la or NAME.so in the first directory of
 * the search path that has one:
 *   1. the --plugin-dir argument (plugin_dir below), when not NULL;
 *   2. each directory of $IMMIGRATE_PLUGIN_PATH (colon-separated), in order;
 *   3. IMMIGRATE_PLUGIN_DIR, the install directory fixed at build time.
 * Modules are opened with local symbol scope, so two plugins never see each
 * other's symbols. A module is refused, with a message naming its file and the
 * reason, when it does not open, lacks the immigrate_source_v1 symbol (the
 * message says which ABI it was built for when it exports another version),
 * reports another ABI, has a descriptor smaller than the ABI 1 layout, lacks a
 * mandatory call (open/next/checkpoint/close), name, version or streams, or
 * declares capabilities that do not match its optional calls. */
#ifndef IMMIGRATE_PLUGIN_H
#define IMMIGRATE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <immigrate/source.h>

struct im_plugin;

/* Loads plugin `name` (a bare name; a name containing '/' is taken as a module
 * path without extension or with .la/.so). plugin_dir may be NULL. Returns a
 * handle the caller releases with im_plugin_unload(), or NULL with a one-line
 * reason in err naming the file (or the directories searched when none was
 * found). */
struct im_plugin *im_plugin_load(const char *name, const char *plugin_dir, char *err, size_t err_size);

/* The plugin's descriptor, valid until im_plugin_unload(). */
const struct im_source *im_plugin_source(const struct im_plugin *p);

/* The file the plugin was loaded from, valid until im_plugin_unload(). */
const char *im_plugin_path(const struct im_plugin *p);

/* Closes the module. NULL is fine. Every state opened through the plugin must be
 * closed first. */
void im_plugin_unload(struct im_plugin *p);

/* Calls cb once per candidate module (*.so, plus *.la without a .so beside it)
 * in the search path, in search order, skipping names already seen earlier in
 * the path (as im_plugin_load would). For a module that loads, src is its
 * descriptor and error NULL; for a refused one src is NULL and error the
 * reason. Both are valid only during the call: the module is unloaded after.
 * Returns the number of candidates visited, or -1 when out of memory. */
int im_plugin_foreach(const char *plugin_dir,
		      void (*cb)(const char *path, const struct im_source *src, const char *error, void *ud),
		      void *ud);

/* The plugin's estimate() summed over its streams: the native records the
 * source holds in all, as far as the plugin can tell; -1 when it offers no
 * estimate or the call fails. state is the plugin's open state. */
int64_t im_plugin_estimate(const struct im_source *src, void *state);

#endif
