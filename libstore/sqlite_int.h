/* sqlite_int.h - what the SQLite backend's two files (sqlite.c,
 * sqlite_files.c) share; private to libstore. */
#ifndef RK_STORE_SQLITE_INT_H
#define RK_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stdint.h>

/* One integer from sql (its ?1 bound to arg), or dflt if the query fails
 * or returns no row or NULL. Can't fail otherwise. */
int64_t sq_one_int(sqlite3 *db, const char *sql, int64_t arg, int64_t dflt);

#endif
