/* offline.c - the read-only room file commands: inspect, events, replay,
 * verify. Each opens the file with rdb_open (SQLITE_OPEN_READONLY). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "json.h"
#include "op.h"
#include "proto.h"
#include "roomctl.h"

enum { OP_TEXT_MAX = 1 << 24 };

/* The op kind of stored op JSON text (RK_OP_NONE if unreadable). */
static rk_op_kind op_kind_of(const char *s, size_t n)
{
	cJSON *j = cJSON_ParseWithLength(s, n);
	rk_op_kind k = RK_OP_NONE;
	const cJSON *kj = cJSON_GetObjectItemCaseSensitive(j, "k");
	if (cJSON_IsString(kj))
		k = rk_op_kind_parse(kj->valuestring);
	cJSON_Delete(j);
	return k;
}

static int open_or_fail(ctl_ctx *c, rdb *d, const char *path, bool live)
{
	char err[512];
	if (rdb_open(d, path, live, err, sizeof(err)) != RK_EXIT_OK)
		return ctl_fail(c, "%s", err);
	return RK_EXIT_OK;
}

/* ---- inspect ------------------------------------------------------------ */

static const ctl_opt inspect_opts[] = {{"--json", false, false}, {NULL, false, false}};

typedef struct inspect_info {
	int64_t min_seq, max_seq, count;
	int64_t first_ts, last_ts;
	int64_t kinds[RK_OP_KIND_COUNT]; /* [RK_OP_NONE]: unreadable ops */
	int64_t file_bytes, wal_bytes;
} inspect_info;

static int64_t file_size(const char *path, const char *suffix)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	struct stat sb;
	return stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static void put_time_json(rk_buf *b, const char *key, int64_t ms)
{
	char t[40];
	ctl_fmt_ms(ms, t, sizeof(t));
	rk_buf_printf(b, ",\"%s_ms\":%lld,\"%s\":", key, (long long)ms, key);
	rk_buf_put_jstrz(b, t);
}

/*
 * The webhook outbox of a room file (roomd --webhook-url): rows not yet
 * delivered, -1 if the file has no outbox. What roomd delivered is recorded
 * in <data>/webhooks.db next to the rooms directory; rows up to that point
 * are only waiting to be trimmed. *oldest_ms: created_ms of the oldest
 * undelivered row (0 if none).
 */
static int64_t outbox_backlog(rdb *d, int64_t *oldest_ms)
{
	/* <data>/rooms/<room>.db -> <data>/webhooks.db */
	char pos[4096];
	snprintf(pos, sizeof(pos), "%s", d->path);
	char *slash = strrchr(pos, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(pos, ".");
	char *parent = strrchr(pos, '/');
	if (parent)
		strcpy(parent + 1, "webhooks.db");
	else
		snprintf(pos, sizeof(pos), "%s",
			 slash ? "webhooks.db" : "../webhooks.db");
	int64_t n = -1;
	char err[8];
	*oldest_ms = 0;
	if (store_outbox_backlog(d->s, 0, &n, oldest_ms, err, sizeof(err)) != RK_OK ||
	    n < 0)
		return -1;
	int64_t upto = store_hookpos_get(pos, d->room, d->epoch);
	if (store_outbox_backlog(d->s, upto, &n, oldest_ms, err, sizeof(err)) != RK_OK)
		return -1;
	return n;
}

/* The lists inspect prints, gathered first (text or JSON). */
typedef struct inspect_lists {
	bool json;
	rk_buf snaps, users, alarms;
	int nsnaps, nusers, nalarms;
} inspect_lists;

static bool inspect_snap(void *arg, int64_t seq, int64_t ts, const char *json, size_t len)
{
	inspect_lists *l = arg;
	(void)ts, (void)json, (void)len;
	if (l->json)
		rk_buf_printf(&l->snaps, "%s%lld", l->nsnaps ? "," : "", (long long)seq);
	else
		rk_buf_printf(&l->snaps, "%sseq %lld", l->nsnaps ? ", " : "",
			      (long long)seq);
	l->nsnaps++;
	return true;
}

static bool inspect_user(void *arg, const char *user, int64_t events)
{
	inspect_lists *l = arg;
	if (l->json) {
		if (l->nusers)
			rk_buf_putc(&l->users, ',');
		rk_buf_put_jstrz(&l->users, user);
		rk_buf_printf(&l->users, ":%lld", (long long)events);
	} else {
		rk_buf_printf(&l->users, "  %-14s %lld\n", user, (long long)events);
	}
	l->nusers++;
	return true;
}

static bool inspect_alarm(void *arg, const char *poll, int64_t at)
{
	inspect_lists *l = arg;
	if (l->json) {
		rk_buf_puts(&l->alarms, l->nalarms ? ",{\"poll\":" : "{\"poll\":");
		rk_buf_put_jstrz(&l->alarms, poll);
		rk_buf_printf(&l->alarms, ",\"at_ms\":%lld}", (long long)at);
	} else {
		char t[40];
		ctl_fmt_ms(at, t, sizeof(t));
		rk_buf_printf(&l->alarms, "  poll %s closes at %s\n", poll, t);
	}
	l->nalarms++;
	return true;
}

static int inspect_run(ctl_ctx *c, rdb *d, bool json)
{
	char err[512];
	inspect_info in;
	memset(&in, 0, sizeof(in));
	if (rdb_seq_range(d, &in.min_seq, &in.max_seq, &in.count, err, sizeof(err)))
		return ctl_fail(c, "%s", err);
	in.file_bytes = file_size(d->path, "");
	in.wal_bytes = file_size(d->path, "-wal");
	rdb_iter it;
	if (rdb_iter_begin(d, &it, 0, -1, NULL, err, sizeof(err)))
		return ctl_fail(c, "%s", err);
	int r;
	bool first = true;
	while ((r = rdb_iter_next(d, &it, err, sizeof(err))) == 1) {
		in.kinds[op_kind_of(it.ev.op, it.ev.op_len)]++;
		if (first || it.ev.ts < in.first_ts)
			in.first_ts = it.ev.ts;
		if (first || it.ev.ts > in.last_ts)
			in.last_ts = it.ev.ts;
		first = false;
	}
	rdb_iter_end(&it);
	if (r < 0)
		return ctl_fail(c, "%s", err);

	inspect_lists l = {.json = json};
	rk_buf_init(&l.snaps, 0);
	rk_buf_init(&l.users, 0);
	rk_buf_init(&l.alarms, 0);
	int rc = RK_EXIT_FAIL;
	if (store_snapshots(d->s, inspect_snap, &l, err, sizeof(err)) != RK_OK ||
	    store_users(d->s, inspect_user, &l, err, sizeof(err)) != RK_OK ||
	    store_alarms(d->s, inspect_alarm, &l, err, sizeof(err)) != RK_OK) {
		ctl_fail(c, "%s: %s", d->path, err);
		goto out;
	}
	rk_buf b;
	rk_buf_init(&b, 0);
	char t1[40], t2[40];
	if (json) {
		rk_buf_puts(&b, "{\"room\":");
		rk_buf_put_jstrz(&b, d->room);
		rk_buf_puts(&b, ",\"epoch\":");
		rk_buf_put_jstrz(&b, d->epoch);
		put_time_json(&b, "created", d->created_ms);
		rk_buf_puts(&b, ",\"file\":");
		rk_buf_put_jstrz(&b, d->path);
		rk_buf_printf(&b,
			      ",\"file_bytes\":%lld,\"wal_bytes\":%lld,\"events\":%lld,"
			      "\"first_seq\":%lld,\"last_seq\":%lld,\"snapshots\":[",
			      (long long)in.file_bytes, (long long)in.wal_bytes,
			      (long long)in.count, (long long)in.min_seq,
			      (long long)in.max_seq);
		if (l.snaps.len)
			rk_buf_put(&b, l.snaps.data, l.snaps.len);
		rk_buf_puts(&b, "],\"ops\":{");
		int n = 0;
		for (int k = 1; k < RK_OP_KIND_COUNT; k++)
			if (in.kinds[k])
				rk_buf_printf(&b, "%s\"%s\":%lld", n++ ? "," : "",
					      rk_op_kind_name((rk_op_kind)k),
					      (long long)in.kinds[k]);
		if (in.kinds[0])
			rk_buf_printf(&b, "%s\"?\":%lld", n ? "," : "",
				      (long long)in.kinds[0]);
		rk_buf_puts(&b, "},\"users\":{");
		if (l.users.len)
			rk_buf_put(&b, l.users.data, l.users.len);
		rk_buf_puts(&b, "}");
		put_time_json(&b, "first_activity", in.first_ts);
		put_time_json(&b, "last_activity", in.last_ts);
		rk_buf_puts(&b, ",\"alarms\":[");
		if (l.alarms.len)
			rk_buf_put(&b, l.alarms.data, l.alarms.len);
		rk_buf_puts(&b, "]");
		int64_t oldest, backlog = outbox_backlog(d, &oldest);
		if (backlog >= 0)
			rk_buf_printf(
			    &b, ",\"webhook_backlog\":%lld,\"webhook_oldest_ms\":%lld",
			    (long long)backlog, (long long)oldest);
		rk_buf_puts(&b, "}\n");
	} else {
		ctl_fmt_ms(d->created_ms, t1, sizeof(t1));
		rk_buf_printf(&b, "room:        %s\nepoch:       %s\ncreated:     %s\n",
			      d->room, d->epoch, t1);
		rk_buf_printf(&b, "file:        %s (%lld bytes, WAL %lld bytes)\n",
			      d->path, (long long)in.file_bytes, (long long)in.wal_bytes);
		if (in.count)
			rk_buf_printf(&b, "events:      %lld (seq %lld..%lld)\n",
				      (long long)in.count, (long long)in.min_seq,
				      (long long)in.max_seq);
		else
			rk_buf_puts(&b, "events:      0\n");
		rk_buf_puts(&b, "snapshots:   ");
		if (l.snaps.len)
			rk_buf_put(&b, l.snaps.data, l.snaps.len);
		rk_buf_puts(&b, l.nsnaps ? "\n" : "none\n");
		ctl_fmt_ms(in.first_ts, t1, sizeof(t1));
		ctl_fmt_ms(in.last_ts, t2, sizeof(t2));
		rk_buf_printf(&b, "activity:    first %s, last %s\n", t1, t2);
		rk_buf_puts(&b, "ops:\n");
		for (int k = 1; k < RK_OP_KIND_COUNT; k++)
			if (in.kinds[k])
				rk_buf_printf(&b, "  %-14s %lld\n",
					      rk_op_kind_name((rk_op_kind)k),
					      (long long)in.kinds[k]);
		if (in.kinds[0])
			rk_buf_printf(&b, "  %-14s %lld\n", "(unreadable)",
				      (long long)in.kinds[0]);
		rk_buf_printf(&b, "users:       %d\n", l.nusers);
		if (l.users.len)
			rk_buf_put(&b, l.users.data, l.users.len);
		rk_buf_printf(&b, "alarms:      %d pending\n", l.nalarms);
		if (l.alarms.len)
			rk_buf_put(&b, l.alarms.data, l.alarms.len);
		int64_t oldest, backlog = outbox_backlog(d, &oldest);
		if (backlog > 0) {
			ctl_fmt_ms(oldest, t1, sizeof(t1));
			rk_buf_printf(&b,
				      "webhook backlog: %lld undelivered (oldest %s)\n",
				      (long long)backlog, t1);
		} else if (backlog == 0) {
			rk_buf_puts(&b, "webhook backlog: 0\n");
		}
	}
	if (rk_buf_ok(&b) != RK_OK || rk_buf_ok(&l.snaps) != RK_OK ||
	    rk_buf_ok(&l.users) != RK_OK || rk_buf_ok(&l.alarms) != RK_OK) {
		rk_buf_free(&b);
		ctl_fail(c, "out of memory");
		goto out;
	}
	fputs(b.data, c->out);
	rk_buf_free(&b);
	rc = RK_EXIT_OK;
out:
	rk_buf_free(&l.snaps);
	rk_buf_free(&l.users);
	rk_buf_free(&l.alarms);
	return rc;
}

int cmd_inspect(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse_file(c, argc, argv, inspect_opts, &a);
	if (rc != RK_CLI_GO)
		return rc;
	rdb d;
	if (open_or_fail(c, &d, a.pos[0], false))
		return RK_EXIT_FAIL;
	rc = inspect_run(c, &d, ctl_flag(inspect_opts, &a, "--json"));
	rdb_close(&d);
	return rc;
}

/* ---- events ------------------------------------------------------------- */

static const ctl_opt events_opts[] = {
    {"--since", true, false}, {"--until", true, false}, {"--kind", true, false},
    {"--user", true, false},  {"--limit", true, false}, {"--follow", false, false},
    {NULL, false, false},
};

typedef struct events_q {
	int64_t since, until, limit; /* until/limit: -1 = none */
	rk_op_kind kind;	     /* RK_OP_NONE = any */
	const char *user;
	bool follow;
} events_q;

/* Print the events after q->since that match; advance q->since. Returns
 * RK_EXIT_OK (and *printed) or RK_EXIT_FAIL (printed). */
static int events_batch(ctl_ctx *c, rdb *d, events_q *q, int64_t *printed)
{
	char err[512];
	rdb_iter it;
	if (rdb_iter_begin(d, &it, q->since, q->until, q->user, err, sizeof(err)))
		return ctl_fail(c, "%s", err);
	rk_buf b;
	rk_buf_init(&b, 0);
	int r;
	int rc = RK_EXIT_OK;
	while ((q->limit < 0 || *printed < q->limit) &&
	       (r = rdb_iter_next(d, &it, err, sizeof(err))) == 1) {
		const rdb_event *ev = &it.ev;
		q->since = ev->seq;
		char jerr[160];
		cJSON *j = rk_json_parse(ev->op, ev->op_len, OP_TEXT_MAX,
					 RK_JSON_DEPTH_MAX, jerr, sizeof(jerr));
		if (!j) {
			rc = ctl_fail(c, "%s: event %lld: op is not JSON: %s", d->path,
				      (long long)ev->seq, jerr);
			break;
		}
		const cJSON *kj = cJSON_GetObjectItemCaseSensitive(j, "k");
		rk_op_kind k =
		    cJSON_IsString(kj) ? rk_op_kind_parse(kj->valuestring) : RK_OP_NONE;
		cJSON_Delete(j);
		if (q->kind != RK_OP_NONE && k != q->kind)
			continue;
		rk_buf_reset(&b);
		rk_enc_event(&b, ev->seq, ev->ts, ev->session, ev->user, ev->op_id,
			     ev->op, ev->op_len);
		if (rk_buf_ok(&b) != RK_OK) {
			rc = ctl_fail(c, "out of memory");
			break;
		}
		fwrite(b.data, 1, b.len, c->out);
		fputc('\n', c->out);
		(*printed)++;
	}
	if (rc == RK_EXIT_OK && r < 0)
		rc = ctl_fail(c, "%s", err);
	rk_buf_free(&b);
	rdb_iter_end(&it);
	fflush(c->out);
	return rc;
}

int cmd_events(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse_file(c, argc, argv, events_opts, &a);
	if (rc != RK_CLI_GO)
		return rc;
	events_q q = {.since = 0, .until = -1, .limit = -1, .kind = RK_OP_NONE};
	const char *s;
	if ((s = ctl_get(events_opts, &a, "--since")) &&
	    ctl_int(c, "--since", s, 0, RK_INT_MAX, &q.since))
		return RK_EXIT_USAGE;
	if ((s = ctl_get(events_opts, &a, "--until")) &&
	    ctl_int(c, "--until", s, 0, RK_INT_MAX, &q.until))
		return RK_EXIT_USAGE;
	if ((s = ctl_get(events_opts, &a, "--limit")) &&
	    ctl_int(c, "--limit", s, 0, RK_INT_MAX, &q.limit))
		return RK_EXIT_USAGE;
	if ((s = ctl_get(events_opts, &a, "--kind")) &&
	    (q.kind = rk_op_kind_parse(s)) == RK_OP_NONE)
		return ctl_usage(c,
				 "--kind: unknown op kind '%s' (shape.add, shape.update, "
				 "shape.delete, board.clear, poll.create, poll.vote, "
				 "poll.close, chat.post)",
				 s);
	q.user = ctl_get(events_opts, &a, "--user");
	q.follow = ctl_flag(events_opts, &a, "--follow");
	rdb d;
	if (open_or_fail(c, &d, a.pos[0], q.follow))
		return RK_EXIT_FAIL;
	int64_t printed = 0;
	rc = events_batch(c, &d, &q, &printed);
	/* --follow: poll for rows committed since; each query is a fresh read
	 * transaction, so it sees roomd's later commits. Ends on a signal. */
	while (rc == RK_EXIT_OK && q.follow && (q.limit < 0 || printed < q.limit) &&
	       (q.until < 0 || q.since < q.until)) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
		rc = events_batch(c, &d, &q, &printed);
	}
	rdb_close(&d);
	return rc;
}

/* ---- replay ------------------------------------------------------------- */

static const ctl_opt replay_opts[] = {
    {"--upto", true, false},
    {"--from-scratch", false, false},
    {"--render", false, false},
    {NULL, false, false},
};

int cmd_replay(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse_file(c, argc, argv, replay_opts, &a);
	if (rc != RK_CLI_GO)
		return rc;
	int64_t upto = -1;
	const char *s = ctl_get(replay_opts, &a, "--upto");
	if (s && ctl_int(c, "--upto", s, 0, RK_INT_MAX, &upto))
		return RK_EXIT_USAGE;
	rdb d;
	if (open_or_fail(c, &d, a.pos[0], false))
		return RK_EXIT_FAIL;
	rk_state *st;
	int64_t reached;
	char err[512];
	if (rdb_replay(&d, upto, ctl_flag(replay_opts, &a, "--from-scratch"), &st,
		       &reached, err, sizeof(err)) != RK_EXIT_OK) {
		rdb_close(&d);
		return ctl_fail(c, "%s", err);
	}
	rdb_close(&d);
	if (ctl_flag(replay_opts, &a, "--render")) {
		ctl_render(c->out, st);
	} else {
		rk_buf b;
		rk_buf_init(&b, 0);
		rk_state_encode(st, &b);
		if (rk_buf_ok(&b) == RK_OK) {
			fwrite(b.data, 1, b.len, c->out);
			fputc('\n', c->out);
		} else {
			rc = ctl_fail(c, "out of memory");
		}
		rk_buf_free(&b);
	}
	rk_state_free(st);
	return rc == RK_CLI_GO ? RK_EXIT_OK : rc;
}

/* ---- verify ------------------------------------------------------------- */

typedef struct snap_row {
	int64_t seq;
	char *state;
	size_t len;
} snap_row;

typedef struct verify_run {
	rdb *d;
	snap_row *snaps;
	size_t nsnaps, next_snap, verified;
	rk_state *st;
	char problem[600];
} verify_run;

static bool verify_snap(void *arg, int64_t seq, int64_t ts, const char *json, size_t len)
{
	verify_run *v = arg;
	(void)ts;
	void *p = realloc(v->snaps, (v->nsnaps + 1) * sizeof(*v->snaps));
	snap_row *s = p ? &((snap_row *)p)[v->nsnaps] : NULL;
	if (p)
		v->snaps = p;
	if (!s || !(s->state = malloc(len + 1))) {
		snprintf(v->problem, sizeof(v->problem), "snapshots: out of memory");
		return false;
	}
	s->seq = seq;
	s->len = len;
	memcpy(s->state, json, len);
	s->state[len] = '\0';
	v->nsnaps++;
	return true;
}

static bool verify_load_snaps(verify_run *v)
{
	char err[400];
	v->problem[0] = '\0';
	if (store_snapshots(v->d->s, verify_snap, v, err, sizeof(err)) != RK_OK) {
		snprintf(v->problem, sizeof(v->problem), "snapshots: %s", err);
		return false;
	}
	return !v->problem[0];
}

/* A snapshot of a file begun before revision 2 has chat posts without
 * their op id (a roomd of revision 2 keeps such posts as they were); the
 * replay knows every id. Such a snapshot is compared without any chat id:
 * true if it has a post without an id and equals the replay that way. */
static bool same_as_legacy(const rk_state *replayed, const snap_row *s)
{
	rk_state *stored = NULL;
	char err[64];
	if (rk_state_decode_text(s->state, s->len, &stored, err, sizeof(err)) != RK_OK)
		return false;
	bool legacy = false;
	for (size_t i = 0; i < stored->chat_len && !legacy; i++)
		legacy = rk_state_chat_at(stored, i)->id[0] == '\0';
	bool same = false;
	if (legacy) {
		rk_buf a, b;
		rk_buf_init(&a, 0);
		rk_buf_init(&b, 0);
		rk_state_encode_legacy(replayed, &a);
		rk_state_encode_legacy(stored, &b);
		same = rk_buf_ok(&a) == RK_OK && rk_buf_ok(&b) == RK_OK &&
		       a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
		rk_buf_free(&a);
		rk_buf_free(&b);
	}
	rk_state_free(stored);
	return same;
}

/* Compare every snapshot at seq with the state; false on a mismatch. */
static bool verify_snaps_at(verify_run *v, int64_t seq)
{
	while (v->next_snap < v->nsnaps && v->snaps[v->next_snap].seq == seq) {
		const snap_row *s = &v->snaps[v->next_snap++];
		rk_buf b;
		rk_buf_init(&b, 0);
		rk_state_encode(v->st, &b);
		bool same = rk_buf_ok(&b) == RK_OK && b.len == s->len &&
			    memcmp(b.data, s->state, s->len) == 0;
		if (!same && rk_buf_ok(&b) == RK_OK)
			same = same_as_legacy(v->st, s);
		if (!same) {
			size_t i = 0;
			while (i < b.len && i < s->len && b.data[i] == s->state[i])
				i++;
			snprintf(v->problem, sizeof(v->problem),
				 "snapshot at seq %lld differs from the replayed state "
				 "(first difference at byte %zu)",
				 (long long)seq, i);
		}
		rk_buf_free(&b);
		if (!same)
			return false;
		v->verified++;
	}
	return true;
}

typedef struct alarm_check {
	verify_run *v;
	rk_omap seen;
	bool ok;
} alarm_check;

/* One alarm row: it must be an open poll's, at the time the state says. */
static bool verify_alarm(void *arg, const char *id, int64_t at)
{
	alarm_check *a = arg;
	verify_run *v = a->v;
	const rk_poll *p = rk_omap_get(&v->st->polls, id, strlen(id));
	if (!p || p->closed || p->closes_at != at) {
		char when[40];
		ctl_fmt_ms(at, when, sizeof(when));
		snprintf(v->problem, sizeof(v->problem),
			 "alarm for poll '%s' at %s does not match the state (%s)", id,
			 when,
			 !p	     ? "no such poll"
			 : p->closed ? "the poll is closed"
				     : "the poll closes at another time");
		a->ok = false;
	} else if (rk_omap_put(&a->seen, id, strlen(id), (void *)1) != RK_OK) {
		snprintf(v->problem, sizeof(v->problem), "out of memory");
		a->ok = false;
	}
	return a->ok;
}

static bool verify_alarms(verify_run *v)
{
	alarm_check a = {.v = v, .ok = true};
	rk_omap_init(&a.seen);
	char err[400];
	if (store_alarms(v->d->s, verify_alarm, &a, err, sizeof(err)) != RK_OK) {
		snprintf(v->problem, sizeof(v->problem), "alarms: %s", err);
		rk_omap_free(&a.seen);
		return false;
	}
	bool ok = a.ok;
	rk_omap seen = a.seen;
	size_t it = 0;
	const rk_omap_entry *e;
	while (ok && rk_omap_next(&v->st->polls, &it, &e)) {
		const rk_poll *p = e->val;
		if (p->closed || p->closes_at <= 0 || rk_omap_get(&seen, e->key, e->klen))
			continue;
		snprintf(v->problem, sizeof(v->problem),
			 "open poll '%s' closes at %lld but has no alarm row", p->id,
			 (long long)p->closes_at);
		ok = false;
	}
	rk_omap_free(&seen);
	return ok;
}

static bool verify_log(verify_run *v, int64_t *nevents)
{
	rdb *d = v->d;
	int64_t min, max, count;
	if (rdb_seq_range(d, &min, &max, &count, v->problem, sizeof(v->problem)))
		return false;
	*nevents = 0;
	int64_t seq = 0;
	/* An empty log after snapshots (compact --keep-events 0) starts, and
	 * ends, at the newest snapshot. */
	if (!count && v->nsnaps)
		min = v->snaps[v->nsnaps - 1].seq + 1;
	if (min > 1) {
		/* A log that does not start at 1 starts from a snapshot. */
		size_t i = 0;
		while (i < v->nsnaps && v->snaps[i].seq < min - 1)
			i++;
		if (i == v->nsnaps || v->snaps[i].seq != min - 1) {
			snprintf(
			    v->problem, sizeof(v->problem),
			    "the log starts at seq %lld and there is no snapshot at seq "
			    "%lld to start from",
			    (long long)min, (long long)min - 1);
			return false;
		}
		char derr[200];
		if (rk_state_decode_text(v->snaps[i].state, v->snaps[i].len, &v->st, derr,
					 sizeof(derr)) != RK_OK) {
			snprintf(v->problem, sizeof(v->problem),
				 "snapshot at seq %lld is corrupt: %s",
				 (long long)min - 1, derr);
			return false;
		}
		seq = min - 1;
	} else if (!(v->st = rk_state_new())) {
		snprintf(v->problem, sizeof(v->problem), "out of memory");
		return false;
	}
	if (v->nsnaps && v->snaps[0].seq < seq) {
		snprintf(v->problem, sizeof(v->problem),
			 "snapshot at seq %lld is older than the log (first event %lld)",
			 (long long)v->snaps[0].seq, (long long)min);
		return false;
	}
	while (v->next_snap < v->nsnaps && v->snaps[v->next_snap].seq == seq)
		v->next_snap++, v->verified += seq > 0; /* the starting point */
	rdb_iter it;
	if (rdb_iter_begin(d, &it, 0, -1, NULL, v->problem, sizeof(v->problem)))
		return false;
	rk_buf applied;
	rk_buf_init(&applied, 0);
	int64_t last_ts = INT64_MIN;
	bool ok = true;
	int r;
	while (ok && (r = rdb_iter_next(d, &it, v->problem, sizeof(v->problem))) == 1) {
		const rdb_event *ev = &it.ev;
		if (ev->seq != seq + 1) {
			snprintf(v->problem, sizeof(v->problem),
				 "log gap: seq %lld follows %lld (seq %lld is missing)",
				 (long long)ev->seq, (long long)seq, (long long)seq + 1);
			ok = false;
			break;
		}
		if (ev->ts < last_ts) {
			snprintf(v->problem, sizeof(v->problem),
				 "event %lld: ts %lld goes backwards (previous %lld)",
				 (long long)ev->seq, (long long)ev->ts,
				 (long long)last_ts);
			ok = false;
			break;
		}
		rk_buf_reset(&applied);
		if (rdb_apply(v->st, ev, &applied, v->problem, sizeof(v->problem))) {
			ok = false;
			break;
		}
		if (rk_buf_ok(&applied) != RK_OK || applied.len != ev->op_len ||
		    memcmp(applied.data, ev->op, ev->op_len) != 0) {
			snprintf(v->problem, sizeof(v->problem),
				 "event %lld: the stored op is not the op as applied",
				 (long long)ev->seq);
			ok = false;
			break;
		}
		seq = ev->seq;
		last_ts = ev->ts;
		(*nevents)++;
		ok = verify_snaps_at(v, seq);
	}
	rdb_iter_end(&it);
	rk_buf_free(&applied);
	if (ok && r < 0)
		ok = false;
	if (ok && v->next_snap < v->nsnaps) {
		snprintf(v->problem, sizeof(v->problem),
			 "snapshot at seq %lld is past the last event (%lld)",
			 (long long)v->snaps[v->next_snap].seq, (long long)seq);
		ok = false;
	}
	return ok;
}

int cmd_verify(ctl_ctx *c, int argc, char **argv)
{
	ctl_args a;
	int rc = ctl_parse_file(c, argc, argv, NULL, &a);
	if (rc != RK_CLI_GO)
		return rc;
	rdb d;
	if (open_or_fail(c, &d, a.pos[0], false))
		return RK_EXIT_FAIL;
	verify_run v;
	memset(&v, 0, sizeof(v));
	v.d = &d;
	int64_t nevents = 0;
	bool ok = verify_load_snaps(&v) && verify_log(&v, &nevents) && verify_alarms(&v);
	if (ok)
		fprintf(c->out, "ok: %lld events, %zu snapshots verified\n",
			(long long)nevents, v.verified);
	else
		ctl_fail(c, "%s: %s", d.path, v.problem);
	for (size_t i = 0; i < v.nsnaps; i++)
		free(v.snaps[i].state);
	free(v.snaps);
	rk_state_free(v.st);
	rdb_close(&d);
	return ok ? RK_EXIT_OK : RK_EXIT_FAIL;
}
