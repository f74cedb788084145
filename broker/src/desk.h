/*
 * desk.h — the watch desk: the federation's operators' page, served by the
 * broker's HTTP port at / and /desk beside /metrics.
 *
 * It shows what this broker process already knows and nothing an agency
 * would not want a federation operator to see: the agencies of the
 * directory and their status, conflicts per hour, notices sent, rejects by
 * reason, hot tokens, the open escalations of the partitions it holds
 * (who has not acknowledged, the counterpart, both contacts, how long)
 * and each part's readiness and lag. Never a raw value, a token or a case reference: none
 * of the sources it reads holds one. Server-rendered HTML, no script, no
 * external asset, refreshed by <meta http-equiv="refresh">.
 *
 * Directory text (names, countries) is the federation's, but every string
 * goes through brk_desk_escape all the same.
 */
#ifndef BRK_DESK_H
#define BRK_DESK_H

#include <stddef.h>
#include <stdint.h>

struct brk_metrics;
struct brk_directory;

/*
 * s (len bytes, may hold NULs) as HTML text safe in an element or a quoted
 * attribute: & < > " ' as entities; control characters (C0, DEL, C1),
 * bidirectional overrides and invalid UTF-8 (overlong, surrogate, past
 * U+10FFFF, truncated) each as U+FFFD. Malloc'ed; NULL when out of memory.
 */
char *brk_desk_escape(const char *s, size_t len);

/* The page at wall time now_s (seconds, UTC), malloc'ed; NULL when out of
 * memory. dir may be NULL (no agencies listed). */
char *brk_desk_render(struct brk_metrics *mx, struct brk_directory *dir, int64_t now_s);

#endif
