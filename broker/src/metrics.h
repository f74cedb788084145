/*
 * metrics.h — the broker's Prometheus metrics and its /metrics, /healthz,
 * /readyz endpoint (libmicrohttpd, its own thread).
 *
 * Series are (family, labels) → value. Families are fixed in metrics.c
 * (name, type, help), so the exposition and the Grafana dashboard cannot
 * drift apart; label sets are whatever the caller passes, already in
 * Prometheus form (`agency="a",kind="conflict"`). Histograms have fixed
 * latency buckets (seconds). Thread safe: one mutex; callers update once
 * per batch, not per record, where it matters.
 */
#ifndef BRK_METRICS_H
#define BRK_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "deconf/limits.h"

struct brk_metrics;
struct brk_directory;

int brk_metrics_new(struct brk_metrics **out);
void brk_metrics_free(struct brk_metrics *mx);

/* counter += v (family must be a counter) */
void brk_metrics_add(struct brk_metrics *mx, const char *family, const char *labels, double v);
/* gauge = v */
void brk_metrics_set(struct brk_metrics *mx, const char *family, const char *labels, double v);
/* histogram observation, in seconds */
void brk_metrics_observe(struct brk_metrics *mx, const char *family, const char *labels,
			 double seconds);

/* deconf_consumer_lag{part=...,partition=...} for every partition assigned
 * to consumer (from its cached watermarks: no request), and
 * deconf_partitions_owned{part=...}. */
struct rd_kafka_s;
void brk_metrics_lag(struct brk_metrics *mx, struct rd_kafka_s *consumer, const char *part);

/* The exposition text (malloc'ed, caller frees). */
char *brk_metrics_render(struct brk_metrics *mx);

/*
 * Health. Parts (ingest, matcher) register, then report:
 *   - ready: it holds its partitions (an assignment arrived, even an empty
 *     one) and has restored them; not ready while starting, waiting for a
 *     rebalance or restoring (what says which);
 *   - committed: each time a batch commits;
 *   - pending: once it has read input it has not committed (set when a
 *     batch takes its first record, cleared only by a commit, so a batch
 *     aborted and retried stays pending);
 *   - heartbeat: each time round its loop;
 *   - its lag, through brk_metrics_lag().
 * /readyz (brk_metrics_is_ready) answers 200 when every registered part is
 * ready and none is stuck: input pending for stall_after (a batch failing
 * again and again, a commit blocked on Kafka). Lag alone is not stuck: an
 * aborted transaction's records count in it and are never returned. /healthz (brk_metrics_is_alive)
 * answers 200 unless a part's thread has not looped for 10 x stall_after
 * (hung: restart the process; longer than any Kafka call may block).
 */
int brk_metrics_part(struct brk_metrics *mx, const char *name);
void brk_metrics_ready(struct brk_metrics *mx, int part, int ready);
/* ready, with what the part is doing when not ("waiting for partitions") */
void brk_metrics_status(struct brk_metrics *mx, int part, int ready, const char *what);
void brk_metrics_committed(struct brk_metrics *mx, int part);
void brk_metrics_pending(struct brk_metrics *mx, int part, int pending);
/* A partition of the part is stopped because records it must read are
 * gone (why: which and what to do; NULL: none is): not ready. */
void brk_metrics_blocked(struct brk_metrics *mx, int part, const char *why);
void brk_metrics_heartbeat(struct brk_metrics *mx, int part);
/* stall_after in ms (default 30000) */
void brk_metrics_set_stall(struct brk_metrics *mx, int64_t stall_after_ms);
int brk_metrics_is_ready(struct brk_metrics *mx, char *why, size_t why_size);
int brk_metrics_is_alive(struct brk_metrics *mx, char *why, size_t why_size);
/* The same at a given monotonic time (tests). */
int brk_metrics_is_ready_at(struct brk_metrics *mx, int64_t mono_us, char *why, size_t why_size);
int brk_metrics_is_alive_at(struct brk_metrics *mx, int64_t mono_us, char *why, size_t why_size);
/* A part's lag as brk_metrics_lag last saw it (tests, and the part itself). */
void brk_metrics_set_lag(struct brk_metrics *mx, int part, int64_t lag);

/*
 * What the watch desk page (desk.h) reads. brk_metrics_each calls fn with
 * the labels and value of every series of family (counters and gauges),
 * under the registry's lock: fn must not call into mx.
 */
typedef void brk_metrics_each_fn(void *opaque, const char *labels, double value);
void brk_metrics_each(struct brk_metrics *mx, const char *family, brk_metrics_each_fn *fn,
		      void *opaque);

/* One part as /readyz sees it (a copy). */
struct brk_part_view {
	char name[16];
	int ready;
	char what[64];      /* what it does while not ready */
	char blocked[160];  /* a partition stopped for lost records: why ("" none) */
	int64_t lag;        /* records behind, as last seen */
	double pending_s;   /* input read and not committed for this long (0: none) */
};
/* Copy up to max parts into out; returns how many there are (<= max). */
size_t brk_metrics_parts(struct brk_metrics *mx, struct brk_part_view *out, size_t max);

/* One open escalation as the watch desk lists it: who has not
 * acknowledged a cautioned conflict, with whom, and both contacts. No
 * token, value or case reference. */
struct brk_esc_view {
	char agency[DECONF_AGENCY_ID_MAX + 1], other_agency[DECONF_AGENCY_ID_MAX + 1];
	/* name, phone, email: the case's contact, else the agency's desk */
	char poc[3][DECONF_DIR_TEXT_MAX + 1], other_poc[3][DECONF_DIR_TEXT_MAX + 1];
	uint32_t caution_flags; /* both sides' */
	int type;		/* IndicatorType */
	int64_t notified_at, escalated_at; /* ms since the epoch */
};
#define BRK_ESC_VIEW_MAX 50

/* A liaison request as the watch desk lists it: a conflict across a
 * sharing scope between these two agencies, and the pair's reference to
 * quote (what the LIAISON ops event carries). */
struct brk_liaison_view {
	char agency[DECONF_AGENCY_ID_MAX + 1], other_agency[DECONF_AGENCY_ID_MAX + 1];
	uint8_t ref[16];
	int64_t at; /* ms since the epoch */
};
#define BRK_LIAISON_VIEW_MAX 20
/* The matcher adds each once its batch committed; the desk copies the
 * latest BRK_LIAISON_VIEW_MAX out, newest first (returns how many). */
void brk_metrics_add_liaison(struct brk_metrics *mx, const struct brk_liaison_view *v);
size_t brk_metrics_liaisons(struct brk_metrics *mx, struct brk_liaison_view *out, size_t max);
/* The matcher's latest list (the longest open first, at most
 * BRK_ESC_VIEW_MAX of the partitions it holds) and how many are open in
 * all; the desk copies it out (returns how many copied). */
void brk_metrics_set_escalations(struct brk_metrics *mx, const struct brk_esc_view *v, size_t n,
				 uint64_t open);
size_t brk_metrics_escalations(struct brk_metrics *mx, struct brk_esc_view *out, size_t max,
			       uint64_t *open);

/*
 * Conflicts per hour: deconf_conflicts_total as it grew, hour by hour, for
 * the last BRK_HOURS hours of this process (the counter is the process's
 * own too). out[0] is the hour now (wall clock, UTC hours), out[1] the one
 * before. brk_metrics_add feeds it; the _at form is for tests.
 */
#define BRK_HOURS 24
void brk_metrics_hourly(struct brk_metrics *mx, int64_t now_s, double out[BRK_HOURS]);
void brk_metrics_conflicts_at(struct brk_metrics *mx, int64_t now_s, double v);

/* The directory the watch desk lists agencies from (borrowed; NULL: none):
 * set before brk_http_start. */
void brk_metrics_set_directory(struct brk_metrics *mx, struct brk_directory *dir);

/* Serve /metrics, /healthz, /readyz and the watch desk (/ and /desk) on address:port (port 0: not at all).
 * Returns 0 or an error with errstr. */
int brk_http_start(struct brk_metrics *mx, const char *address, int port, char *errstr,
		   size_t errstr_size);
void brk_http_stop(struct brk_metrics *mx);

#endif
