/* The emulated service's data in SQLite (in memory, or a file that survives restarts),
 * and small helpers that keep the SQL in the handlers short. Callers hold sim->lock. */
#ifndef IMSIM_STATE_H
#define IMSIM_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdint.h>

/* Opens path (NULL = in memory) and creates the schema when missing. Returns 0 and the
 * handle in *db, or -1 with a message in err (closing what was opened). */
int state_open(const char *path, sqlite3 **db, char *err, size_t err_size);

/* Prepares sql and binds the variadic arguments per fmt, one char each:
 * 's' const char * (NULL binds NULL), 'i' int, 'I' int64_t, 'j' json_t * (stored as
 * compact JSON text; NULL binds NULL). Returns the statement (caller finalizes) or NULL
 * after logging the SQLite error. */
sqlite3_stmt *db_query(sqlite3 *db, const char *sql, const char *fmt, ...);

/* Runs a statement that returns no rows. Returns 0, or -1 after logging. */
int db_exec(sqlite3 *db, const char *sql, const char *fmt, ...);

/* The first column of the first row as an integer, or dflt when there is no row
 * (or on error, after logging). */
int64_t db_int(sqlite3 *db, int64_t dflt, const char *sql, const char *fmt, ...);

/* Column i of a row: text parsed as JSON (a new reference, json null for SQL NULL or
 * bad text), or text (valid until the next step; "" for NULL). */
json_t *db_col_json(sqlite3_stmt *st, int i);
const char *db_col_text(sqlite3_stmt *st, int i);

/* The whole database as {"table": [{column: value}...]...}, produced a page of rows
 * at a time so a large state is never held in memory at once. Rows written while a
 * dump runs may or may not appear in it (it is not a snapshot). */
struct state_dump;

/* A new dump cursor, or NULL when out of memory. Free with state_dump_close. */
struct state_dump *state_dump_open(void);
void state_dump_close(struct state_dump *d);

/* The next piece of the dump's text in *text (malloc'd, caller frees; may be empty)
 * and its length in *len. Returns 0 when more follows, 1 when the dump is complete
 * (nothing stored), -1 on a database or memory error. Caller holds sim->lock for the
 * call only. */
int state_dump_next(sqlite3 *db, struct state_dump *d, char **text, size_t *len);

#endif
