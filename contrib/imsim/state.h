/* The emulated service's data in SQLite (in memory, or a file that survives restarts),
 * and small helpers that keep the SQL in the handlers short. Callers hold sim->lock. */
#ifndef IMSIM_STATE_H
#define IMSIM_STATE_H

#include <jansson.h>
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

/* The whole database as {"table": [{column: value}...]...} (a new reference). */
json_t *state_dump(sqlite3 *db);

#endif
