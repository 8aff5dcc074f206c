/* retain.c - the idempotency window that log retention keeps (retain.h). */
#include "retain.h"

int64_t rk_retain_cut(int64_t last_seq, int64_t keep, int64_t first_recent)
{
	if (keep < RK_IDEM_EVENTS)
		keep = RK_IDEM_EVENTS;
	int64_t cut = last_seq - keep;
	if (cut >= first_recent)
		cut = first_recent - 1;
	return cut > 0 ? cut : 0;
}
