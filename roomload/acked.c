/*
 * acked.c - --acked-file: after the run, one line "ROOM SEQ OP_ID" per op
 * the server reported committed (chk_op_seq: its ack or ack.dup, else an
 * event for it seen by any client of the room), so that a test can look
 * every one up in the stored log. The op rings cover the whole run when
 * the option is given (run.c), so no op is left out for age.
 */
#include "load.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool acked_file_reset(const load_config *cfg)
{
	if (!cfg->acked_file[0])
		return true;
	int fd = open(cfg->acked_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "Error: cannot write --acked-file %s: %s\n",
			cfg->acked_file, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

bool acked_file_write(load *ld)
{
	const load_config *cfg = &ld->cfg;
	if (!cfg->acked_file[0])
		return true;
	rk_buf b;
	rk_buf_init(&b, 0);
	uint64_t n = 0;
	for (uint32_t i = 0; i < ld->nclients; i++) {
		client *cl = &ld->clients[i];
		const chk_ops *o = &cl->ops;
		if (!o->r)
			continue;
		for (uint32_t k = 0; k <= o->mask; k++) {
			const chk_oprec *r = &o->r[k];
			int64_t seq = r->lseq ? chk_op_seq(r) : 0;
			if (seq <= 0)
				continue;
			char line[RK_ROOM_ID_MAX + 64];
			int len = snprintf(line, sizeof(line), "%s %lld c%u.%u\n",
					   ld->rooms[cl->room].name, (long long)seq,
					   cl->idx, r->lseq);
			rk_buf_put(&b, line, (size_t)len);
			n++;
		}
	}
	bool ok = rk_buf_ok(&b) == RK_OK;
	int fd = ok ? open(cfg->acked_file, O_WRONLY | O_APPEND | O_CLOEXEC) : -1;
	const char *p = b.data;
	size_t left = b.len;
	while (fd >= 0 && left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	ok = ok && fd >= 0 && left == 0;
	if (!ok)
		fprintf(stderr, "Error: cannot write --acked-file %s: %s\n",
			cfg->acked_file,
			fd >= 0 || rk_buf_ok(&b) == RK_OK ? strerror(errno)
							  : "out of memory");
	if (fd >= 0 && close(fd) != 0 && ok) {
		fprintf(stderr, "Error: --acked-file %s: %s\n", cfg->acked_file,
			strerror(errno));
		ok = false;
	}
	rk_buf_free(&b);
	ld->c.acked_lines = n;
	return ok;
}
