/* usage.c - roomctl usage: disk and activity per room of a data directory,
 * read-only. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "roomctl.h"
#include "roomid.h"

typedef struct room_use {
	char room[RK_ROOM_ID_MAX + 1];
	int64_t events, last_seq, snapshots, file_bytes, wal_bytes, last_ts;
	char error[300]; /* non-empty if the file could not be read */
} room_use;

static int64_t size_of(const char *path, const char *suffix)
{
	char p[4500];
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	struct stat sb;
	return stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static void measure(const char *path, room_use *u)
{
	u->file_bytes = size_of(path, "");
	u->wal_bytes = size_of(path, "-wal");
	rdb d;
	char err[512];
	if (rdb_open(&d, path, false, err, sizeof(err)) != RK_EXIT_OK) {
		const char *msg =
		    strncmp(err, path, strlen(path)) == 0 ? err + strlen(path) + 2 : err;
		snprintf(u->error, sizeof(u->error), "%.299s", msg);
		rdb_close(&d);
		return;
	}
	store_stats st;
	if (store_get_stats(d.s, &st, err, sizeof(err)) != RK_OK)
		snprintf(u->error, sizeof(u->error), "%.299s", err);
	u->last_seq = st.max_seq;
	u->events = st.events;
	u->snapshots = st.snapshots;
	u->last_ts = st.last_ts;
	if (!u->last_ts)
		u->last_ts = d.created_ms;
	rdb_close(&d);
}

static int by_size(const void *a, const void *b)
{
	const room_use *x = a, *y = b;
	int64_t sx = x->file_bytes + x->wal_bytes, sy = y->file_bytes + y->wal_bytes;
	if (sx != sy)
		return sx < sy ? 1 : -1;
	return strcmp(x->room, y->room);
}

static const ctl_opt usage_opts[] = {{"--json", false, false}, {NULL, false, false}};

int cmd_usage(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse(c, argc, argv, usage_opts, 1, &a);
	if (rc != RK_CLI_GO)
		return rc;
	if (a.npos != 1)
		return ctl_usage(c, "which data directory? (roomctl usage DATA_DIR)");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/rooms", a.pos[0]);
	DIR *dh = opendir(dir);
	if (!dh)
		return ctl_fail(c, "%s: cannot open the rooms directory: %m", dir);
	room_use *rooms = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dh))) {
		size_t len = strlen(de->d_name);
		if (len < 4 || len - 3 > RK_ROOM_ID_MAX ||
		    strcmp(de->d_name + len - 3, ".db"))
			continue;
		char id[RK_ROOM_ID_MAX + 1];
		memcpy(id, de->d_name, len - 3);
		id[len - 3] = '\0';
		if (!rk_roomid_validz(id))
			continue;
		room_use *p = realloc(rooms, (n + 1) * sizeof(*rooms));
		if (!p) {
			closedir(dh);
			free(rooms);
			return ctl_fail(c, "out of memory");
		}
		rooms = p;
		memset(&rooms[n], 0, sizeof(rooms[n]));
		memcpy(rooms[n].room, id, len - 2);
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		measure(path, &rooms[n]);
		n++;
	}
	closedir(dh);
	if (n)
		qsort(rooms, n, sizeof(*rooms), by_size);
	bool json = ctl_flag(usage_opts, &a, "--json");
	int64_t tf = 0, tw = 0, te = 0;
	size_t bad = 0;
	if (json)
		fputc('[', c->out);
	else
		fprintf(c->out, "%-24s %8s %8s %5s %12s %10s  %s\n", "ROOM", "EVENTS",
			"SEQ", "SNAPS", "FILE", "WAL", "LAST ACTIVE");
	for (size_t i = 0; i < n; i++) {
		const room_use *u = &rooms[i];
		tf += u->file_bytes;
		tw += u->wal_bytes;
		te += u->events;
		bad += u->error[0] != '\0';
		char t[40];
		ctl_fmt_ms(u->last_ts, t, sizeof(t));
		if (json) {
			rk_buf b;
			rk_buf_init(&b, 0);
			rk_buf_printf(&b, "%s{\"room\":", i ? "," : "");
			rk_buf_put_jstrz(&b, u->room);
			rk_buf_printf(&b,
				      ",\"events\":%lld,\"seq\":%lld,\"snapshots\":%lld,"
				      "\"file_bytes\":%lld,\"wal_bytes\":%lld,"
				      "\"last_active_ms\":%lld",
				      (long long)u->events, (long long)u->last_seq,
				      (long long)u->snapshots, (long long)u->file_bytes,
				      (long long)u->wal_bytes, (long long)u->last_ts);
			if (u->error[0]) {
				rk_buf_puts(&b, ",\"error\":");
				rk_buf_put_jstrz(&b, u->error);
			}
			rk_buf_putc(&b, '}');
			if (b.data)
				fputs(b.data, c->out);
			rk_buf_free(&b);
		} else if (u->error[0]) {
			fprintf(c->out, "%-24s %8s %8s %5s %12lld %10lld  error: %s\n",
				u->room, "-", "-", "-", (long long)u->file_bytes,
				(long long)u->wal_bytes, u->error);
		} else {
			fprintf(c->out, "%-24s %8lld %8lld %5lld %12lld %10lld  %s\n",
				u->room, (long long)u->events, (long long)u->last_seq,
				(long long)u->snapshots, (long long)u->file_bytes,
				(long long)u->wal_bytes, t);
		}
	}
	if (json)
		fputs("]\n", c->out);
	else
		fprintf(c->out, "%zu room%s, %lld events, %lld bytes (+ %lld WAL)\n", n,
			n == 1 ? "" : "s", (long long)te, (long long)tf, (long long)tw);
	free(rooms);
	if (bad)
		return ctl_fail(c, "%zu room file%s could not be read", bad,
				bad == 1 ? "" : "s");
	return RK_EXIT_OK;
}
