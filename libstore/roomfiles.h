/*
 * roomfiles.h - the files that make up a room on disk, and their removal.
 *
 * A room is "<data>/rooms/<room>.db" with SQLite's "-wal" and "-shm" next
 * to it (PROTOCOL.md section 7). Removing one must never leave a "-wal"
 * behind under the room's name: a room created again under that name
 * would open it as its own WAL and replay a dead room's pages into a new
 * file. So the .db is first renamed to "<room>.db.deleting" (atomic: from
 * then on the room does not exist, and roomd's startup scan ignores the
 * name), then the "-wal" and "-shm" go, then the renamed file.
 * roomd's store_lock also drops a "-wal"/"-shm" found next to an empty
 * (just created) .db, and its startup scan finishes removals a crash
 * interrupted.
 *
 * Plain POSIX file calls, no SQLite, part of libstore (the owner of the
 * room files' layout): used by roomd (loader thread), roomctl delete and a
 * failed roomctl import, which all hold the room's lock (store_lock) while
 * calling it.
 */
#ifndef RK_ROOMFILES_H
#define RK_ROOMFILES_H

#include "rk_common.h"

#define RK_DELETING_SUFFIX ".deleting"

/*
 * Remove the room whose database is db (a path ending in ".db"), as above.
 * Missing files are not an error (a room never written has no -wal).
 * Returns 0, or -1 with the failing call, path and strerror in err; files
 * removed before the failure stay removed.
 */
int rk_room_files_remove(const char *db, char *err, size_t errlen);

/*
 * Finish the removal that left "<room>.db.deleting" (path given): remove
 * it and, unless "<room>.db" exists again, that name's -wal and -shm.
 * Returns 0 or -1 with the reason in err.
 */
int rk_room_files_finish(const char *deleting, char *err, size_t errlen);

#endif
