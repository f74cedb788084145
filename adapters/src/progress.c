/* progress.c — progress bar with count, rate and ETA. */
#include <stdio.h>

#include "deconf/util.h"
#include "progress.h"

#define BAR 24

void adp_progress_start(struct adp_progress *p, int enabled, const char *label,
			const char *unit)
{
	p->enabled = enabled;
	p->label = label;
	p->unit = unit;
	p->start_us = p->last_us = deconf_mono_us();
	p->drawn = 0;
}

void adp_progress_update(struct adp_progress *p, uint64_t done, uint64_t total,
			 uint64_t items)
{
	int64_t now;
	double secs, rate, frac;
	char bar[BAR + 1];

	if (!p->enabled)
		return;
	now = deconf_mono_us();
	if (now - p->last_us < 100000 && !(total && done >= total))
		return;
	p->last_us = now;
	secs = (double)(now - p->start_us) / 1e6;
	rate = secs > 0 ? (double)items / secs : 0;
	if (total) {
		frac = done >= total ? 1.0 : (double)done / (double)total;
		for (int i = 0; i < BAR; i++)
			bar[i] = i < (int)(frac * BAR) ? '#' : '.';
		bar[BAR] = '\0';
		fprintf(stderr, "\r%s [%s] %3.0f%%  %llu %s  %.0f/s  ETA %.0fs   ", p->label,
			bar, frac * 100, (unsigned long long)items, p->unit, rate,
			frac > 0 ? secs / frac - secs : 0.0);
	} else {
		fprintf(stderr, "\r%s %llu %s  %.0f/s   ", p->label, (unsigned long long)items,
			p->unit, rate);
	}
	fflush(stderr);
	p->drawn = 1;
}

void adp_progress_end(struct adp_progress *p)
{
	if (p->enabled && p->drawn) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
}
