/* progress.c — progress bar with rate and ETA. */
#include <stdio.h>

#include "deconf/util.h"
#include "progress.h"

#define BAR 24

void adp_progress_start(struct adp_progress *p, int enabled, const char *label,
			uint64_t total)
{
	p->enabled = enabled;
	p->label = label;
	p->total = total;
	p->start_us = p->last_us = deconf_mono_us();
	p->drawn = 0;
}

void adp_progress_update(struct adp_progress *p, uint64_t done, uint64_t total)
{
	int64_t now;
	double secs, rate;
	char bar[BAR + 1];

	if (!p->enabled)
		return;
	now = deconf_mono_us();
	if (total)
		p->total = total;
	if (now - p->last_us < 100000 && !(p->total && done >= p->total))
		return;
	p->last_us = now;
	secs = (double)(now - p->start_us) / 1e6;
	rate = secs > 0 ? (double)done / secs : 0;
	if (p->total) {
		uint64_t fill = done * BAR / p->total;
		for (int i = 0; i < BAR; i++)
			bar[i] = (uint64_t)i < fill ? '#' : '.';
		bar[BAR] = '\0';
		fprintf(stderr, "\r%s [%s] %llu/%llu  %.0f/s  ETA %.0fs   ", p->label, bar,
			(unsigned long long)done, (unsigned long long)p->total, rate,
			rate > 0 ? (double)(p->total - (done < p->total ? done : p->total)) / rate
				 : 0.0);
	} else {
		fprintf(stderr, "\r%s %llu  %.0f/s   ", p->label, (unsigned long long)done,
			rate);
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
