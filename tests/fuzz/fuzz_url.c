/*
 * fuzz_url.c - the WebSocket upgrade request as roomd reads it: the room id
 * from the path (rk_roomid_from_path), the query arguments
 * (rk_ws_args_parse) and who the request is (rk_ws_identify), with and
 * without a secret.
 *
 * Input: "<path>?<query>". The query is split at '&' into the "name=value"
 * fragments lws hands roomd (lws urldecodes them; any byte may appear).
 * Invariants: a room id that comes out is valid (so it is a safe file name);
 * every argument points into its own fragment, after "<name>=", within its
 * cap; an accepted identity has a printable name of 1-32 characters and a
 * real role, and with a secret its token covers the room.
 */
#include <string.h>
#include "fuzz.h"
#include "json.h"
#include "roomid.h"
#include "route.h"
#include "token.h"

enum { MAX_FRAGS = 32 };

/* v is NULL, or the value of one fragment "<name>=<value>" of at most cap
 * bytes. */
static void check_arg(const char *v, const char *name, size_t cap, char **frags, size_t n)
{
	if (!v)
		return;
	size_t nl = strlen(name);
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = v == frags[i] + nl + 1 && strncmp(frags[i], name, nl) == 0 &&
			frags[i][nl] == '=';
	FUZZ_CHECK(found);
	FUZZ_CHECK(strlen(v) <= cap);
}

static void check_identity(const rk_ws_identity *id)
{
	FUZZ_CHECK(rk_text_printable(id->user, strlen(id->user), RK_NAME_MAX));
	FUZZ_CHECK(id->role >= RK_ROLE_VIEWER && id->role <= RK_ROLE_OWNER);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	char room[RK_ROOM_ID_MAX + 1];
	/* The full request target too: the id stops at '?'. */
	if (rk_roomid_from_path(s, "/ws/", room))
		FUZZ_CHECK(rk_roomid_validz(room));

	char *q = strchr(s, '?');
	if (q)
		*q++ = '\0';
	bool have_room = rk_roomid_from_path(s, "/ws/", room);
	FUZZ_CHECK(have_room ? rk_roomid_validz(room) && strcmp(room, s + 4) == 0
			     : room[0] == '\0');

	char *frags[MAX_FRAGS];
	size_t n = 0;
	for (char *f = q; f && n < MAX_FRAGS;) {
		char *amp = strchr(f, '&');
		if (amp)
			*amp = '\0';
		frags[n++] = f;
		f = amp ? amp + 1 : NULL;
	}
	rk_ws_args a;
	rk_ws_args_parse((const char *const *)frags, n, &a);
	check_arg(a.token, "token", RK_WS_LONG_ARG, frags, n);
	check_arg(a.name, "name", RK_WS_LONG_ARG, frags, n);
	check_arg(a.client, "client", RK_ID_MAX, frags, n);
	check_arg(a.since, "since", RK_WS_SINCE_ARG, frags, n);
	check_arg(a.epoch, "epoch", RK_WS_EPOCH_ARG, frags, n);

	if (have_room) {
		rk_ws_identity id;
		const char *why = NULL;
		int st = rk_ws_identify(NULL, 0, &a, room, FUZZ_NOW_S, &id, &why);
		FUZZ_CHECK(st == 0 || (st == 400 && why));
		if (st == 0) {
			check_identity(&id);
			FUZZ_CHECK(id.role == RK_ROLE_EDITOR);
		}
		st = rk_ws_identify(FUZZ_SECRET, strlen(FUZZ_SECRET), &a, room,
				    FUZZ_NOW_S, &id, &why);
		FUZZ_CHECK(st == 0 || ((st == 401 || st == 403) && why));
		if (st == 0) {
			check_identity(&id);
			rk_claims c;
			FUZZ_CHECK(rk_token_verify(FUZZ_SECRET, strlen(FUZZ_SECRET),
						   a.token, strlen(a.token), FUZZ_NOW_S,
						   &c) == RK_TOK_OK);
			FUZZ_CHECK(rk_token_covers(&c, room) &&
				   strcmp(c.sub, id.user) == 0);
		}
	}
	free(s);
	return 0;
}
