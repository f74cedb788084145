/*
 * progress.h — a one-line progress bar on stderr for long work: count,
 * rate, ETA. Drawn only when enabled (callers enable it on a TTY), at most
 * ten times a second; adp_progress_end() clears the line.
 */
#ifndef ADP_PROGRESS_H
#define ADP_PROGRESS_H

#include <stdint.h>

struct adp_progress {
	int enabled;
	const char *label;
	uint64_t total;     /* 0 = unknown */
	int64_t start_us, last_us;
	int drawn;
};

void adp_progress_start(struct adp_progress *p, int enabled, const char *label,
			uint64_t total);
/* done of total; unit_done is shown as the rate's unit when total is 0. */
void adp_progress_update(struct adp_progress *p, uint64_t done, uint64_t total);
void adp_progress_end(struct adp_progress *p);

#endif
