/*
 * progress.h — a one-line progress bar on stderr for long work: a bar when
 * the total is known, the count of items, their rate and an ETA. Drawn
 * only when enabled (callers enable it on a TTY, never on a pipe), at most
 * ten times a second; adp_progress_end() clears the line.
 */
#ifndef ADP_PROGRESS_H
#define ADP_PROGRESS_H

#include <stdint.h>

struct adp_progress {
	int enabled;
	const char *label, *unit; /* "reading", "rows" */
	int64_t start_us, last_us;
	int drawn;
};

void adp_progress_start(struct adp_progress *p, int enabled, const char *label,
			const char *unit);
/*
 * done of total (any measure: bytes, cases; total 0 = unknown) decides the
 * bar and the ETA; items (rows, cases) are counted and their rate shown.
 */
void adp_progress_update(struct adp_progress *p, uint64_t done, uint64_t total,
			 uint64_t items);
void adp_progress_end(struct adp_progress *p);

#endif
