/* webhook.c - webhook bodies and the delivery thread (see webhook.h). */
#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "log.h"
#include "omap.h"
#include "roomid.h"
#include "store.h"
#include "webhook.h"
#include "whsig.h"

#define RETRY_BASE_MS 250
#define IDLE_POLL_MS 1000

/* One room the worker knows. Fields marked (mu) are read by the loop. */
typedef struct wroom {
	char id[RK_ROOM_ID_MAX + 1];
	char epoch[RK_EPOCH_MAX + 1]; /* (mu) of the file upto refers to */
	int64_t upto;		      /* (mu) delivered up to this outbox id */
	int64_t backlog;	      /* (mu) rows waiting, as of the last read */
	int64_t head_created_ms;      /* (mu) of the oldest waiting row */
	bool work;		      /* rows may be waiting */
	bool inflight;
	int attempts;	 /* failed attempts of the head row */
	int64_t next_ms; /* monotonic: no attempt before */
	int64_t head_id;
	char *body; /* the head row while in flight */
	size_t body_len;
	CURL *easy;
	struct curl_slist *hdrs;
	store_outbox *db; /* the room file's outbox, open while rows flow */
} wroom;

struct webhook {
	const roomd_config *cfg;
	char rooms_dir[1100];
	char pos_path[1100];
	pthread_t thr;
	bool started;
	pthread_mutex_t mu;
	bool stop;		    /* (mu) */
	rk_omap noted;		    /* (mu) room ids with new rows */
	rk_omap rooms;		    /* id -> wroom*; inserted under mu */
	uint64_t delivered, failed; /* (mu) */
	CURLM *multi;
	store_hookpos *pos; /* <data>/webhooks.db */
	int ninflight;
	unsigned seed;
};

/* ---- bodies ------------------------------------------------------------ */

static void enc_head(rk_buf *b, const char *type, const char *room, int64_t ts)
{
	rk_buf_puts(b, "\",\"type\":\"");
	rk_buf_puts(b, type);
	rk_buf_puts(b, "\",\"room\":");
	rk_buf_put_jstrz(b, room);
	rk_buf_puts(b, ",\"ts\":");
	rk_buf_put_i64(b, ts);
	rk_buf_puts(b, ",\"data\":{");
}

void webhook_enc_op(rk_buf *b, const char *room, const char *epoch, int64_t seq,
		    int64_t ts, const char *session, const char *user, const char *op_id,
		    const char *op, size_t op_len)
{
	rk_buf_printf(b, "{\"id\":\"op:%s:%s:%lld", room, epoch, (long long)seq);
	enc_head(b, "op", room, ts);
	rk_buf_printf(b, "\"seq\":%lld,\"user\":", (long long)seq);
	rk_buf_put_jstrz(b, user);
	rk_buf_puts(b, ",\"session\":");
	rk_buf_put_jstrz(b, session);
	rk_buf_puts(b, ",\"op_id\":");
	rk_buf_put_jstrz(b, op_id);
	rk_buf_puts(b, ",\"op\":");
	rk_buf_put(b, op, op_len);
	rk_buf_puts(b, "}}");
}

void webhook_enc_poll_closed(rk_buf *b, const char *room, const char *epoch, int64_t seq,
			     int64_t ts, const char *by, const rk_poll *p)
{
	rk_buf_printf(b, "{\"id\":\"poll.closed:%s:%s:%lld", room, epoch, (long long)seq);
	enc_head(b, "poll.closed", room, ts);
	rk_buf_printf(b, "\"seq\":%lld,\"closed_by\":", (long long)seq);
	rk_buf_put_jstrz(b, by);
	rk_buf_puts(b, ",\"poll\":");
	rk_state_encode_poll(p, b);
	rk_buf_puts(b, "}}");
}

void webhook_enc_presence(rk_buf *b, const char *room, int64_t ts, bool join,
			  const char *session, const char *user)
{
	const char *action = join ? "join" : "leave";
	rk_buf_printf(b, "{\"id\":\"presence:%s:%s:%s", room, session, action);
	enc_head(b, "presence", room, ts);
	rk_buf_printf(b, "\"action\":\"%s\",\"user\":", action);
	rk_buf_put_jstrz(b, user);
	rk_buf_puts(b, ",\"session\":");
	rk_buf_put_jstrz(b, session);
	rk_buf_puts(b, "}}");
}

/* ---- loop side --------------------------------------------------------- */

void webhook_notify(webhook *w, const char *room)
{
	pthread_mutex_lock(&w->mu);
	size_t n = strlen(room);
	if (!rk_omap_get(&w->noted, room, n) &&
	    rk_omap_put(&w->noted, room, n, w) != RK_OK)
		rk_warn("webhooks: out of memory noting room %s (its rows go at the next "
			"notice or restart)",
			room);
	pthread_mutex_unlock(&w->mu);
	curl_multi_wakeup(w->multi);
}

int64_t webhook_delivered(webhook *w, const char *room, const char *epoch)
{
	pthread_mutex_lock(&w->mu);
	wroom *r = rk_omap_get(&w->rooms, room, strlen(room));
	int64_t upto = r && strcmp(r->epoch, epoch) == 0 ? r->upto : 0;
	pthread_mutex_unlock(&w->mu);
	return upto;
}

void webhook_render_metrics(webhook *w, rk_buf *b)
{
	pthread_mutex_lock(&w->mu);
	int64_t max = 0, oldest = 0, rooms = 0, total = 0;
	size_t it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&w->rooms, &it, &e)) {
		const wroom *r = e->val;
		if (r->backlog <= 0)
			continue;
		rooms++;
		total += r->backlog;
		if (r->backlog > max)
			max = r->backlog;
		if (!oldest || r->head_created_ms < oldest)
			oldest = r->head_created_ms;
	}
	uint64_t delivered = w->delivered, failed = w->failed;
	pthread_mutex_unlock(&w->mu);
	double age = oldest ? (double)(rk_wall_ms() - oldest) / 1000.0 : 0.0;
	if (age < 0)
		age = 0;
	rk_buf_printf(
	    b,
	    "# HELP roomd_webhooks_delivered_total Webhooks answered 2xx.\n"
	    "# TYPE roomd_webhooks_delivered_total counter\n"
	    "roomd_webhooks_delivered_total %llu\n"
	    "# HELP roomd_webhook_attempts_failed_total Delivery attempts that failed "
	    "(error, timeout or non-2xx).\n"
	    "# TYPE roomd_webhook_attempts_failed_total counter\n"
	    "roomd_webhook_attempts_failed_total %llu\n"
	    "# HELP roomd_webhook_backlog_max Undelivered webhooks of the room with "
	    "the most.\n# TYPE roomd_webhook_backlog_max gauge\n"
	    "roomd_webhook_backlog_max %lld\n"
	    "# HELP roomd_webhook_backlog Undelivered webhooks, all rooms.\n"
	    "# TYPE roomd_webhook_backlog gauge\nroomd_webhook_backlog %lld\n"
	    "# HELP roomd_webhook_backlog_rooms Rooms with undelivered webhooks.\n"
	    "# TYPE roomd_webhook_backlog_rooms gauge\nroomd_webhook_backlog_rooms %lld\n"
	    "# HELP roomd_webhook_oldest_age_seconds Age of the oldest undelivered "
	    "webhook.\n# TYPE roomd_webhook_oldest_age_seconds gauge\n"
	    "roomd_webhook_oldest_age_seconds %.3f\n",
	    (unsigned long long)delivered, (unsigned long long)failed, (long long)max,
	    (long long)total, (long long)rooms, age);
}

/* ---- worker: rooms and progress --------------------------------------- */

/* The record of room id, created if new (under mu: the loop reads the map). */
static wroom *room_of(webhook *w, const char *id)
{
	size_t n = strlen(id);
	wroom *r = rk_omap_get(&w->rooms, id, n);
	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	snprintf(r->id, sizeof(r->id), "%s", id);
	pthread_mutex_lock(&w->mu);
	rk_err rc = rk_omap_put(&w->rooms, r->id, n, r);
	pthread_mutex_unlock(&w->mu);
	if (rc != RK_OK) {
		free(r);
		return NULL;
	}
	return r;
}

/* A room's recorded progress, at start (store_hookpos_open). */
static void pos_seen(void *arg, const char *id, const char *ep, int64_t upto)
{
	webhook *w = arg;
	if (!rk_roomid_validz(id))
		return;
	wroom *r = room_of(w, id);
	if (!r)
		return;
	pthread_mutex_lock(&w->mu);
	snprintf(r->epoch, sizeof(r->epoch), "%s", ep);
	r->upto = upto;
	pthread_mutex_unlock(&w->mu);
}

static bool pos_open(webhook *w)
{
	char err[300];
	w->pos = store_hookpos_open(w->pos_path, pos_seen, w, err, sizeof(err));
	if (!w->pos)
		rk_error("webhooks: cannot open %s: %s", w->pos_path, err);
	return w->pos != NULL;
}

static void pos_save(webhook *w, const wroom *r)
{
	char err[300];
	if (store_hookpos_put(w->pos, r->id, r->epoch, r->upto, err, sizeof(err)) !=
	    RK_OK)
		rk_warn(
		    "webhooks: cannot record delivery in %s: %s (it may be sent again)",
		    w->pos_path, err);
}

/* Every room file may hold backlog from an earlier run. */
static void scan_rooms(webhook *w)
{
	DIR *d = opendir(w->rooms_dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 4 || len - 3 > RK_ROOM_ID_MAX ||
		    strcmp(de->d_name + len - 3, ".db") != 0)
			continue;
		char id[RK_ROOM_ID_MAX + 1];
		memcpy(id, de->d_name, len - 3);
		id[len - 3] = '\0';
		wroom *r = rk_roomid_validz(id) ? room_of(w, id) : NULL;
		if (r)
			r->work = true;
	}
	closedir(d);
}

/* ---- worker: one delivery ---------------------------------------------- */

/* Drop r's request (done, or it could not start: retried shortly). */
static void request_free(webhook *w, wroom *r, bool retry)
{
	if (r->easy) {
		curl_multi_remove_handle(w->multi, r->easy);
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	free(r->body);
	r->body = NULL;
	if (retry)
		r->next_ms = rk_mono_us() / 1000 + RETRY_BASE_MS;
}

static void room_close_db(wroom *r)
{
	store_outbox_close(r->db);
	r->db = NULL;
}

/* Read r's next row into r->body (and its epoch, backlog); false if none
 * (or the file cannot be read now: the next notice looks again). */
static bool read_head(webhook *w, wroom *r)
{
	if (!r->db) {
		char path[1200];
		snprintf(path, sizeof(path), "%s/%s.db", w->rooms_dir, r->id);
		if (!(r->db = store_outbox_open(path)))
			return false;
	}
	char epoch[RK_EPOCH_MAX + 1];
	int64_t id = 0, created = 0, max = 0;
	char *body = NULL;
	size_t len = 0;
	int got = store_outbox_read(r->db, r->epoch, r->upto, epoch, &id, &created, &body,
				    &len, &max);
	if (got >= 0 && strcmp(epoch, r->epoch) != 0) {
		/* A new file for this room (or the first look): from its start. */
		pthread_mutex_lock(&w->mu);
		snprintf(r->epoch, sizeof(r->epoch), "%s", epoch);
		r->upto = 0;
		pthread_mutex_unlock(&w->mu);
	}
	if (got == 1) {
		r->body = body;
		r->body_len = len;
		r->head_id = id;
		pthread_mutex_lock(&w->mu);
		r->head_created_ms = created;
		r->backlog = max - r->upto;
		pthread_mutex_unlock(&w->mu);
		return true;
	}
	room_close_db(r);
	pthread_mutex_lock(&w->mu);
	r->backlog = 0;
	pthread_mutex_unlock(&w->mu);
	return false;
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	return size * n;
}

static void start(webhook *w, wroom *r)
{
	if (!read_head(w, r)) {
		r->work = false;
		return;
	}
	char sig[RK_WHSIG_MAX], hdr[RK_WHSIG_MAX + 32];
	if (!rk_whsig_sign(w->cfg->webhook_secret, w->cfg->webhook_secret_len,
			   rk_wall_ms() / 1000, r->body, r->body_len, sig))
		sig[0] = '\0';
	snprintf(hdr, sizeof(hdr), "Roomkit-Signature: %s", sig);
	r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	struct curl_slist *h2 = r->hdrs ? curl_slist_append(r->hdrs, hdr) : NULL;
	r->easy = h2 ? curl_easy_init() : NULL;
	if (!r->easy) {
		request_free(w, r, true);
		return;
	}
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, w->cfg->webhook_url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "roomd-webhooks/1");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)w->cfg->webhook_timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)w->cfg->webhook_timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	if (curl_multi_add_handle(w->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		r->easy = NULL;
		request_free(w, r, true);
		return;
	}
	r->inflight = true;
	w->ninflight++;
}

static void finish(webhook *w, wroom *r, CURLcode cc)
{
	long status = 0;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	request_free(w, r, false);
	r->inflight = false;
	w->ninflight--;
	if (cc == CURLE_OK && status >= 200 && status < 300) {
		pthread_mutex_lock(&w->mu);
		r->upto = r->head_id;
		if (r->backlog > 0)
			r->backlog--;
		w->delivered++;
		pthread_mutex_unlock(&w->mu);
		pos_save(w, r);
		r->attempts = 0;
		r->next_ms = 0;
		return; /* r->work stays: the next row */
	}
	pthread_mutex_lock(&w->mu);
	w->failed++;
	pthread_mutex_unlock(&w->mu);
	room_close_db(r); /* no file stays open while a room waits */
	int shift = r->attempts < 20 ? r->attempts : 20;
	r->attempts++;
	int64_t delay = (int64_t)RETRY_BASE_MS << shift;
	if (delay > w->cfg->webhook_retry_max_ms)
		delay = w->cfg->webhook_retry_max_ms;
	delay = delay / 2 + (int64_t)(rand_r(&w->seed) % (unsigned)(delay / 2 + 1));
	r->next_ms = rk_mono_us() / 1000 + delay;
	rk_debug("webhooks: room %s row %lld: %s (HTTP %ld), attempt %d, next in %lld ms",
		 r->id, (long long)r->head_id,
		 cc == CURLE_OK ? "refused" : curl_easy_strerror(cc), status, r->attempts,
		 (long long)delay);
}

/* ---- worker: the loop -------------------------------------------------- */

static void take_notes(webhook *w)
{
	pthread_mutex_lock(&w->mu);
	size_t n = rk_omap_count(&w->noted);
	char(*ids)[RK_ROOM_ID_MAX + 1] = n ? calloc(n, sizeof(*ids)) : NULL;
	size_t k = 0, it = 0;
	const rk_omap_entry *e;
	while (ids && rk_omap_next(&w->noted, &it, &e))
		memcpy(ids[k++], e->key, e->klen);
	if (ids)
		rk_omap_clear(&w->noted);
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < k; i++) {
		wroom *r = room_of(w, ids[i]);
		if (r)
			r->work = true;
	}
	free(ids);
}

static void *worker(void *arg)
{
	webhook *w = arg;
	if (!pos_open(w))
		rk_error(
		    "webhooks: progress is not recorded: every row is sent again after "
		    "a restart");
	scan_rooms(w);
	for (;;) {
		pthread_mutex_lock(&w->mu);
		bool stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		take_notes(w);
		int64_t now = rk_mono_us() / 1000;
		int64_t wait = IDLE_POLL_MS;
		size_t it = 0;
		const rk_omap_entry *e;
		while (rk_omap_next(&w->rooms, &it, &e)) {
			wroom *r = e->val;
			if (!r->work || r->inflight)
				continue;
			if (r->next_ms > now) {
				if (r->next_ms - now < wait)
					wait = r->next_ms - now;
				continue;
			}
			if (w->ninflight >= w->cfg->webhook_concurrency) {
				wait = 0;
				continue;
			}
			start(w, r);
			if (r->work && !r->inflight && r->next_ms - now < wait)
				wait = r->next_ms > now ? r->next_ms - now : 0;
		}
		int running = 0;
		curl_multi_perform(w->multi, &running);
		CURLMsg *m;
		int left;
		bool done = false;
		while ((m = curl_multi_info_read(w->multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			wroom *r = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			if (r) {
				finish(w, r, m->data.result);
				done = true;
			}
		}
		if (done)
			continue; /* start the next rows at once */
		if (wait == 0 && w->ninflight >= w->cfg->webhook_concurrency)
			wait = IDLE_POLL_MS; /* woken by a completion */
		curl_multi_poll(w->multi, NULL, 0, (int)wait, NULL);
	}
	/* Abandon what is in flight: sent again at the next start. */
	size_t it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&w->rooms, &it, &e)) {
		wroom *r = e->val;
		request_free(w, r, false);
		room_close_db(r);
	}
	return NULL;
}

webhook *webhook_start(const roomd_config *cfg, const char *data_dir, char *err,
		       size_t errlen)
{
	webhook *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->cfg = cfg;
	snprintf(w->rooms_dir, sizeof(w->rooms_dir), "%s/rooms", data_dir);
	snprintf(w->pos_path, sizeof(w->pos_path), "%s/webhooks.db", data_dir);
	w->seed = (unsigned)rk_mono_us();
	pthread_mutex_init(&w->mu, NULL);
	rk_omap_init(&w->noted);
	rk_omap_init(&w->rooms);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(w->multi = curl_multi_init())) {
		snprintf(err, errlen, "libcurl initialisation failed");
		webhook_stop(w);
		return NULL;
	}
	curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			  (long)cfg->webhook_concurrency);
	if (pthread_create(&w->thr, NULL, worker, w) != 0) {
		snprintf(err, errlen, "cannot start the webhook thread");
		webhook_stop(w);
		return NULL;
	}
	w->started = true;
	rk_info("webhooks to %s (types%s%s%s), %d in flight at most", cfg->webhook_url,
		cfg->webhook_types & WH_TYPE_OP ? " op" : "",
		cfg->webhook_types & WH_TYPE_PRESENCE ? " presence" : "",
		cfg->webhook_types & WH_TYPE_POLL_CLOSED ? " poll.closed" : "",
		cfg->webhook_concurrency);
	return w;
}

void webhook_stop(webhook *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		pthread_mutex_unlock(&w->mu);
		curl_multi_wakeup(w->multi);
		pthread_join(w->thr, NULL);
	}
	size_t it = 0;
	const rk_omap_entry *e;
	while (rk_omap_next(&w->rooms, &it, &e))
		free(e->val);
	rk_omap_free(&w->rooms);
	rk_omap_free(&w->noted);
	if (w->multi)
		curl_multi_cleanup(w->multi);
	store_hookpos_close(w->pos);
	curl_global_cleanup();
	pthread_mutex_destroy(&w->mu);
	free(w);
}
