/* New -> old mapping: the script's reverse function.
 *
 * Contract extension (documented in doc and the report): besides map(rec, ctx), a
 * mapping script used by `immigrate sync` may define
 *     function reverse(event, ctx) ... end
 * called once per Tencent IM callback to be sent to the old system. `event` is the
 * callback body as a Lua table (CallbackCommand, From_Account, GroupId, MsgBody,
 * ...); ctx is {stream = CallbackCommand, source_id = the outbox event id,
 * origin = "callback:<outbox id>"}. It returns nil (nothing to send), one event or
 * an array of events for the old system, or emits them with immigrate.emit; each
 * event is a table with `kind` (the operation, e.g. "message", "group_create")
 * plus the fields the source plugin's deliver() documents. `return nil, "reason"`
 * or error() dead-letters the callback. Every helper of the `immigrate` module is
 * available (userid()/groupid() record their id maps in the stage as in map()).
 *
 * How: script.h runs map() only, so the script is loaded a second time with a
 * trailer that makes map() call reverse(): the source text is copied to a private
 * temporary file of the same base name (so line numbers and the file name in
 * errors stay the script's own), the trailer appended, and the copy removed as
 * soon as it is loaded. A script whose last statement is a top-level `return`
 * cannot take the trailer; such scripts are refused with that reason. */
#ifndef IMMIGRATE_SYNC_REVERSE_H
#define IMMIGRATE_SYNC_REVERSE_H

#include <stddef.h>

#include "script.h"

/* Opens path's reverse() as a script whose im_script_map() calls reverse (cfg->path
 * is ignored in favour of path). Returns 0 with *out (close with
 * im_script_close), 1 when the script defines no reverse function (err says so),
 * -1 on other errors (err names the file and line). */
int im_sync_reverse_open(const char *path, const struct im_script_config *cfg, struct im_script **out,
			 char *err, size_t err_size);

#endif
