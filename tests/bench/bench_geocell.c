/* bench_geocell.c — what an event's cells cost: how many, and how fast.
 *
 * A benchmark program, not a test: it prints figures and exits 0 (1 on a
 * usage error or if adp_geocell_cover refuses a generated event, a bug).
 *
 *     bench_geocell [-n N] [-r R]
 *
 * For each radius (25, 100, 300, 1000, 5000 m, then radii drawn
 * log-uniformly over the bounds), N events (default 20,000) with centres
 * uniform on the sphere (a fixed seed: the same events on every run), on one
 * thread, R times (default 5):
 *   - cells per event: COVER and PARENT counts, median and max;
 *   - covers per second: adp_geocell_cover calls/s, median (min, max) of R.
 * Every cell's value is hashed into a sink printed at the end, so nothing is
 * optimized away.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deconf/err.h"
#include "geocell.h"

#define N_DEFAULT 20000L
#define R_DEFAULT 5
#define R_MAX 99
#define DEG (M_PI / 180.0)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* splitmix64: the same events on every run and machine */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rnd01(void)
{
	return (double)(rnd() >> 11) * 0x1.0p-53;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct centre {
	double lat, lon, r;
};

static uint64_t sink;

/* One pass over the events; counts per event into cover[] and parent[]
 * when they are not NULL. Returns 0, or 1 if an event was refused. */
static int pass(const struct centre *ev, long n, size_t *cover, size_t *parent)
{
	static struct adp_geocell cells[ADP_GEOCELL_MAX];
	char err[256];
	size_t k;

	for (long i = 0; i < n; i++) {
		int rc = adp_geocell_cover(ev[i].lat, ev[i].lon, ev[i].r, cells, ADP_GEOCELL_MAX,
					   &k, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "bench_geocell: %.17g,%.17g r=%.17g refused: %s\n",
				ev[i].lat, ev[i].lon, ev[i].r, err);
			return 1;
		}
		size_t c = 0;
		for (size_t j = 0; j < k; j++) {
			c += cells[j].role == ADP_GEOCELL_COVER;
			for (size_t b = 0; b < cells[j].len; b++)
				sink = (sink ^ (uint8_t)cells[j].value[b]) * 0x100000001b3ULL;
		}
		if (cover)
			cover[i] = c;
		if (parent)
			parent[i] = k - c;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const double radii[] = {25, 100, 300, 1000, 5000, 0 /* log-uniform */};
	long n = N_DEFAULT;
	int reps = R_DEFAULT, opt;
	struct centre *ev;
	size_t *cover, *parent;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || n < 1 || n > 10000000 || reps < 1 || reps > R_MAX)
		goto usage;
	ev = calloc((size_t)n, sizeof(*ev));
	cover = calloc((size_t)n, sizeof(*cover));
	parent = calloc((size_t)n, sizeof(*parent));
	if (!ev || !cover || !parent) {
		fprintf(stderr, "bench_geocell: out of memory\n");
		return 1;
	}

	printf("bench_geocell: %ld events per row (centres uniform on the sphere), %d repetitions, "
	       "1 thread\n\n",
	       n, reps);
	printf("%-9s %5s %9s %9s %9s  %-11s %-11s %-11s %10s %10s %10s %8s\n", "radius m",
	       "level", "width m", "diag m", "band m", "COVER", "PARENT", "total", "covers/s",
	       "min", "max", "us/cover");
	printf("%-9s %5s %9s %9s %9s  %-11s %-11s %-11s\n", "", "", "(min)", "(max)", "",
	       "med / max", "med / max", "med / max");
	for (size_t ri = 0; ri < sizeof(radii) / sizeof(radii[0]); ri++) {
		double rate[R_MAX], width = 0, diag = 0;
		int level = -1;

		rng_state = 0x9e3779b97f4a7c15ULL + ri;
		for (long i = 0; i < n; i++) {
			ev[i].lat = asin(2 * rnd01() - 1) / DEG;
			ev[i].lon = -180 + 360 * rnd01();
			ev[i].r = radii[ri] ? radii[ri]
					    : DECONF_EVENT_RADIUS_MIN_M *
						      exp(rnd01() * log(DECONF_EVENT_RADIUS_MAX_M /
									DECONF_EVENT_RADIUS_MIN_M));
		}
		if (pass(ev, n, cover, parent))
			return 1;
		for (int r = 0; r < reps; r++) {
			double t0 = now();

			if (pass(ev, n, NULL, NULL))
				return 1;
			rate[r] = (double)n / (now() - t0);
		}
		size_t *total = malloc((size_t)n * sizeof(*total));
		if (!total)
			return 1;
		for (long i = 0; i < n; i++)
			total[i] = cover[i] + parent[i];
		qsort(cover, (size_t)n, sizeof(*cover), cmp_size);
		qsort(parent, (size_t)n, sizeof(*parent), cmp_size);
		qsort(total, (size_t)n, sizeof(*total), cmp_size);
		qsort(rate, (size_t)reps, sizeof(*rate), cmp_double);
		char rbuf[16], lbuf[8], wbuf[16], dbuf[16], bbuf[16], c1[16], c2[16], c3[16];
		if (radii[ri]) {
			level = adp_geocell_level(radii[ri]);
			adp_geocell_size_m(level, &width, &diag);
			snprintf(rbuf, sizeof(rbuf), "%.0f", radii[ri]);
			snprintf(lbuf, sizeof(lbuf), "%d", level);
			snprintf(wbuf, sizeof(wbuf), "%.0f", width);
			snprintf(dbuf, sizeof(dbuf), "%.0f", diag);
			snprintf(bbuf, sizeof(bbuf), "%.0f", adp_geocell_band_m(level));
		} else {
			snprintf(rbuf, sizeof(rbuf), "25-5000");
			snprintf(lbuf, sizeof(lbuf), "%d-%d", ADP_GEOCELL_LEVEL_MIN,
				 ADP_GEOCELL_LEVEL_MAX);
			strcpy(wbuf, "-");
			strcpy(dbuf, "-");
			strcpy(bbuf, "-");
		}
		snprintf(c1, sizeof(c1), "%zu / %zu", cover[n / 2], cover[n - 1]);
		snprintf(c2, sizeof(c2), "%zu / %zu", parent[n / 2], parent[n - 1]);
		snprintf(c3, sizeof(c3), "%zu / %zu", total[n / 2], total[n - 1]);
		printf("%-9s %5s %9s %9s %9s  %-11s %-11s %-11s %10.0f %10.0f %10.0f %8.2f\n", rbuf,
		       lbuf, wbuf, dbuf, bbuf, c1, c2, c3, rate[reps / 2], rate[0], rate[reps - 1],
		       1e6 / rate[reps / 2]);
		free(total);
	}
	printf("\n(width: the level's min cell width; diag: its max cell diagonal; band: the most\n"
	       " two events sharing a cell of that level can be apart, adp_geocell_band_m)\n");
	printf("sink %016llx\n", (unsigned long long)sink);
	free(ev);
	free(cover);
	free(parent);
	return 0;
usage:
	fprintf(stderr, "usage: bench_geocell [-n EVENTS (1..10000000, default %ld)] "
			"[-r REPETITIONS (1..%d, default %d)]\n",
		N_DEFAULT, R_MAX, R_DEFAULT);
	return 1;
}
