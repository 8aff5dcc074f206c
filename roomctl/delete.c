/* delete.c - roomctl delete: remove a room file with its -wal and -shm,
 * offline, under the room's single-writer lock (store_lock: refused while a
 * roomd holds the room). The
 * removal order is libcommon/roomfiles.h's, the same as roomd's DELETE. */
#include "roomctl.h"
#include "roomfiles.h"

static const ctl_opt delete_opts[] = {
    {NULL, false, false},
};

int cmd_delete(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse_file(c, argc, argv, delete_opts, &a);
	if (rc != RK_CLI_GO)
		return rc;
	const char *path = a.pos[0];
	int fd;
	rc = ctl_lock_room(c, path, &fd);
	if (rc != RK_EXIT_OK)
		return rc;
	/* Only a room file: read its meta (read-only) before removing it. */
	char err[600];
	rdb d;
	int64_t min = 0, max = 0, count = 0;
	if (rdb_open(&d, path, false, err, sizeof(err)) != RK_EXIT_OK ||
	    rdb_seq_range(&d, &min, &max, &count, err, sizeof(err)) != RK_EXIT_OK) {
		rdb_close(&d);
		store_unlock(fd);
		return ctl_fail(c, "%s (not deleted)", err);
	}
	char room[RK_ROOM_ID_MAX + 1], epoch[RK_EPOCH_MAX + 1];
	snprintf(room, sizeof(room), "%s", d.room);
	snprintf(epoch, sizeof(epoch), "%s", d.epoch);
	rdb_close(&d);
	int64_t bytes = ctl_room_bytes(path, true);
	int ok = rk_room_files_remove(path, err, sizeof(err));
	store_unlock(fd);
	if (ok != 0)
		return ctl_fail(c, "%s", err);
	fprintf(
	    c->out,
	    "deleted %s: room %s, epoch %s, %lld events (last seq %lld), %lld bytes\n",
	    path, room, epoch, (long long)count, (long long)max, (long long)bytes);
	return RK_EXIT_OK;
}
