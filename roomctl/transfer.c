/* transfer.c - roomctl export / import: a room's whole history as JSON
 * lines (a header, then every event as the `event` message), and back into
 * a new room file that roomd can serve. export reads read-only; import only
 * ever creates a new file (never overwrites), under the room's
 * single-writer lock, through libstore (store_lock_new, store_create, one
 * batch). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "proto.h"
#include "roomctl.h"
#include "roomfiles.h"
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
		      (long long)d->created_ms, STORE_FORMAT);
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
	int rc = ctl_parse_file(c, argc, argv, export_opts, &a);
	if (rc != RK_CLI_GO)
		return rc;
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

typedef struct importer {
	store *s; /* created at the header line, inside one batch */
	const char *dest;
	rk_state *st;
	int64_t seq, ts, snap_seq;
	char err[600];
} importer;

static bool im_snapshot(importer *im)
{
	rk_buf b;
	rk_buf_init(&b, 0);
	rk_state_encode(im->st, &b);
	bool ok = rk_buf_ok(&b) == RK_OK;
	char why[400];
	if (!ok)
		snprintf(im->err, sizeof(im->err), "out of memory");
	else if (store_put_snapshot(im->s, im->seq, im->ts, b.data, b.len, why,
				    sizeof(why)) != RK_OK) {
		snprintf(im->err, sizeof(im->err), "snapshot: %s", why);
		ok = false;
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
	char why[400];
	ok = store_append(im->s, m.seq, m.ts, m.session, m.user, m.id, op.data, op.len,
			  why, sizeof(why)) == RK_OK;
	rk_buf_free(&op);
	if (!ok) {
		snprintf(im->err, sizeof(im->err), "event %lld: %s", (long long)m.seq,
			 why);
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
	} else if (cJSON_IsNumber(f) && f->valuedouble > STORE_FORMAT) {
		snprintf(im->err, sizeof(im->err),
			 "line 1: export format %g is newer than %d", f->valuedouble,
			 STORE_FORMAT);
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
			/* The new room file, with the exported meta, and the
			 * batch every row goes into. */
			store_meta meta = {.created_ms = created};
			snprintf(meta.room, sizeof(meta.room), "%s", room);
			snprintf(meta.epoch, sizeof(meta.epoch), "%s", epoch);
			char why[400];
			ok = store_create(dest, &meta, &im->s, why, sizeof(why)) ==
				 RK_OK &&
			     store_begin(im->s, why, sizeof(why)) == RK_OK;
			if (!ok)
				snprintf(im->err, sizeof(im->err), "%s", why);
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
	char why[400];
	while (rk_omap_next(&im->st->polls, &it, &e)) {
		const rk_poll *p = e->val;
		if (p->closed || p->closes_at <= 0)
			continue;
		if (store_set_alarm(im->s, p->id, p->closes_at, why, sizeof(why)) !=
		    RK_OK) {
			snprintf(im->err, sizeof(im->err), "alarm: %s", why);
			return false;
		}
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
	/* Create the file exclusively and hold the room's lock while writing,
	 * so a roomd on the same data dir cannot take the room half-imported. */
	char why[600];
	int fd = store_lock_new(dest, why, sizeof(why));
	if (fd < 0) {
		if (in != stdin)
			fclose(in);
		if (fd == STORE_LOCK_HELD)
			return ctl_fail(c, "%s is locked by another process", dest);
		return ctl_fail(c, "%s%s", why,
				fd == STORE_LOCK_EXISTS
				    ? " (import never overwrites a room file)"
				    : "");
	}
	importer im;
	memset(&im, 0, sizeof(im));
	im.dest = dest;
	bool ok = (im.st = rk_state_new()) != NULL;
	if (!ok)
		snprintf(im.err, sizeof(im.err), "out of memory");
	ok = ok && import_lines(&im, in, want_room, dest);
	if (ok && !im.s) {
		snprintf(im.err, sizeof(im.err), "the input is empty");
		ok = false;
	}
	if (ok && im.seq > im.snap_seq)
		ok = im_snapshot(&im);
	ok = ok && import_alarms(&im);
	if (ok && store_commit(im.s, why, sizeof(why)) != RK_OK) {
		snprintf(im.err, sizeof(im.err), "%s", why);
		ok = false;
	}
	/* Durable before we say so: the WAL checkpointed into the file. */
	if (ok && store_settle(im.s, false, why, sizeof(why)) != RK_OK) {
		snprintf(im.err, sizeof(im.err), "%s", why);
		ok = false;
	}
	store_close(im.s);
	rk_state_free(im.st);
	if (in != stdin)
		fclose(in);
	if (!ok) {
		/* Nothing half-imported stays behind. */
		rk_room_files_remove(dest, why, sizeof(why));
		store_unlock(fd);
		return ctl_fail(c, "%s: %s", src, im.err);
	}
	store_unlock(fd);
	fprintf(c->out, "imported %lld events into %s\n", (long long)im.seq, dest);
	return RK_EXIT_OK;
}
