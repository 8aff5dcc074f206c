/* roomfiles.c - a room's files and their removal (see roomfiles.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "roomfiles.h"

#define PATH_CAP 4200

static int unlink_quiet(const char *path, char *err, size_t errlen)
{
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
	return -1;
}

/* The -wal and -shm of the database named db. */
static int unlink_sidecars(const char *db, char *err, size_t errlen)
{
	char p[PATH_CAP];
	static const char *const sfx[] = {"-wal", "-shm"};
	for (size_t i = 0; i < RK_ARRAY_LEN(sfx); i++) {
		if (snprintf(p, sizeof(p), "%s%s", db, sfx[i]) >= (int)sizeof(p)) {
			snprintf(err, errlen, "path too long: %s", db);
			return -1;
		}
		if (unlink_quiet(p, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int rk_room_files_remove(const char *db, char *err, size_t errlen)
{
	char gone[PATH_CAP];
	if (snprintf(gone, sizeof(gone), "%s" RK_DELETING_SUFFIX, db) >=
	    (int)sizeof(gone)) {
		snprintf(err, errlen, "path too long: %s", db);
		return -1;
	}
	if (rename(db, gone) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot rename %s: %s", db, strerror(errno));
		return -1;
	}
	if (unlink_sidecars(db, err, errlen) != 0)
		return -1;
	return unlink_quiet(gone, err, errlen);
}

int rk_room_files_finish(const char *deleting, char *err, size_t errlen)
{
	size_t n = strlen(deleting), sl = strlen(RK_DELETING_SUFFIX);
	char db[PATH_CAP];
	if (n <= sl || n - sl >= sizeof(db) ||
	    strcmp(deleting + n - sl, RK_DELETING_SUFFIX) != 0) {
		snprintf(err, errlen, "not a file being deleted: %s", deleting);
		return -1;
	}
	memcpy(db, deleting, n - sl);
	db[n - sl] = '\0';
	if (access(db, F_OK) != 0 && unlink_sidecars(db, err, errlen) != 0)
		return -1;
	return unlink_quiet(deleting, err, errlen);
}
