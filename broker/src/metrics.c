/* metrics.c — Prometheus metrics and the health endpoint (see metrics.h). */
#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/util.h"
#include "desk.h"
#include "metrics.h"

enum kind { COUNTER, GAUGE, HISTOGRAM };

static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				   0.25,  0.5,    1,     2.5,  5,     10 };
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))
/* How long people take (time to acknowledge): a second to a day, as many
 * buckets as the latency ones so a series has room for either. */
static const double human_buckets[N_BUCKETS] = { 1,   10,  30,   60,    120,   300,  600,
						 900, 1800, 3600, 14400, 43200, 86400 };

static const struct family {
	const char *name;
	enum kind kind;
	const char *help;
} families[] = {
	{ "deconf_submissions_total", COUNTER,
	  "Submission records read by ingest, by agency and result (accepted, rejected, resend)" },
	{ "deconf_rejects_total", COUNTER, "Submissions refused, by agency and reason" },
	{ "deconf_ops_total", COUNTER, "Token ops applied by the matcher, by agency and op" },
	{ "deconf_notices_total", COUNTER, "Notices committed, by recipient agency and kind" },
	{ "deconf_conflicts_total", COUNTER, "Conflicting pairs found (each notified once)" },
	{ "deconf_expired_total", COUNTER, "Entries expired, and expiry warnings sent (kind)" },
	{ "deconf_hot_tokens_total", COUNTER, "Tokens that became hot" },
	{ "deconf_txn_commits_total", COUNTER, "Kafka transactions committed, by part" },
	{ "deconf_txn_aborts_total", COUNTER, "Kafka transactions aborted, by part" },
	{ "deconf_client_restarts_total", COUNTER,
	  "Times a part made its Kafka clients again after one failed fatally (a fenced "
	  "consumer or producer), by part" },
	{ "deconf_state_entries", GAUGE, "Entries in this instance's state store" },
	{ "deconf_state_full_total", COUNTER,
	  "Times the matcher found its state store unable to grow (disk or map full) and "
	  "stopped committing until it could" },
	{ "deconf_state_bytes", GAUGE, "Bytes of this instance's state store in use" },
	{ "deconf_partitions_owned", GAUGE, "Partitions assigned to this instance, by part" },
	{ "deconf_consumer_lag", GAUGE, "Records behind the end, by part and partition" },
	{ "deconf_restored_records_total", COUNTER, "Changelog records applied while restoring" },
	{ "deconf_records_lost", GAUGE,
	  "Records a part must read that are gone (retention, DeleteRecords) below where it "
	  "stands: its partition is stopped until the operator accepts the loss, by part, topic "
	  "and partition" },
	{ "deconf_ingest_throttled_total", COUNTER,
	  "Times an agency's submit topic was paused for going over its ingest quota, by agency" },
	{ "deconf_ingest_throttled_seconds_total", COUNTER,
	  "Seconds an agency's submit topic was paused for its ingest quota, by agency" },
	{ "deconf_batch_seconds", HISTOGRAM, "Time to process and commit one batch, by part" },
	{ "deconf_notice_latency_seconds", HISTOGRAM,
	  "Submission created_at to the commit of its notice (when the agency can read it)" },
	{ "deconf_time_to_ack_seconds", HISTOGRAM,
	  "Conflict notice to its recipient's first acknowledgment, by the recipient's level and "
	  "whether the conflict carries a caution flag that escalates" },
	{ "deconf_outcomes_total", COUNTER,
	  "Outcomes agencies recorded on conflicts (each new one per side), by outcome" },
	{ "deconf_escalations_total", COUNTER,
	  "Cautioned conflicts not acknowledged within matcher.escalate_after, told to ops" },
	{ "deconf_liaisons_total", COUNTER,
	  "Conflicts across a sharing scope: a side told only of a scoped match (LIAISON on "
	  "deconf.ops)" },
	{ "deconf_escalations_open", GAUGE,
	  "Escalated conflicts still not acknowledged (this instance's partitions)" },
};
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

/* Histograms whose buckets are not the latency ones. */
static const struct {
	const char *family;
	const double *buckets;
} bucket_sets[] = {
	{ "deconf_time_to_ack_seconds", human_buckets },
};

static const double *buckets_of(const struct family *f)
{
	for (size_t i = 0; i < sizeof(bucket_sets) / sizeof(bucket_sets[0]); i++)
		if (!strcmp(bucket_sets[i].family, f->name))
			return bucket_sets[i].buckets;
	return buckets;
}

struct series {
	const struct family *f;
	char *labels;
	double value, sum;
	unsigned long long count, b[N_BUCKETS];
};

#define MAX_PARTS 8
/* hung: no loop for this many stall_after (longer than any one Kafka call
 * may block, so an outage of Kafka is "not ready", not "restart me") */
#define HUNG_STALLS 10

struct part {
	const char *name;
	int ready;
	char what[64];       /* what it does while not ready */
	int64_t lag;         /* records behind, as last seen */
	int64_t committed;   /* mono us of the last commit (or of becoming ready) */
	int64_t heartbeat;   /* mono us of its last loop */
	int64_t pending;     /* mono us since input read is not committed; 0: none */
	char blocked[160];   /* a partition stopped for lost records: why */
};

struct brk_metrics {
	pthread_mutex_t lock;
	struct series *s;
	size_t n, cap;
	struct MHD_Daemon *httpd;
	struct part parts[MAX_PARTS];
	int n_parts;
	int64_t stall_us;
	/* conflicts per hour: hour[i] counts UTC hour at[i] (hour number
	 * since the epoch), i = that number % BRK_HOURS */
	double hour[BRK_HOURS];
	int64_t at[BRK_HOURS];
	struct brk_directory *dir;
	/* the open escalations the matcher last listed */
	struct brk_esc_view esc[BRK_ESC_VIEW_MAX];
	size_t n_esc;
	uint64_t esc_open;
	/* the latest liaison requests, a ring: next is where the next goes */
	struct brk_liaison_view lia[BRK_LIAISON_VIEW_MAX];
	size_t n_lia, next_lia;
};

int brk_metrics_new(struct brk_metrics **out)
{
	struct brk_metrics *mx = calloc(1, sizeof(*mx));

	*out = NULL;
	if (!mx)
		return DECONF_E_NOMEM;
	pthread_mutex_init(&mx->lock, NULL);
	mx->stall_us = 30 * 1000000LL;
	*out = mx;
	return DECONF_OK;
}

void brk_metrics_free(struct brk_metrics *mx)
{
	if (!mx)
		return;
	brk_http_stop(mx);
	for (size_t i = 0; i < mx->n; i++)
		free(mx->s[i].labels);
	free(mx->s);
	pthread_mutex_destroy(&mx->lock);
	free(mx);
}

/* The series, created on first use; NULL for an unknown family (a bug:
 * logged once per call site is enough, the metric is just missing). */
static struct series *get(struct brk_metrics *mx, const char *family, const char *labels)
{
	const struct family *f = NULL;

	if (!labels)
		labels = "";
	for (size_t i = 0; i < mx->n; i++)
		if (!strcmp(mx->s[i].f->name, family) && !strcmp(mx->s[i].labels, labels))
			return &mx->s[i];
	for (size_t i = 0; i < N_FAMILIES; i++)
		if (!strcmp(families[i].name, family))
			f = &families[i];
	if (!f)
		return NULL;
	if (DECONF_GROW(mx->s, mx->n, mx->cap, 64))
		return NULL;
	memset(&mx->s[mx->n], 0, sizeof(mx->s[0]));
	mx->s[mx->n].f = f;
	if (!(mx->s[mx->n].labels = strdup(labels)))
		return NULL;
	return &mx->s[mx->n++];
}

/* Under the lock. */
static void hour_add(struct brk_metrics *mx, int64_t now_s, double v)
{
	int64_t h = now_s / 3600;
	size_t i = (size_t)(h % BRK_HOURS);

	if (mx->at[i] != h) {
		mx->at[i] = h;
		mx->hour[i] = 0;
	}
	mx->hour[i] += v;
}

void brk_metrics_add(struct brk_metrics *mx, const char *family, const char *labels, double v)
{
	struct series *s;

	if (!mx)
		return;
	pthread_mutex_lock(&mx->lock);
	if ((s = get(mx, family, labels)))
		s->value += v;
	if (v > 0 && !strcmp(family, "deconf_conflicts_total"))
		hour_add(mx, (int64_t)time(NULL), v);
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_conflicts_at(struct brk_metrics *mx, int64_t now_s, double v)
{
	pthread_mutex_lock(&mx->lock);
	hour_add(mx, now_s, v);
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_hourly(struct brk_metrics *mx, int64_t now_s, double out[BRK_HOURS])
{
	int64_t h = now_s / 3600;

	pthread_mutex_lock(&mx->lock);
	for (int64_t k = 0; k < BRK_HOURS; k++) {
		size_t i = (size_t)((h - k) % BRK_HOURS);
		out[k] = h - k >= 0 && mx->at[i] == h - k ? mx->hour[i] : 0;
	}
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_each(struct brk_metrics *mx, const char *family, brk_metrics_each_fn *fn,
		      void *opaque)
{
	pthread_mutex_lock(&mx->lock);
	for (size_t i = 0; i < mx->n; i++)
		if (mx->s[i].f->kind != HISTOGRAM && !strcmp(mx->s[i].f->name, family))
			fn(opaque, mx->s[i].labels, mx->s[i].value);
	pthread_mutex_unlock(&mx->lock);
}

size_t brk_metrics_parts(struct brk_metrics *mx, struct brk_part_view *out, size_t max)
{
	int64_t now = deconf_mono_us();
	size_t n = 0;

	pthread_mutex_lock(&mx->lock);
	for (int i = 0; i < mx->n_parts && n < max; i++, n++) {
		const struct part *p = &mx->parts[i];
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].name, sizeof(out[n].name), "%s", p->name);
		out[n].ready = p->ready;
		snprintf(out[n].what, sizeof(out[n].what), "%s", p->what);
		snprintf(out[n].blocked, sizeof(out[n].blocked), "%s", p->blocked);
		out[n].lag = p->lag;
		out[n].pending_s = p->pending ? (double)(now - p->pending) / 1e6 : 0;
	}
	pthread_mutex_unlock(&mx->lock);
	return n;
}

void brk_metrics_set_escalations(struct brk_metrics *mx, const struct brk_esc_view *v, size_t n,
				 uint64_t open)
{
	if (n > BRK_ESC_VIEW_MAX)
		n = BRK_ESC_VIEW_MAX;
	pthread_mutex_lock(&mx->lock);
	if (n)
		memcpy(mx->esc, v, n * sizeof(*v));
	mx->n_esc = n;
	mx->esc_open = open;
	pthread_mutex_unlock(&mx->lock);
}

size_t brk_metrics_escalations(struct brk_metrics *mx, struct brk_esc_view *out, size_t max,
			       uint64_t *open)
{
	size_t n;

	pthread_mutex_lock(&mx->lock);
	n = mx->n_esc < max ? mx->n_esc : max;
	if (n)
		memcpy(out, mx->esc, n * sizeof(*out));
	*open = mx->esc_open;
	pthread_mutex_unlock(&mx->lock);
	return n;
}

void brk_metrics_add_liaison(struct brk_metrics *mx, const struct brk_liaison_view *v)
{
	pthread_mutex_lock(&mx->lock);
	mx->lia[mx->next_lia] = *v;
	mx->next_lia = (mx->next_lia + 1) % BRK_LIAISON_VIEW_MAX;
	if (mx->n_lia < BRK_LIAISON_VIEW_MAX)
		mx->n_lia++;
	pthread_mutex_unlock(&mx->lock);
}

size_t brk_metrics_liaisons(struct brk_metrics *mx, struct brk_liaison_view *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&mx->lock);
	for (size_t i = 0; i < mx->n_lia && n < max; i++, n++) /* newest first */
		out[n] = mx->lia[(mx->next_lia + BRK_LIAISON_VIEW_MAX - 1 - i) %
				 BRK_LIAISON_VIEW_MAX];
	pthread_mutex_unlock(&mx->lock);
	return n;
}

void brk_metrics_set_directory(struct brk_metrics *mx, struct brk_directory *dir)
{
	pthread_mutex_lock(&mx->lock);
	mx->dir = dir;
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_set(struct brk_metrics *mx, const char *family, const char *labels, double v)
{
	struct series *s;

	if (!mx)
		return;
	pthread_mutex_lock(&mx->lock);
	if ((s = get(mx, family, labels)))
		s->value = v;
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_observe(struct brk_metrics *mx, const char *family, const char *labels,
			 double seconds)
{
	struct series *s;

	if (!mx)
		return;
	pthread_mutex_lock(&mx->lock);
	if ((s = get(mx, family, labels))) {
		s->count++;
		s->sum += seconds;
		const double *bk = buckets_of(s->f);
		for (size_t i = 0; i < N_BUCKETS; i++)
			if (seconds <= bk[i])
				s->b[i]++;
	}
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_lag(struct brk_metrics *mx, rd_kafka_t *consumer, const char *part)
{
	rd_kafka_topic_partition_list_t *a = NULL;
	char labels[128];
	int64_t total = 0;

	if (rd_kafka_assignment(consumer, &a) || !a)
		return;
	rd_kafka_position(consumer, a);
	for (int i = 0; i < a->cnt; i++) {
		int64_t lo = 0, hi = 0, pos = a->elems[i].offset, lag;
		if (rd_kafka_get_watermark_offsets(consumer, a->elems[i].topic, a->elems[i].partition,
						   &lo, &hi) ||
		    hi < 0)
			continue;
		snprintf(labels, sizeof(labels), "part=\"%s\",topic=\"%.40s\",partition=\"%d\"",
			 part, a->elems[i].topic, (int)a->elems[i].partition);
		lag = pos >= 0 && hi >= pos ? hi - pos : hi - lo;
		/* a transaction's commit marker is one offset: not input waiting */
		total += lag > 1 ? lag : 0;
		brk_metrics_set(mx, "deconf_consumer_lag", labels, (double)lag);
	}
	pthread_mutex_lock(&mx->lock);
	for (int i = 0; i < mx->n_parts; i++)
		if (!strcmp(mx->parts[i].name, part))
			mx->parts[i].lag = total;
	pthread_mutex_unlock(&mx->lock);
	snprintf(labels, sizeof(labels), "part=\"%s\"", part);
	brk_metrics_set(mx, "deconf_partitions_owned", labels, a->cnt);
	rd_kafka_topic_partition_list_destroy(a);
}

struct buf {
	char *p;
	size_t n, cap;
	int oom;
};

__attribute__((format(printf, 2, 3))) static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->n + (size_t)n < b->cap) {
			b->n += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
		char *q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
}

char *brk_metrics_render(struct brk_metrics *mx)
{
	struct buf b = { 0 };

	pthread_mutex_lock(&mx->lock);
	for (size_t i = 0; i < N_FAMILIES; i++) {
		const struct family *f = &families[i];
		bprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
			f->kind == COUNTER ? "counter" : f->kind == GAUGE ? "gauge" : "histogram");
		for (size_t j = 0; j < mx->n; j++) {
			const struct series *s = &mx->s[j];
			const char *l = s->labels, *comma = *l ? "," : "";
			if (s->f != f)
				continue;
			if (f->kind != HISTOGRAM) {
				bprintf(&b, "%s%s%s%s %.17g\n", f->name, *l ? "{" : "", l, *l ? "}" : "",
					s->value);
				continue;
			}
			for (size_t k = 0; k < N_BUCKETS; k++)
				bprintf(&b, "%s_bucket{%s%sle=\"%g\"} %llu\n", f->name, l, comma,
					buckets_of(f)[k], s->b[k]);
			bprintf(&b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, l, comma, s->count);
			bprintf(&b, "%s_sum%s%s%s %.17g\n", f->name, *l ? "{" : "", l, *l ? "}" : "",
				s->sum);
			bprintf(&b, "%s_count%s%s%s %llu\n", f->name, *l ? "{" : "", l, *l ? "}" : "",
				s->count);
		}
	}
	pthread_mutex_unlock(&mx->lock);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p ? b.p : strdup("");
}

int brk_metrics_part(struct brk_metrics *mx, const char *name)
{
	int64_t now = deconf_mono_us();
	int i;

	pthread_mutex_lock(&mx->lock);
	for (i = 0; i < mx->n_parts && strcmp(mx->parts[i].name, name); i++)
		;
	if (i == mx->n_parts)
		i = mx->n_parts < MAX_PARTS ? mx->n_parts++ : MAX_PARTS - 1;
	mx->parts[i] = (struct part){ .name = name, .committed = now, .heartbeat = now };
	snprintf(mx->parts[i].what, sizeof(mx->parts[i].what), "starting");
	pthread_mutex_unlock(&mx->lock);
	return i;
}

void brk_metrics_status(struct brk_metrics *mx, int part, int ready, const char *what)
{
	if (!mx || part < 0 || part >= MAX_PARTS)
		return;
	pthread_mutex_lock(&mx->lock);
	if (ready && !mx->parts[part].ready) /* the stall clock starts now */
		mx->parts[part].committed = deconf_mono_us();
	mx->parts[part].ready = ready;
	snprintf(mx->parts[part].what, sizeof(mx->parts[part].what), "%s", what ? what : "");
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_ready(struct brk_metrics *mx, int part, int ready)
{
	brk_metrics_status(mx, part, ready, ready ? "" : "not ready");
}

void brk_metrics_committed(struct brk_metrics *mx, int part)
{
	if (!mx || part < 0 || part >= MAX_PARTS)
		return;
	pthread_mutex_lock(&mx->lock);
	mx->parts[part].committed = deconf_mono_us();
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_pending(struct brk_metrics *mx, int part, int pending)
{
	if (!mx || part < 0 || part >= MAX_PARTS)
		return;
	pthread_mutex_lock(&mx->lock);
	if (!pending)
		mx->parts[part].pending = 0;
	else if (!mx->parts[part].pending)
		mx->parts[part].pending = deconf_mono_us();
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_blocked(struct brk_metrics *mx, int part, const char *why)
{
	if (!mx || part < 0 || part >= MAX_PARTS)
		return;
	pthread_mutex_lock(&mx->lock);
	snprintf(mx->parts[part].blocked, sizeof(mx->parts[part].blocked), "%s", why ? why : "");
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_heartbeat(struct brk_metrics *mx, int part)
{
	if (!mx || part < 0 || part >= MAX_PARTS)
		return;
	pthread_mutex_lock(&mx->lock);
	mx->parts[part].heartbeat = deconf_mono_us();
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_set_lag(struct brk_metrics *mx, int part, int64_t lag)
{
	if (!mx || part < 0 || part >= MAX_PARTS)
		return;
	pthread_mutex_lock(&mx->lock);
	mx->parts[part].lag = lag;
	pthread_mutex_unlock(&mx->lock);
}

void brk_metrics_set_stall(struct brk_metrics *mx, int64_t stall_after_ms)
{
	pthread_mutex_lock(&mx->lock);
	mx->stall_us = stall_after_ms * 1000;
	pthread_mutex_unlock(&mx->lock);
}

/* Append "; " and a formatted reason to why. */
__attribute__((format(printf, 4, 5))) static void add_why(char *why, size_t why_size, size_t *n,
							 const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*n + 3 >= why_size)
		return;
	if (*n) {
		memcpy(why + *n, "; ", 3);
		*n += 2;
	}
	va_start(ap, fmt);
	k = vsnprintf(why + *n, why_size - *n, fmt, ap);
	va_end(ap);
	if (k > 0)
		*n = *n + (size_t)k < why_size ? *n + (size_t)k : why_size - 1;
}

int brk_metrics_is_ready_at(struct brk_metrics *mx, int64_t now, char *why, size_t why_size)
{
	int ready = 1;
	size_t n = 0;

	why[0] = '\0';
	pthread_mutex_lock(&mx->lock);
	if (!mx->n_parts) {
		ready = 0;
		add_why(why, why_size, &n, "starting");
	}
	for (int i = 0; i < mx->n_parts; i++) {
		const struct part *p = &mx->parts[i];
		if (!p->ready) {
			ready = 0;
			add_why(why, why_size, &n, "%s not ready (%s)", p->name, p->what);
		} else if (p->blocked[0]) {
			ready = 0;
			add_why(why, why_size, &n, "%s stopped: %s", p->name, p->blocked);
		} else if (p->pending && now - p->pending > mx->stall_us) {
			ready = 0;
			add_why(why, why_size, &n,
				"%s stuck: what it read %.0f s ago is not committed yet", p->name,
				(double)(now - p->pending) / 1e6);
		}
	}
	pthread_mutex_unlock(&mx->lock);
	return ready;
}

int brk_metrics_is_ready(struct brk_metrics *mx, char *why, size_t why_size)
{
	return brk_metrics_is_ready_at(mx, deconf_mono_us(), why, why_size);
}

int brk_metrics_is_alive_at(struct brk_metrics *mx, int64_t now, char *why, size_t why_size)
{
	int alive = 1;
	size_t n = 0;

	why[0] = '\0';
	pthread_mutex_lock(&mx->lock);
	for (int i = 0; i < mx->n_parts; i++)
		if (now - mx->parts[i].heartbeat > HUNG_STALLS * mx->stall_us) {
			alive = 0;
			add_why(why, why_size, &n, "%s hung: its thread has not looped for %.0f s",
				mx->parts[i].name, (double)(now - mx->parts[i].heartbeat) / 1e6);
		}
	pthread_mutex_unlock(&mx->lock);
	return alive;
}

int brk_metrics_is_alive(struct brk_metrics *mx, char *why, size_t why_size)
{
	return brk_metrics_is_alive_at(mx, deconf_mono_us(), why, why_size);
}

/* -------------------------------------------------------------------- http */

/* The watch desk: an HTML page, never framed, no script, no cache. */
static void desk_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
			     char *body)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	if (!strncmp(type, "text/html", 9))
		desk_headers(r);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct brk_metrics *mx = cls;
	char why[512], *body;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, 405, "text/plain", strdup("only GET\n"));
	if (!strcmp(url, "/metrics")) {
		if (!(body = brk_metrics_render(mx)))
			return MHD_NO;
		return reply(c, 200, "text/plain; version=0.0.4", body);
	}
	if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz")) {
		int ok = url[1] == 'h' ? brk_metrics_is_alive(mx, why, sizeof(why))
				       : brk_metrics_is_ready(mx, why, sizeof(why));
		size_t n;
		if (ok)
			return reply(c, 200, "text/plain", strdup(url[1] == 'h' ? "ok\n" : "ready\n"));
		n = strlen(why);
		if (n + 1 < sizeof(why)) {
			why[n] = '\n';
			why[n + 1] = '\0';
		}
		return reply(c, 503, "text/plain", strdup(why));
	}
	if (!strcmp(url, "/") || !strcmp(url, "/desk")) {
		struct brk_directory *dir;
		pthread_mutex_lock(&mx->lock);
		dir = mx->dir;
		pthread_mutex_unlock(&mx->lock);
		if (!(body = brk_desk_render(mx, dir, (int64_t)time(NULL))))
			return MHD_NO;
		return reply(c, 200, "text/html; charset=utf-8", body);
	}
	return reply(c, 404, "text/plain",
		     strdup("not found: / (watch desk) /metrics /healthz /readyz\n"));
}

int brk_http_start(struct brk_metrics *mx, const char *address, int port, char *errstr,
		   size_t errstr_size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (!port)
		return DECONF_OK;
	if (inet_pton(AF_INET, address, &sa.sin_addr) != 1)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "http.address: %s is not an IPv4 address", address);
	mx->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
				     (uint16_t)port, NULL, NULL, handle, mx, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
				     (unsigned)10, MHD_OPTION_END);
	if (!mx->httpd)
		return deconf_err_set(errstr, errstr_size, DECONF_E_IO,
				      "cannot listen on %s:%d for /metrics (port taken?)", address,
				      port);
	deconf_log(DECONF_LOG_NOTICE, "HTTP", "serving the watch desk, /metrics /healthz /readyz on %s:%d",
		   address, port);
	return DECONF_OK;
}

void brk_http_stop(struct brk_metrics *mx)
{
	if (mx && mx->httpd) {
		MHD_stop_daemon(mx->httpd);
		mx->httpd = NULL;
	}
}
