/* transfer.c - roomctl export / import: a room's whole history as JSON
 * lines (a header, then every event as the `event` message), and back into
 * a new room file that roomd can serve. export reads read-only; import only
 * ever creates a new file (never overwrites), under roomd's flock. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "proto.h"
#include "roomctl.h"
#include "roomid.h"

enum { SNAPSHOT_EVERY = 1000 }; /* roomd's default --snapshot-every */

/* ---- export ------------------------------------------------------------ */

static const ctl_opt export_opts[] = {{"--output", true, false}, {NULL, false, false}};

static int export_to(ctl_ctx *c, rdb *d, FILE *f)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_buf_puts(&b, "{\"t\":\"room\",\"v\":1,\"room\":");
	rk_buf_put_jstrz(&b, d->room);
	rk_buf_puts(&b, ",\"epoch\":");
	rk_buf_put_jstrz(&b, d->epoch);
	rk_buf_printf(&b, ",\"created_ms\":%lld,\"format\":%d}\n",
		      (long long)d->created_ms, RDB_FORMAT);
	if (b.data)
		fputs(b.data, f);
	char err[512];
	rdb_iter it;
	if (rdb_iter_begin(d, &it, 0, -1, NULL, err, sizeof(err))) {
		rk_buf_free(&b);
		return ctl_fail(c, "%s", err);
	}
	int r;
	while ((r = rdb_iter_next(d, &it, err, sizeof(err))) == 1) {
		rk_buf_reset(&b);
		rk_enc_event(&b, it.ev.seq, it.ev.ts, it.ev.session, it.ev.user,
			     it.ev.op_id, it.ev.op, it.ev.op_len);
		rk_buf_putc(&b, '\n');
		if (rk_buf_ok(&b) != RK_OK) {
			r = -1;
			snprintf(err, sizeof(err), "out of memory");
			break;
		}
		fwrite(b.data, 1, b.len, f);
	}
	rdb_iter_end(&it);
	rk_buf_free(&b);
	if (r < 0)
		return ctl_fail(c, "%s", err);
	if (fflush(f) != 0 || ferror(f))
		return ctl_fail(c, "write error: %s", strerror(errno));
	return RK_EXIT_OK;
}

int cmd_export(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse(c, argc, argv, export_opts, 1, &a);
	if (rc != RK_CLI_GO)
		return rc;
	if (a.npos != 1)
		return ctl_usage(c, "which room file? (roomctl export ROOM.db)");
	rdb d;
	char err[512];
	if (rdb_open(&d, a.pos[0], false, err, sizeof(err)) != RK_EXIT_OK)
		return ctl_fail(c, "%s", err);
	const char *out = ctl_get(export_opts, &a, "--output");
	FILE *f = out ? fopen(out, "w") : c->out;
	if (!f) {
		rdb_close(&d);
		return ctl_fail(c, "%s: %s", out, strerror(errno));
	}
	rc = export_to(c, &d, f);
	if (out && fclose(f) != 0 && rc == RK_EXIT_OK)
		rc = ctl_fail(c, "%s: %s", out, strerror(errno));
	rdb_close(&d);
	return rc;
}

/* ---- import ------------------------------------------------------------ */

static const ctl_opt import_opts[] = {{"--room", true, false}, {NULL, false, false}};

/* roomd's schema (roomd/store.c; PROTOCOL.md section 7 plus op_id and
 * alarms). */
static const char schema_sql[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " session TEXT NOT NULL, user TEXT NOT NULL, op TEXT NOT NULL,"
    " op_id TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE snapshots(seq INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL, state TEXT NOT NULL);"
    "CREATE TABLE alarms(poll TEXT PRIMARY KEY, at INTEGER NOT NULL);";

typedef struct importer {
	sqlite3 *db;
	sqlite3_stmt *ins_event, *ins_snap;
	rk_state *st;
	int64_t seq, ts, snap_seq;
	char err[600];
} importer;

static bool im_exec(importer *im, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(im->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(im->err, sizeof(im->err), "%s",
			 msg ? msg : sqlite3_errmsg(im->db));
		sqlite3_free(msg);
		return false;
	}
	return true;
}

static bool im_snapshot(importer *im)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_state_encode(im->st, &b);
	bool ok = rk_buf_ok(&b) == RK_OK;
	if (ok) {
		sqlite3_bind_int64(im->ins_snap, 1, im->seq);
		sqlite3_bind_int64(im->ins_snap, 2, im->ts);
		sqlite3_bind_text(im->ins_snap, 3, b.data, (int)b.len, SQLITE_STATIC);
		ok = sqlite3_step(im->ins_snap) == SQLITE_DONE;
		sqlite3_reset(im->ins_snap);
		if (!ok)
			snprintf(im->err, sizeof(im->err), "snapshot: %s",
				 sqlite3_errmsg(im->db));
	} else {
		snprintf(im->err, sizeof(im->err), "out of memory");
	}
	rk_buf_free(&b);
	if (ok)
		im->snap_seq = im->seq;
	return ok;
}

/* Apply and store one `event` line. */
static bool im_event(importer *im, const char *line, size_t n, long lineno)
{
	rk_smsg m;
	char derr[200];
	if (rk_smsg_decode(line, n, false, &m, derr, sizeof(derr)) != RK_OK ||
	    m.t != RK_S_EVENT) {
		snprintf(im->err, sizeof(im->err), "line %ld: not an event message%s%s",
			 lineno, m.t == RK_S_EVENT ? "" : ": ",
			 m.t == RK_S_EVENT ? "" : derr);
		rk_smsg_free(&m);
		return false;
	}
	bool ok = false;
	if (m.seq != im->seq + 1) {
		snprintf(im->err, sizeof(im->err), "line %ld: seq %lld follows %lld",
			 lineno, (long long)m.seq, (long long)im->seq);
		goto out;
	}
	if (m.ts < im->ts) {
		snprintf(im->err, sizeof(im->err), "line %ld: ts goes backwards", lineno);
		goto out;
	}
	char msg[RK_MSG_MSG_MAX + 1];
	rk_actor actor = {
	    .user = m.user, .role = RK_ROLE_OWNER, .seq = m.seq, .ts = m.ts, .id = m.id};
	rk_reject rej = rk_state_apply(im->st, &m.op, &actor, msg, sizeof(msg));
	if (rej != RK_REJ_NONE) {
		snprintf(im->err, sizeof(im->err),
			 "line %ld: event %lld does not apply: %s: %s", lineno,
			 (long long)m.seq, rk_reject_name(rej), msg);
		goto out;
	}
	rk_buf op;
	rk_buf_init(&op, 0);
	rk_op_encode(&m.op, &op);
	if (rk_buf_ok(&op) != RK_OK) {
		snprintf(im->err, sizeof(im->err), "out of memory");
		rk_buf_free(&op);
		goto out;
	}
	sqlite3_stmt *q = im->ins_event;
	sqlite3_bind_int64(q, 1, m.seq);
	sqlite3_bind_int64(q, 2, m.ts);
	sqlite3_bind_text(q, 3, m.session, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, m.user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, op.data, (int)op.len, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, m.id, -1, SQLITE_STATIC);
	ok = sqlite3_step(q) == SQLITE_DONE;
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	rk_buf_free(&op);
	if (!ok) {
		snprintf(im->err, sizeof(im->err), "event %lld: %s", (long long)m.seq,
			 sqlite3_errmsg(im->db));
		goto out;
	}
	im->seq = m.seq;
	im->ts = m.ts;
	if (im->seq - im->snap_seq >= SNAPSHOT_EVERY)
		ok = im_snapshot(im);
out:
	rk_smsg_free(&m);
	return ok;
}

/* Parse the header line into room/epoch/created. */
static bool im_header(importer *im, const char *line, size_t n, char *room, char *epoch,
		      int64_t *created)
{
	cJSON *j = cJSON_ParseWithLength(line, n);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "t");
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "room");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "epoch");
	const cJSON *cr = cJSON_GetObjectItemCaseSensitive(j, "created_ms");
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "format");
	bool ok = cJSON_IsString(t) && strcmp(t->valuestring, "room") == 0 &&
		  cJSON_IsString(r) && rk_roomid_validz(r->valuestring) &&
		  cJSON_IsString(e) && e->valuestring[0] &&
		  strlen(e->valuestring) <= RK_EPOCH_MAX;
	if (!ok) {
		snprintf(im->err, sizeof(im->err),
			 "line 1: not a roomctl export header ({\"t\":\"room\",...})");
	} else if (cJSON_IsNumber(f) && f->valuedouble > RDB_FORMAT) {
		snprintf(im->err, sizeof(im->err),
			 "line 1: export format %g is newer than %d", f->valuedouble,
			 RDB_FORMAT);
		ok = false;
	} else {
		strcpy(room, r->valuestring);
		strcpy(epoch, e->valuestring);
		*created = cJSON_IsNumber(cr) ? (int64_t)cr->valuedouble : 0;
	}
	cJSON_Delete(j);
	return ok;
}

static bool import_lines(importer *im, FILE *in, const char *want_room, const char *dest)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	bool ok = true;
	char room[RK_ROOM_ID_MAX + 1] = "", epoch[RK_EPOCH_MAX + 1] = "";
	int64_t created = 0;
	while (ok && (n = getline(&line, &cap, in)) >= 0) {
		lineno++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (lineno == 1) {
			ok = im_header(im, line, (size_t)n, room, epoch, &created);
			if (!ok)
				break;
			if (want_room)
				snprintf(room, sizeof(room), "%s", want_room);
			/* roomd serves ROOM from rooms/ROOM.db and checks meta. */
			const char *base = strrchr(dest, '/');
			base = base ? base + 1 : dest;
			size_t bl = strlen(base);
			if (bl != strlen(room) + 3 || strncmp(base, room, bl - 3) != 0 ||
			    strcmp(base + bl - 3, ".db") != 0) {
				snprintf(
				    im->err, sizeof(im->err),
				    "room '%s' must be imported into a file named %s.db",
				    room, room);
				ok = false;
				break;
			}
			char *q = sqlite3_mprintf(
			    "INSERT INTO meta VALUES('room',%Q),('epoch',%Q),"
			    "('created_ms','%lld'),('format','%d')",
			    room, epoch, (long long)created, RDB_FORMAT);
			ok = q && im_exec(im, q);
			sqlite3_free(q);
			continue;
		}
		if (n == 0)
			continue;
		ok = im_event(im, line, (size_t)n, lineno);
	}
	free(line);
	if (ok && lineno == 0) {
		snprintf(im->err, sizeof(im->err), "the input is empty");
		ok = false;
	}
	if (ok && ferror(in)) {
		snprintf(im->err, sizeof(im->err), "read error: %s", strerror(errno));
		ok = false;
	}
	return ok;
}

static bool import_alarms(importer *im)
{
	size_t it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&im->st->polls, &it, &e)) {
		const rk_poll *p = e->val;
		if (p->closed || p->closes_at <= 0)
			continue;
		char *q = sqlite3_mprintf("INSERT INTO alarms VALUES(%Q,%lld)", p->id,
					  (long long)p->closes_at);
		bool ok = q && im_exec(im, q);
		sqlite3_free(q);
		if (!ok)
			return false;
	}
	return true;
}

int cmd_import(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse(c, argc, argv, import_opts, 2, &a);
	if (rc != RK_CLI_GO)
		return rc;
	if (a.npos != 2)
		return ctl_usage(c, "give the export and the new room file "
				    "(roomctl import EXPORT DATA_DIR/rooms/ROOM.db)");
	const char *src = a.pos[0], *dest = a.pos[1];
	const char *want_room = ctl_get(import_opts, &a, "--room");
	if (want_room && !rk_roomid_validz(want_room))
		return ctl_usage(c, "--room '%s' is not a valid room id", want_room);
	FILE *in = strcmp(src, "-") == 0 ? stdin : fopen(src, "r");
	if (!in)
		return ctl_fail(c, "%s: %s", src, strerror(errno));
	/* Create the file exclusively and hold roomd's lock while writing, so
	 * a roomd on the same data dir cannot take the room half-imported. */
	int fd = open(dest, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (in != stdin)
			fclose(in);
		return ctl_fail(c, "%s: %s%s", dest, strerror(errno),
				errno == EEXIST ? " (import never overwrites a room file)"
						: "");
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		unlink(dest);
		if (in != stdin)
			fclose(in);
		return ctl_fail(c, "%s is locked by another process", dest);
	}
	importer im;
	memset(&im, 0, sizeof(im));
	bool ok = (im.st = rk_state_new()) != NULL;
	if (!ok)
		snprintf(im.err, sizeof(im.err), "out of memory");
	if (ok &&
	    sqlite3_open_v2(dest, &im.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(im.err, sizeof(im.err), "%s", sqlite3_errmsg(im.db));
		ok = false;
	}
	ok = ok && im_exec(&im, schema_sql) && im_exec(&im, "BEGIN");
	if (ok && (sqlite3_prepare_v2(im.db,
				      "INSERT INTO events(seq,ts,session,user,op,op_id)"
				      " VALUES(?,?,?,?,?,?)",
				      -1, &im.ins_event, NULL) ||
		   sqlite3_prepare_v2(im.db, "INSERT INTO snapshots VALUES(?,?,?)", -1,
				      &im.ins_snap, NULL))) {
		snprintf(im.err, sizeof(im.err), "%s", sqlite3_errmsg(im.db));
		ok = false;
	}
	ok = ok && import_lines(&im, in, want_room, dest);
	if (ok && im.seq > im.snap_seq)
		ok = im_snapshot(&im);
	ok = ok && import_alarms(&im) && im_exec(&im, "COMMIT");
	sqlite3_finalize(im.ins_event);
	sqlite3_finalize(im.ins_snap);
	if (im.db)
		sqlite3_close(im.db);
	rk_state_free(im.st);
	if (in != stdin)
		fclose(in);
	if (!ok) {
		/* Nothing half-imported stays behind. */
		char side[4200];
		snprintf(side, sizeof(side), "%s-wal", dest);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", dest);
		unlink(side);
		unlink(dest);
		close(fd);
		return ctl_fail(c, "%s: %s", src, im.err);
	}
	close(fd);
	fprintf(c->out, "imported %lld events into %s\n", (long long)im.seq, dest);
	return RK_EXIT_OK;
}
