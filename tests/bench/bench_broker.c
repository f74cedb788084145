/*
 * bench_broker.c — deconf-broker end to end on the real Kafka, against a
 * raw consume→produce pipe over the same records in the same run.
 *
 * 1. Throughput: a throwaway federation (tests/integration/fed.h) of
 *    synthetic agencies gets N token ops preloaded as signed submissions
 *    (ADDs; overlap % of them repeat another agency's token: conflicts);
 *    then the real deconf-broker (ingest + matcher) is started and its
 *    /metrics polled: token ops applied per second between the first and
 *    the last (sustained, end to end: submit topic → token ops → state,
 *    audit, notices, in transactions).
 * 2. The limit: a transactional consume→produce pipe (read_committed,
 *    the same batch size, offsets in the transaction) copies the same
 *    token-op records from deconf.tokens to another topic: records/s.
 * 3. Latency: submissions (the same mix) paced at half the measured
 *    throughput for a while; every notice's arrival (read_committed, as an agency reads it)
 *    minus its submission's created_at: p50 and p99.
 * 4. State: stored bytes per entry (the LMDB map in use / entries).
 * 5. With -R, restart: the broker stopped and started again on that state
 *    (-K: killed with SIGKILL instead, a crash; the goal is ready within
 *    2 s of the restart, which static group membership makes possible);
 *    seconds until /readyz answers 200 and until a new conflict has been
 *    notified (with -n 10000000: docs/design.md's 10M entries within 10 s).
 * 6. With -F SECONDS, none of the above but fairness: agency A floods while
 *    B and C submit a small steady stream of conflicting pairs; their
 *    notice latency with A idle and with A flooding, under the ingest quota
 *    and, on a second federation, with it off (the section "fairness").
 *
 * It prints the figures and their ratios to the goals of docs/design.md. It
 * never fails because the machine is slow; it exits 1 only when something
 * did not work (Kafka missing, the broker died, a phase timed out).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "deconf.pb-c.h"
#include "deconf/envelope.h"
#include "deconf/util.h"
#include "fed.h"

#define K(x) DECONF__V1__##x

static const char usage[] =
	"usage: bench_broker [-n OPS] [-s OPS_PER_SUBMISSION] [-a AGENCIES] [-o OVERLAP_PCT]\n"
	"                    [-p PARTITIONS] [-t LATENCY_SECONDS] [-i INSTANCES] [-b BROKER_BIN]\n"
	"                    [-x INI] [-r LATENCY_OPS_PER_S] [-c COPIES] [-R | -K]\n"
	"       bench_broker -F SECONDS [-q QUOTA_OPS_PER_S] [-A FLOOD_OPS_PER_S] [-s OPS_PER_SUBMISSION]\n"
	"                    [-r STEADY_OPS_PER_S] [-p PARTITIONS] [-b BROKER_BIN] [-x INI]\n"
	"Needs DECONF_KRAFT_BOOTSTRAP (deploy/kafka/kafka.sh env). See tests/bench/README.md.\n";

#define MAX_INSTANCES 4

static pid_t broker_pid[MAX_INSTANCES];
static int n_inst = 1;

static void kill_broker(void)
{
	for (int i = 0; i < MAX_INSTANCES; i++)
		if (broker_pid[i] > 0)
			kill(broker_pid[i], SIGKILL);
}

/* Whether a broker we started still runs (a dead one is reaped here). */
static int alive(pid_t pid)
{
	int st;

	return pid > 0 && waitpid(pid, &st, WNOHANG) == 0;
}

/* Sum of every series of a family in one broker's /metrics (sel: only the
 * series whose line holds it, e.g. an agency's label; NULL: all). */
static double metric_sel(int port, const char *family, const char *sel)
{
	char cmd[128], line[1024];
	size_t fl = strlen(family);
	double sum = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%d/metrics", port);
	if (!(p = popen(cmd, "r")))
		return -1;
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, family, fl) && (line[fl] == ' ' || line[fl] == '{') &&
		    (!sel || strstr(line, sel))) {
			char *sp = strrchr(line, ' ');
			if (sp)
				sum += strtod(sp + 1, NULL);
		}
	pclose(p);
	return sum;
}

/* ... summed over every instance (ports port, port+1...) */
static double metric(int port, const char *family)
{
	double sum = 0;

	for (int i = 0; i < n_inst; i++)
		sum += metric_sel(port + i, family, NULL);
	return sum;
}

/* A quantile of a histogram series from /metrics (upper bucket bound, in
 * seconds), over every instance; -1 without data. */
static double hist_quantile(int port, const char *series_prefix, double q)
{
	double le[32], cnt[32], total = 0;
	int nb = 0;

	for (int i = 0; i < n_inst; i++) {
		char cmd[128], line[1024];
		FILE *p;
		int k = 0;
		snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%d/metrics", port + i);
		if (!(p = popen(cmd, "r")))
			return -1;
		while (fgets(line, sizeof(line), p)) {
			char *lp = strstr(line, "le=\""), *sp = strrchr(line, ' ');
			if (strncmp(line, series_prefix, strlen(series_prefix)) || !lp || !sp ||
			    k >= 32)
				continue;
			if (!i) {
				le[k] = strncmp(lp + 4, "+Inf", 4) ? strtod(lp + 4, NULL) : 1e9;
				cnt[k] = 0;
			}
			cnt[k++] += strtod(sp + 1, NULL);
		}
		pclose(p);
		if (!i)
			nb = k;
	}
	if (!nb || (total = cnt[nb - 1]) <= 0)
		return -1;
	for (int k = 0; k < nb; k++)
		if (cnt[k] >= q * total)
			return le[k];
	return -1;
}

/* CPU seconds (user + system) process pid has used so far; 0 if unknown. */
static double cpu_of(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	double s = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (pid <= 0 || !(fp = fopen(path, "r")))
		return 0;
	if (fgets(buf, sizeof(buf), fp) && (p = strrchr(buf, ')')) &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
		s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	fclose(fp);
	return s;
}

/* ... of the broker processes */
static double cpu_seconds(void)
{
	double sum = 0;

	for (int i = 0; i < MAX_INSTANCES; i++)
		sum += cpu_of((int)broker_pid[i]);
	return sum;
}

/* Kafka's pid, from DECONF_KRAFT_PIDFILE (deploy/kafka/kafka.sh env); 0 if unknown. */
static int kafka_pid(void)
{
	const char *pf = getenv("DECONF_KRAFT_PIDFILE");
	FILE *fp = pf ? fopen(pf, "r") : NULL;
	int pid = 0;

	if (fp) {
		if (fscanf(fp, "%d", &pid) != 1)
			pid = 0;
		fclose(fp);
	}
	return pid;
}

static int free_port(void)
{
	/* a port in the dynamic range, varied per run */
	return 20000 + (int)(deconf_now_ms() % 20000);
}

/* Agency i's j-th token of submission s. */
static uint32_t tok_of(uint32_t s, uint32_t j, uint32_t per)
{
	return 1000 + s * per + j;
}

struct gen {
	struct fed *f;
	uint32_t per, overlap_pm, next_sub; /* overlap per mille */
	unsigned seed;
};

/* One submission of agency (s % n_ag): per ADDs; some repeat the tokens of
 * the previous submission (another agency). */
static int submit_one(struct gen *g, const char *case_prefix)
{
	struct fed_op *ops = calloc(g->per, sizeof(*ops));
	char ref[48];
	uint32_t s = g->next_sub++;
	int rc;

	if (!ops)
		return -1;
	snprintf(ref, sizeof(ref), "%s-%u", case_prefix, s);
	for (uint32_t j = 0; j < g->per; j++) {
		uint32_t t = tok_of(s, j, g->per);
		if (s > 0 && (uint32_t)(rand_r(&g->seed) % 1000) < g->overlap_pm)
			t = tok_of(s - 1, (uint32_t)rand_r(&g->seed) % g->per, g->per);
		ops[j].op = K(OP__OP_ADD);
		ops[j].case_ref = ref;
		ops[j].type = K(INDICATOR_TYPE__INDICATOR_TYPE_SHA256);
		ops[j].poc_name = "Bench Desk";
		fed_token(g->f, t, ops[j].token);
	}
	rc = fed_submit(g->f, (int)(s % (uint32_t)g->f->n_ag), ops, g->per, NULL);
	free(ops);
	return rc;
}

/* ------------------------------------------------------------- raw pipe */

static double raw_pipe(struct fed *f, long records, int batch_max)
{
	char group[96], src[96], dst[96], txid[96];
	rd_kafka_t *c = fed_client(f, RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
	rd_kafka_t *p;
	rd_kafka_conf_t *pc = NULL;
	rd_kafka_topic_partition_list_t *sub;
	rd_kafka_error_t *e;
	int64_t t0 = 0, t1 = 0, deadline = deconf_mono_us() + 300 * 1000000LL;
	long n = 0;
	char errstr[512];

	(void)pc;
	snprintf(group, sizeof(group), "%sbench-pipe", f->prefix);
	snprintf(txid, sizeof(txid), "%sbench-pipe-1", f->prefix);
	fed_topic(f, "tokens", src, sizeof(src));
	fed_topic(f, "pipe", dst, sizeof(dst));
	rd_kafka_destroy(c);
	{
		rd_kafka_conf_t *cc = rd_kafka_conf_new();
		rd_kafka_conf_set(cc, "bootstrap.servers", f->bootstrap, errstr, sizeof(errstr));
		rd_kafka_conf_set(cc, "group.id", group, errstr, sizeof(errstr));
		rd_kafka_conf_set(cc, "isolation.level", "read_committed", errstr, sizeof(errstr));
		rd_kafka_conf_set(cc, "enable.auto.commit", "false", errstr, sizeof(errstr));
		rd_kafka_conf_set(cc, "auto.offset.reset", "earliest", errstr, sizeof(errstr));
		rd_kafka_conf_set(cc, "partition.assignment.strategy", "range", errstr,
				  sizeof(errstr));
		c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof(errstr));
		rd_kafka_conf_t *ppc = rd_kafka_conf_new();
		rd_kafka_conf_set(ppc, "bootstrap.servers", f->bootstrap, errstr, sizeof(errstr));
		rd_kafka_conf_set(ppc, "transactional.id", txid, errstr, sizeof(errstr));
		rd_kafka_conf_set(ppc, "linger.ms", "5", errstr, sizeof(errstr));
		p = rd_kafka_new(RD_KAFKA_PRODUCER, ppc, errstr, sizeof(errstr));
	}
	if (!c || !p || (e = rd_kafka_init_transactions(p, 30000))) {
		fprintf(stderr, "bench_broker: raw pipe clients failed\n");
		return -1;
	}
	rd_kafka_poll_set_consumer(c);
	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, src, RD_KAFKA_PARTITION_UA);
	rd_kafka_subscribe(c, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	while (n < records && deconf_mono_us() < deadline) {
		int in = 0;
		rd_kafka_message_t *m;
		while (in < batch_max && (m = rd_kafka_consumer_poll(c, in ? 5 : 100))) {
			if (!m->err) {
				if (!in && (e = rd_kafka_begin_transaction(p))) {
					rd_kafka_error_destroy(e);
					rd_kafka_message_destroy(m);
					return -1;
				}
				if (!t0)
					t0 = deconf_mono_us();
				while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(dst),
							 RD_KAFKA_V_KEY(m->key, m->key_len),
							 RD_KAFKA_V_VALUE(m->payload, m->len),
							 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
							 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
					rd_kafka_poll(p, 10);
				in++;
			}
			rd_kafka_message_destroy(m);
		}
		if (in) {
			rd_kafka_topic_partition_list_t *pos = NULL;
			rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(c);
			rd_kafka_assignment(c, &pos);
			rd_kafka_position(c, pos);
			e = rd_kafka_send_offsets_to_transaction(p, pos, md, -1);
			rd_kafka_consumer_group_metadata_destroy(md);
			rd_kafka_topic_partition_list_destroy(pos);
			if (e || (e = rd_kafka_commit_transaction(p, 60000))) {
				fprintf(stderr, "bench_broker: raw pipe: %s\n", rd_kafka_error_string(e));
				rd_kafka_error_destroy(e);
				return -1;
			}
			n += in;
			t1 = deconf_mono_us();
		}
	}
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	rd_kafka_destroy(p);
	if (n < records || t1 <= t0)
		return -1;
	return (double)n / ((double)(t1 - t0) / 1e6);
}

/* ---------------------------------------------------------- notice reader */

struct reader {
	struct fed *f;
	volatile int stop;
	volatile int64_t since; /* only notices of submissions created after this */
	double *lat, *made; /* receipt - submitted_at; created_at - submitted_at */
	double *at;         /* submitted_at (ms since the epoch) */
	size_t n, cap;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	rd_kafka_t *rk = fed_client(r->f, RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_topic_t *rkt[FED_MAX_AGENCIES];

	for (int i = 0; i < r->f->n_ag; i++) {
		char topic[96];
		snprintf(topic, sizeof(topic), "%snotices.%s", r->f->prefix, r->f->ag[i].id);
		rkt[i] = rd_kafka_topic_new(rk, topic, NULL);
		rd_kafka_consume_start_queue(rkt[i], 0, RD_KAFKA_OFFSET_END, q);
	}
	while (!r->stop) {
		rd_kafka_message_t *m = rd_kafka_consume_queue(q, 100);
		Deconf__V1__Envelope *env = NULL;
		Deconf__V1__ConflictNotice *n;
		int64_t now = deconf_now_ms();

		if (!m)
			continue;
		if (!m->err && !deconf_envelope_unpack(m->payload, m->len, 1 << 20, &env, NULL, 0) &&
		    (n = deconf__v1__conflict_notice__unpack(NULL, env->payload.len,
							     env->payload.data))) {
			if (n->submitted_at > r->since) {
				if (r->n == r->cap) {
					r->cap = r->cap ? r->cap * 2 : 4096;
					r->lat = realloc(r->lat, r->cap * sizeof(*r->lat));
					r->made = realloc(r->made, r->cap * sizeof(*r->made));
					r->at = realloc(r->at, r->cap * sizeof(*r->at));
					if (!r->lat || !r->made || !r->at)
						abort();
				}
				r->at[r->n] = (double)n->submitted_at;
				r->made[r->n] = (double)(n->created_at - n->submitted_at);
				r->lat[r->n++] = (double)(now - n->submitted_at);
			}
			deconf__v1__conflict_notice__free_unpacked(n, NULL);
		}
		deconf_msg_free(env);
		rd_kafka_message_destroy(m);
	}
	for (int i = 0; i < r->f->n_ag; i++) {
		rd_kafka_consume_stop(rkt[i], 0);
		rd_kafka_topic_destroy(rkt[i]);
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return NULL;
}

/* HTTP status of GET url, 0 if no answer. */
static int http_status(int port, const char *path)
{
	char cmd[160], out[16] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d%s",
		 port, path);
	if (!(p = popen(cmd, "r")))
		return 0;
	if (!fgets(out, sizeof(out), p))
		out[0] = 0;
	pclose(p);
	return atoi(out);
}

/* 5. Restart: every instance stopped (SIGTERM, or with kill9 SIGKILL: a
 * crash) and started again on the state it has; seconds until every
 * /readyz says 200, and until a new conflict (two agencies, one fresh
 * token) has reached both agencies. */
static int measure_restart(struct fed *f, const char *broker_bin, char confs[][256], int port,
			   int kill9, double *ready, double *served)
{
	struct reader rd = { .f = f, .since = INT64_MAX };
	struct fed_op op = { .op = K(OP__OP_ADD),
			     .case_ref = "restart",
			     .type = K(INDICATOR_TYPE__INDICATOR_TYPE_SHA256),
			     .poc_name = "Bench Desk" };
	pthread_t th;
	int64_t t0, deadline;
	char log[300];

	/* the reader is in place (at the end of the notices topics) first */
	if (pthread_create(&th, NULL, reader_main, &rd))
		return 1;
	sleep(1);
	for (int i = 0; i < n_inst; i++) {
		if (kill9) {
			kill(broker_pid[i], SIGKILL);
			waitpid(broker_pid[i], NULL, 0);
		} else if (fed_broker_stop(broker_pid[i])) {
			fprintf(stderr, "bench_broker: the broker did not stop cleanly\n");
			return 1;
		}
		broker_pid[i] = 0;
	}
	t0 = deconf_mono_us();
	deadline = t0 + 300 * 1000000LL;
	for (int i = 0; i < n_inst; i++) {
		snprintf(log, sizeof(log), "%s/broker-i%d-restart.log", f->dir, i);
		if ((broker_pid[i] = fed_broker_start(broker_bin, confs[i], log)) <= 0)
			return 1;
	}
	for (int i = 0; i < n_inst; i++)
		while (http_status(port + i, "/readyz") != 200) {
			if (deconf_mono_us() > deadline || !alive(broker_pid[i])) {
				fprintf(stderr, "bench_broker: the restarted broker never got ready; "
						"see %s/broker-i%d-restart.log\n", f->dir, i);
				return 1;
			}
			usleep(20000);
		}
	*ready = (double)(deconf_mono_us() - t0) / 1e6;
	rd.since = deconf_now_ms() - 1;
	fed_token(f, 0x7fffffffu, op.token);
	if (fed_submit(f, 0, &op, 1, NULL) || fed_submit(f, 1, &op, 1, NULL) || fed_flush(f))
		return 1;
	while (rd.n < 2 && deconf_mono_us() < deadline)
		usleep(5000);
	*served = (double)(deconf_mono_us() - t0) / 1e6;
	rd.stop = 1;
	pthread_join(th, NULL);
	free(rd.lat);
	free(rd.made);
	free(rd.at);
	if (rd.n < 2) {
		fprintf(stderr, "bench_broker: no notice of the new conflict after the restart\n");
		return 1;
	}
	return 0;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------- fairness */

/*
 * -F: agency A floods while B and C submit a small steady stream of
 * conflicting pairs; B's and C's notice latency with A idle and with A
 * flooding. Done twice, each on its own federation and broker: under the
 * ingest quota, and with the quota effectively off, so the run shows what
 * the quota buys next to the same load without it.
 */

#define FAIR_A 0 /* the agencies' indexes */
#define FAIR_B 1
#define FAIR_C 2
#define FAIR_OFF 100000000L /* ingest.agency_ops_per_s's maximum: no quota */

struct fair_opts {
	int seconds, parts;
	uint32_t a_per;     /* A's token ops per submission */
	double pairs_per_s; /* B and C's conflicting pairs */
	double a_max;       /* A's offered token ops/s; 0: as fast as it can */
	long quota;         /* ingest.agency_ops_per_s of the first run */
	const char *broker_bin, *bootstrap, *xconf;
};

/* One phase's figures; latencies in ms, -1: not arrived by the end. */
struct fair_phase {
	size_t got, expected;
	double p50, p99, max;
	double pause_at; /* s into the phase A was first paused; -1: never */
	size_t late_got; /* B and C's notices of submissions made from then on */
	double late_p50, late_p99, late_max;
	double a_offered, a_applied, a_paused, a_paused_s, a_rejected;
	double backlog; /* the matcher's lag at the end, token ops (a gauge, <= 5 s old) */
	double cpu_broker, cpu_kafka, cpu_self; /* % of one core */
};

/* A's flood: signed submissions of per ADDs of tokens nobody else holds,
 * produced without waiting, on a producer of its own. */
struct flood {
	struct fed f; /* a copy of the federation's, with A's own producer */
	uint32_t per;
	double max_rate;
	volatile int stop, failed;
};

static void *flood_main(void *arg)
{
	struct flood *fl = arg;
	struct fed_op *ops = calloc(fl->per, sizeof(*ops));
	int64_t start = deconf_mono_us();
	char ref[32];

	if (!ops) {
		fl->failed = 1;
		return NULL;
	}
	for (uint32_t s = 0; !fl->stop; s++) {
		while (fl->max_rate > 0 && !fl->stop &&
		       (double)s * fl->per > (double)(deconf_mono_us() - start) / 1e6 * fl->max_rate)
			usleep(1000);
		snprintf(ref, sizeof(ref), "F-%u", s);
		for (uint32_t j = 0; j < fl->per; j++) {
			ops[j].op = K(OP__OP_ADD);
			ops[j].case_ref = ref;
			ops[j].type = K(INDICATOR_TYPE__INDICATOR_TYPE_SHA256);
			fed_token(&fl->f, 0x40000000u + s * fl->per + j, ops[j].token);
		}
		if (fed_submit(&fl->f, FAIR_A, ops, fl->per, NULL)) {
			fl->failed = 1;
			break;
		}
	}
	free(ops);
	return NULL;
}

/*
 * B and C each add the same new token (each in a submission of one op),
 * pairs_per_s times a second for seconds: a conflict, notified to both.
 * With paused_at, every 250 ms whether A has been paused for its quota
 * since (sel: A's label): when it first was (ms since the epoch; the pairs
 * after it are created later than that) and how many pairs were sent before.
 * Returns the pairs sent, or -1.
 */
static long pair_stream(struct fed *f, double pairs_per_s, double seconds, uint32_t *tok,
			int port, const char *sel, int64_t *paused_at, long *before)
{
	struct fed_op op = { .op = K(OP__OP_ADD),
			     .type = K(INDICATOR_TYPE__INDICATOR_TYPE_SHA256),
			     .poc_name = "Bench Desk" };
	int64_t start = deconf_mono_us(), now, check = start;
	double paused0 = paused_at ? metric_sel(port, "deconf_ingest_throttled_total", sel) : 0;
	char ref[32];
	long sent = 0;

	while ((now = deconf_mono_us()) < start + (int64_t)(seconds * 1e6)) {
		while (sent < (long)((double)(now - start) / 1e6 * pairs_per_s)) {
			snprintf(ref, sizeof(ref), "S-%u", *tok);
			op.case_ref = ref;
			fed_token(f, (*tok)++, op.token);
			if (fed_submit(f, FAIR_B, &op, 1, NULL) || fed_submit(f, FAIR_C, &op, 1, NULL))
				return -1;
			sent++;
		}
		if (paused_at && !*paused_at && now >= check) {
			if (metric_sel(port, "deconf_ingest_throttled_total", sel) > paused0) {
				*paused_at = deconf_now_ms();
				*before = sent;
				while (deconf_now_ms() <= *paused_at)
					usleep(100);
			}
			check = now + 250000;
		}
		rd_kafka_poll(f->producer, 1);
	}
	return sent;
}

/* How long a phase waits for its last notices after its end. */
static int fair_drain_s(const struct fair_opts *o)
{
	return o->seconds > 30 ? o->seconds : 30;
}

/* q-quantile of the sorted v[0..n) out of expected values, the missing ones
 * counted as later than any: -1 when it falls on a missing one. */
static double quantile(const double *v, size_t n, size_t expected, double q)
{
	size_t i = (size_t)((double)expected * q);

	if (i >= expected)
		i = expected - 1;
	return i < n ? v[i] : -1;
}

/*
 * One phase: the reader in place, B and C's stream for o->seconds (and A's
 * flood alongside when flood), then until every notice of it has arrived
 * or fair_drain_s() more seconds have passed.
 */
static int fair_phase(struct fed *f, const struct fair_opts *o, int port, int flood,
		      uint32_t *tok, struct fair_phase *ph)
{
	struct reader rd = { .f = f };
	struct flood fl = { .per = o->a_per, .max_rate = o->a_max };
	pthread_t rth, fth;
	char topic[96], sel[64];
	int64_t lo, hi0 = -1, hi1 = -1, paused_at = 0, t0, t0_wall, deadline;
	double ops0, paused0, paused_s0, rejected0, cpu0, kcpu0, bcpu0, el, *late;
	long pairs, before = 0;
	int rc = -1, flooding = 0;

	memset(ph, 0, sizeof(*ph));
	snprintf(sel, sizeof(sel), "agency=\"%s\"", f->ag[FAIR_A].id);
	snprintf(topic, sizeof(topic), "%ssubmit.%s", f->prefix, f->ag[FAIR_A].id);
	rd.since = deconf_now_ms();
	if (pthread_create(&rth, NULL, reader_main, &rd))
		return -1;
	sleep(1); /* the reader at the end of the notices topics */
	ops0 = metric_sel(port, "deconf_ops_total", sel);
	paused0 = metric_sel(port, "deconf_ingest_throttled_total", sel);
	paused_s0 = metric_sel(port, "deconf_ingest_throttled_seconds_total", sel);
	rejected0 = metric_sel(port, "deconf_rejects_total", sel);
	if (rd_kafka_query_watermark_offsets(f->producer, topic, 0, &lo, &hi0, 10000))
		hi0 = -1;
	cpu0 = cpu_seconds();
	kcpu0 = cpu_of(kafka_pid());
	bcpu0 = cpu_of(getpid());
	if (flood) {
		fl.f = *f; /* shares the keys; fed_free(f) frees them, not this copy */
		/* a small queue: what A has offered is what Kafka took, not a
		 * GB waiting in this process */
		fl.f.producer = fed_client(f, RD_KAFKA_PRODUCER, "queue.buffering.max.kbytes",
					   "32768");
		if (!fl.f.producer)
			goto out;
		if (pthread_create(&fth, NULL, flood_main, &fl)) {
			rd_kafka_destroy(fl.f.producer);
			goto out;
		}
		flooding = 1;
	}
	t0 = deconf_mono_us();
	t0_wall = deconf_now_ms();
	pairs = pair_stream(f, o->pairs_per_s, o->seconds, tok, port, sel,
			    flood ? &paused_at : NULL, &before);
	el = (double)(deconf_mono_us() - t0) / 1e6;
	if (flooding) {
		fl.stop = 1;
		if (rd_kafka_query_watermark_offsets(f->producer, topic, 0, &lo, &hi1, 10000))
			hi1 = -1;
		pthread_join(fth, NULL);
		flooding = 0;
		/* what is still queued is not sent: the flood ends with the phase */
		rd_kafka_purge(fl.f.producer, RD_KAFKA_PURGE_F_QUEUE);
		rd_kafka_flush(fl.f.producer, 10000);
		rd_kafka_destroy(fl.f.producer);
		if (fl.failed)
			goto out;
	}
	ph->a_applied = (metric_sel(port, "deconf_ops_total", sel) - ops0) / el;
	ph->a_paused = metric_sel(port, "deconf_ingest_throttled_total", sel) - paused0;
	ph->a_paused_s = metric_sel(port, "deconf_ingest_throttled_seconds_total", sel) - paused_s0;
	ph->a_rejected = metric_sel(port, "deconf_rejects_total", sel) - rejected0;
	ph->backlog = metric_sel(port, "deconf_consumer_lag", "part=\"matcher\"");
	ph->a_offered = hi0 >= 0 && hi1 >= hi0 ? (double)(hi1 - hi0) * o->a_per / el : -1;
	ph->cpu_broker = (cpu_seconds() - cpu0) * 100 / el;
	ph->cpu_kafka = kafka_pid() ? (cpu_of(kafka_pid()) - kcpu0) * 100 / el : -1;
	ph->cpu_self = (cpu_of(getpid()) - bcpu0) * 100 / el;
	ph->pause_at = paused_at ? (double)(paused_at - t0_wall) / 1e3 : -1;
	if (pairs < 0 || fed_flush(f))
		goto out;
	/* every pair is a conflict notified to B and to C */
	ph->expected = 2 * (size_t)pairs;
	deadline = deconf_mono_us() + (int64_t)fair_drain_s(o) * 1000000;
	while (rd.n < ph->expected && deconf_mono_us() < deadline && alive(broker_pid[0]))
		usleep(10000);
	if (!alive(broker_pid[0]))
		goto out;
	rd.stop = 1;
	pthread_join(rth, NULL);
	ph->got = rd.n;
	if (ph->got > ph->expected) /* not expected: counted, not hidden */
		ph->expected = ph->got;
	/* the notices of the pairs created after A's first pause */
	if (paused_at && (late = malloc((rd.n + 1) * sizeof(*late)))) {
		size_t late_expected = 2 * (size_t)(pairs - before);
		for (size_t i = 0; i < rd.n; i++)
			if (rd.at[i] > (double)paused_at)
				late[ph->late_got++] = rd.lat[i];
		qsort(late, ph->late_got, sizeof(*late), cmpd);
		if (late_expected < ph->late_got)
			late_expected = ph->late_got;
		ph->late_p50 = ph->late_p99 = ph->late_max = -1;
		if (late_expected) {
			ph->late_p50 = quantile(late, ph->late_got, late_expected, 0.5);
			ph->late_p99 = quantile(late, ph->late_got, late_expected, 0.99);
			if (ph->late_got == late_expected)
				ph->late_max = late[ph->late_got - 1];
		}
		free(late);
	}
	if (rd.n)
		qsort(rd.lat, rd.n, sizeof(double), cmpd);
	ph->p50 = ph->expected ? quantile(rd.lat, rd.n, ph->expected, 0.5) : -1;
	ph->p99 = ph->expected ? quantile(rd.lat, rd.n, ph->expected, 0.99) : -1;
	ph->max = ph->got && ph->got == ph->expected ? rd.lat[rd.n - 1] : -1;
	rc = 0;
out:
	if (flooding) {
		fl.stop = 1;
		pthread_join(fth, NULL);
		rd_kafka_purge(fl.f.producer, RD_KAFKA_PURGE_F_QUEUE);
		rd_kafka_destroy(fl.f.producer);
	}
	if (!rd.stop) {
		rd.stop = 1;
		pthread_join(rth, NULL);
	}
	free(rd.lat);
	free(rd.made);
	free(rd.at);
	return rc;
}

/* Delete the federation's topics: a flood leaves hundreds of MB on Kafka.
 * FED_KEEP keeps them (as it keeps the directory). */
static void delete_topics(const struct fed *f)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_DeleteTopic_t *del[64];
	rd_kafka_t *rk;
	size_t n = 0, pl = strlen(f->prefix);

	if (getenv("FED_KEEP") || !(rk = fed_client(f, RD_KAFKA_PRODUCER, NULL, NULL)))
		return;
	if (!rd_kafka_metadata(rk, 1, NULL, &md, 10000)) {
		for (int i = 0; i < md->topic_cnt && n < 64; i++)
			if (!strncmp(md->topics[i].topic, f->prefix, pl))
				del[n++] = rd_kafka_DeleteTopic_new(md->topics[i].topic);
		rd_kafka_metadata_destroy(md);
	}
	if (n) {
		rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
		rd_kafka_event_t *ev;
		const rd_kafka_topic_result_t **res;
		size_t nr = 0;
		rd_kafka_DeleteTopics(rk, del, n, NULL, q);
		if ((ev = rd_kafka_queue_poll(q, 60000))) {
			res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev),
								  &nr);
			for (size_t i = 0; i < nr; i++)
				if (rd_kafka_topic_result_error(res[i]))
					fprintf(stderr, "bench_broker: could not delete %s: %s\n",
						rd_kafka_topic_result_name(res[i]),
						rd_kafka_topic_result_error_string(res[i]));
			rd_kafka_event_destroy(ev);
		} else {
			fprintf(stderr, "bench_broker: deleting the %s* topics timed out\n", f->prefix);
		}
		rd_kafka_DeleteTopic_destroy_array(del, n);
		rd_kafka_queue_destroy(q);
	}
	rd_kafka_destroy(rk);
}

/* A federation of A, B and C, the broker on it with ingest.agency_ops_per_s
 * = quota; after a warm-up, the phases "A idle" and "A floods". Its topics
 * are deleted after; on a failure its directory (the broker's log) stays. */
static int fair_run(const struct fair_opts *o, long quota, struct fair_phase ph[2])
{
	static const char *const ids[] = { "bench-a", "bench-b", "bench-c" };
	struct fed f;
	char extra[1024], conf[256], log[256] = "";
	int port = free_port(), rc = -1;
	int64_t deadline;
	uint32_t tok = 0x10000000u;

	if (fed_new(&f, o->bootstrap, o->parts))
		goto out;
	for (int i = 0; i < 3; i++) {
		char name[64];
		snprintf(name, sizeof(name), "Bench Agency %c", 'A' + i);
		if (fed_agency(&f, ids[i], name, K(AGENCY_LEVEL__AGENCY_LEVEL_STATE), "US",
			       K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)) < 0)
			goto out;
	}
	/* after -x: the quota is -q's (or off), whatever -x says */
	snprintf(extra, sizeof(extra),
		 "[http]\nport = %d\n[log]\nlevel = notice\n%s\n[ingest]\nagency_ops_per_s = %ld\n%s",
		 port, o->xconf, quota,
		 quota >= FAIR_OFF ? "agency_bytes_per_s = 1099511627776\n" : "");
	snprintf(log, sizeof(log), "%s/broker-f.log", f.dir);
	if (fed_broker_conf(&f, "f", extra, conf, sizeof(conf)) ||
	    (broker_pid[0] = fed_broker_start(o->broker_bin, conf, log)) <= 0)
		goto out;
	deadline = deconf_mono_us() + 120 * 1000000LL;
	while (http_status(port, "/readyz") != 200) {
		if (deconf_mono_us() > deadline || !alive(broker_pid[0])) {
			fprintf(stderr, "bench_broker: the broker never got ready; see %s\n", log);
			goto out;
		}
		usleep(50000);
	}
	/* a warm-up, not measured: the first transactions, Kafka's metadata */
	if (pair_stream(&f, o->pairs_per_s, 3, &tok, port, NULL, NULL, NULL) < 0 ||
	    fed_flush(&f))
		goto out;
	sleep(2);
	if (fair_phase(&f, o, port, 0, &tok, &ph[0]) || fair_phase(&f, o, port, 1, &tok, &ph[1])) {
		fprintf(stderr, "bench_broker: a fairness phase failed; see %s\n", log);
		goto out;
	}
	rc = 0;
out:
	if (broker_pid[0] > 0) {
		int st = fed_broker_stop(broker_pid[0]);
		broker_pid[0] = 0;
		if (st && !rc) {
			fprintf(stderr, "bench_broker: the broker did not stop cleanly (%d); see %s\n",
				st, log);
			rc = -1;
		}
	}
	if (f.producer) {
		fed_flush(&f);
		delete_topics(&f);
	}
	if (rc) /* keep the directory: the broker's log */
		setenv("FED_KEEP", "1", 1);
	fed_free(&f);
	return rc;
}

static const char *fair_ms(char *buf, size_t size, double ms, int drain_s)
{
	if (ms < 0)
		snprintf(buf, size, ">%ds", drain_s);
	else
		snprintf(buf, size, "%.0f", ms);
	return buf;
}

/* a p99 next to the 250 ms goal */
static const char *fair_goal(char *buf, size_t size, double ms, int drain_s)
{
	if (ms < 0)
		snprintf(buf, size, "over %d s (not all arrived)", drain_s);
	else
		snprintf(buf, size, "%.0f ms (%.2fx)", ms, ms / 250);
	return buf;
}

static void fair_row(const char *name, const struct fair_phase *p, int drain_s)
{
	char got[32], a[16], b[16], c[16], k[16] = "?";

	snprintf(got, sizeof(got), "%zu/%zu", p->got, p->expected);
	if (p->cpu_kafka >= 0)
		snprintf(k, sizeof(k), "%.0f", p->cpu_kafka);
	printf("  %-30s %11s %7s %7s %7s %8.0f %6s %5.0f\n", name, got,
	       fair_ms(a, sizeof(a), p->p50, drain_s), fair_ms(b, sizeof(b), p->p99, drain_s),
	       fair_ms(c, sizeof(c), p->max, drain_s), p->cpu_broker, k, p->cpu_self);
	if (p->pause_at >= 0) {
		char name2[64];
		snprintf(name2, sizeof(name2), "  from A's 1st pause (%.1f s)", p->pause_at);
		printf("  %-30s %11zu %7s %7s %7s\n", name2, p->late_got,
		       fair_ms(a, sizeof(a), p->late_p50, drain_s),
		       fair_ms(b, sizeof(b), p->late_p99, drain_s),
		       fair_ms(c, sizeof(c), p->late_max, drain_s));
	}
}

/* p99 ratio flood / idle, or what can be said when notices were missing */
static const char *fair_ratio(char *buf, size_t size, const struct fair_phase ph[2], int drain_s)
{
	if (ph[1].p99 < 0 && ph[0].p99 > 0)
		snprintf(buf, size, "> %.0f", drain_s * 1000.0 / ph[0].p99);
	else if (ph[1].p99 < 0 || ph[0].p99 <= 0)
		snprintf(buf, size, "n/a");
	else
		snprintf(buf, size, "%.2f", ph[1].p99 / ph[0].p99);
	return buf;
}

static void fair_flood_row(const char *name, const struct fair_phase *p, long quota)
{
	char paused[48] = "never", share[16] = "-", offered[16] = "?";

	if (p->a_paused > 0)
		snprintf(paused, sizeof(paused), "%.0f times, %.1f s", p->a_paused, p->a_paused_s);
	if (quota < FAIR_OFF)
		snprintf(share, sizeof(share), "%.2f", p->a_applied / (double)quota);
	if (p->a_offered >= 0)
		snprintf(offered, sizeof(offered), "%.0f", p->a_offered);
	printf("  %-20s %10s %10.0f %7s %17.0f  %s\n", name, offered, p->a_applied, share,
	       p->backlog, paused);
	if (p->a_rejected > 0)
		printf("  (%.0f of A's submissions were refused: see the broker's log)\n",
		       p->a_rejected);
}

static int fairness(const struct fair_opts *o)
{
	struct fair_phase on[2], off[2];
	int drain_s = fair_drain_s(o);
	char r_on[16], r_off[16], a[48], b[48], name[64], rate[48] = "as fast as it can";

	if (o->a_max > 0)
		snprintf(rate, sizeof(rate), "at most %.0f token ops/s", o->a_max);
	printf("bench_broker -F %d: agency A floods (signed submissions of %u ADDs, %s) while B "
	       "and C add %.0f conflicting pairs/s; %d s per phase, %d partitions; quota %ld token "
	       "ops/s, then off\n",
	       o->seconds, o->a_per, rate, o->pairs_per_s, o->seconds, o->parts, o->quota);
	fflush(stdout);
	if (fair_run(o, o->quota, on) || fair_run(o, FAIR_OFF, off))
		return 1;
	printf("  %-30s %11s %7s %7s %7s %8s %6s %5s\n", "B and C's notices (ms)", "arrived",
	       "p50", "p99", "max", "broker%", "Kafka%", "this%");
	snprintf(name, sizeof(name), "quota %ld/s, A idle", o->quota);
	fair_row(name, &on[0], drain_s);
	snprintf(name, sizeof(name), "quota %ld/s, A floods", o->quota);
	fair_row(name, &on[1], drain_s);
	fair_row("quota off, A idle", &off[0], drain_s);
	fair_row("quota off, A floods", &off[1], drain_s);
	printf("  (broker%%, Kafka%%, this%%: CPU used in the phase, %% of one core; the machine has "
	       "%ld)\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("  %-20s %10s %10s %7s %17s  %s\n", "A's token ops/s", "offered", "applied",
	       "/quota", "matcher's backlog", "paused for its quota");
	snprintf(name, sizeof(name), "quota %ld/s", o->quota);
	fair_flood_row(name, &on[1], o->quota);
	fair_flood_row("quota off", &off[1], FAIR_OFF);
	printf("  p99 A floods / A idle: %s with the quota, %s without it\n",
	       fair_ratio(r_on, sizeof(r_on), on, drain_s),
	       fair_ratio(r_off, sizeof(r_off), off, drain_s));
	printf("  goal context: docs/design.md asks p99 <= 250 ms at half load; B and C's p99 while "
	       "A floods: %s with the quota, %s without it\n",
	       fair_goal(a, sizeof(a), on[1].p99, drain_s),
	       fair_goal(b, sizeof(b), off[1].p99, drain_s));
	return 0;
}

int main(int argc, char **argv)
{
	long ops = 200000;
	int per = 100, n_ag = 4, parts = 4, lat_s = 15, copies = 1, ch;
	double overlap = 1.0;
	const char *broker_bin = BROKER_BIN, *bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP");
	struct fed f;
	struct gen g;
	char log[256], extra[512];
	int port = free_port();
	int64_t t_start, t_first = 0, t_done = 0, t_ingested = 0, deadline;
	double rate, pipe_rate, entries, bytes, cpu_used = 0, kafka_cpu = 0, bench_cpu = 0;
	struct reader rd = { 0 };
	pthread_t th;

	const char *xconf = "";
	int pipe_batch = 20000; /* matcher.batch_max's default: the same batches */
	double lat_rate = 0; /* the latency phase's load; 0: half the measured throughput */
	int restart = 0, per_set = 0, fair = 0;
	struct fair_opts fo = { .quota = 20000 }; /* ingest.agency_ops_per_s's default */
	char confs[MAX_INSTANCES][256];
	double t_ready = -1, t_served = -1;

	while ((ch = getopt(argc, argv, "n:s:a:o:p:t:b:x:i:B:r:c:RKF:q:A:h")) != -1) {
		switch (ch) {
		case 'n': ops = atol(optarg); break;
		case 's': per = atoi(optarg); per_set = 1; break;
		case 'a': n_ag = atoi(optarg); break;
		case 'o': overlap = atof(optarg); break;
		case 'p': parts = atoi(optarg); break;
		case 'c': copies = atoi(optarg); break;
		case 't': lat_s = atoi(optarg); break;
		case 'b': broker_bin = optarg; break;
		case 'x': xconf = optarg; break;
		case 'i': n_inst = atoi(optarg); break;
		case 'B': pipe_batch = atoi(optarg); break;
		case 'r': lat_rate = atof(optarg); break;
		case 'R': restart = 1; break;
		case 'K': restart = 2; break;
		case 'F': fo.seconds = atoi(optarg); fair = 1; break;
		case 'q': fo.quota = atol(optarg); break;
		case 'A': fo.a_max = atof(optarg); break;
		default: fputs(usage, ch == 'h' ? stdout : stderr); return ch == 'h' ? 0 : 2;
		}
	}
	if (ops < 1000 || per < 1 || per > 10000 || n_ag < 2 || n_ag > FED_MAX_AGENCIES ||
	    overlap < 0 || overlap > 100 || parts < 1 || lat_s < 1 || n_inst < 1 || lat_rate < 0 ||
	    n_inst > MAX_INSTANCES) {
		fputs(usage, stderr);
		return 2;
	}
	if (!bootstrap) {
		fprintf(stderr, "bench_broker: DECONF_KRAFT_BOOTSTRAP is not set: start Kafka with "
				"deploy/kafka/kafka.sh start and eval \"$(deploy/kafka/kafka.sh env)\"\n");
		return 1;
	}
	atexit(kill_broker);
	if (fair) {
		fo.parts = parts;
		fo.a_per = per_set ? (uint32_t)per : 2000;
		/* two token ops per pair; 20 pairs/s by default */
		fo.pairs_per_s = (lat_rate > 0 ? lat_rate : 40) / 2;
		fo.broker_bin = broker_bin;
		fo.bootstrap = bootstrap;
		fo.xconf = xconf;
		if (fo.seconds < 1 || fo.quota < 1 || fo.quota >= FAIR_OFF || fo.a_max < 0 ||
		    fo.pairs_per_s > 5000 || n_inst != 1 || restart) {
			fputs(usage, stderr);
			return 2;
		}
		return fairness(&fo);
	}
	/* -c 3 on a cluster of three: topics as topics apply makes them there */
	if (fed_new_replicated(&f, bootstrap, parts, copies))
		return 1;
	for (int i = 0; i < n_ag; i++) {
		char id[32], name[64];
		snprintf(id, sizeof(id), "bench-%d", i);
		snprintf(name, sizeof(name), "Bench Agency %d", i);
		if (fed_agency(&f, id, name, K(AGENCY_LEVEL__AGENCY_LEVEL_STATE), "US",
			       K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)) < 0)
			return 1;
	}
	g = (struct gen){ .f = &f, .per = (uint32_t)per, .overlap_pm = (uint32_t)(overlap * 10),
			  .seed = 42 };
	printf("bench_broker: %ld token ops in signed submissions of %d, %d agencies, %.1f%% "
	       "overlap, %d partitions, %d broker instance(s)\n",
	       ops, per, n_ag, overlap, parts, n_inst);
	fflush(stdout);
	for (long i = 0; i < ops / per; i++)
		if (submit_one(&g, "P"))
			return 1;
	if (fed_flush(&f))
		return 1;
	ops = ops / per * per;

	/* 1. the broker on the backlog: instance "i0" runs ingest and the
	 * matcher, any more instances a matcher each (same group) */
	for (int i = 0; i < n_inst; i++) {
		char inst[8];
		snprintf(inst, sizeof(inst), "i%d", i);
		snprintf(extra, sizeof(extra),
			 "[broker]\nparts = %s\n[http]\nport = %d\n[log]\nlevel = notice\n"
			 /* the broker's capacity, not the per-agency quota (-F
			  * measures that): a few agencies carry all the load here */
			 "[ingest]\nagency_ops_per_s = 100000000\nagency_bytes_per_s = 1024G\n"
			 /* room for the entries (about 100 bytes each) and the rest */
			 "[matcher]\nstate_map_size = %ldM\n%s\n",
			 i ? "matcher" : "all", port + i, 1024 + ops / 2000, xconf);
		snprintf(log, sizeof(log), "%s/broker-%s.log", f.dir, inst);
		if (fed_broker_conf(&f, inst, extra, confs[i], sizeof(confs[i])) ||
		    (broker_pid[i] = fed_broker_start(broker_bin, confs[i], log)) <= 0)
			return 1;
	}
	snprintf(log, sizeof(log), "%s/broker-i*.log", f.dir);
	t_start = deconf_mono_us();
	deadline = t_start + 600 * 1000000LL;
	for (;;) {
		double done = metric(port, "deconf_ops_total");
		double subs = metric(port, "deconf_submissions_total");
		int64_t now = deconf_mono_us();
		if (subs >= (double)(ops / per) && !t_ingested)
			t_ingested = now;
		if (done > 0 && !t_first)
			t_first = now;
		if (done >= (double)ops) {
			t_done = now;
			break;
		}
		if (now > deadline || !alive(broker_pid[0]) || !alive(broker_pid[n_inst - 1])) {
			fprintf(stderr, "bench_broker: the broker did not apply %ld ops (%.0f done); "
					"see %s\n",
				ops, done, log);
			return 1;
		}
		usleep(200000);
	}
	rate = (double)ops / ((double)(t_done - t_first) / 1e6);
	entries = metric(port, "deconf_state_entries");
	bytes = metric(port, "deconf_state_bytes");
	sleep(6); /* the gauges are refreshed every 5 s */
	entries = metric(port, "deconf_state_entries");
	bytes = metric(port, "deconf_state_bytes");

	/* 2. the raw pipe over the same token-op records */
	pipe_rate = raw_pipe(&f, ops, pipe_batch);
	if (pipe_rate <= 0)
		return 1;

	/* 3. latency at half load */
	rd.f = &f;
	rd.since = deconf_now_ms();
	/* the same mix as phase 1: half of its load means the same work */
	if (pthread_create(&th, NULL, reader_main, &rd))
		return 1;
	sleep(1);
	{
		double subs_per_s = (lat_rate > 0 ? lat_rate : rate / 2) / per;
		double cpu0 = cpu_seconds(), kcpu0 = cpu_of(kafka_pid()), bcpu0 = cpu_of(getpid());
		int64_t start = deconf_mono_us(), end = start + (int64_t)lat_s * 1000000;
		long sent = 0;
		while (deconf_mono_us() < end) {
			double due = (double)(deconf_mono_us() - start) / 1e6 * subs_per_s;
			while (sent < (long)due) {
				if (submit_one(&g, "L"))
					return 1;
				sent++;
			}
			usleep(1000);
		}
		fed_flush(&f);
		cpu_used = cpu_seconds() - cpu0;
		kafka_cpu = cpu_of(kafka_pid()) - kcpu0;
		bench_cpu = cpu_of(getpid()) - bcpu0;
		sleep(3);
		rd.stop = 1;
		pthread_join(th, NULL);
		/* what each stage's transactions took (both phases; bucket bounds) */
		printf("  batch time (s, <=):   ingest p50 %g p99 %g; matcher p50 %g p99 %g\n",
		       hist_quantile(port, "deconf_batch_seconds_bucket{part=\"ingest\"", 0.5),
		       hist_quantile(port, "deconf_batch_seconds_bucket{part=\"ingest\"", 0.99),
		       hist_quantile(port, "deconf_batch_seconds_bucket{part=\"matcher\"", 0.5),
		       hist_quantile(port, "deconf_batch_seconds_bucket{part=\"matcher\"", 0.99));
		printf("  latency load:         %.0f token ops/s offered for %d s (%ld submissions)\n",
		       (double)sent * per / lat_s, lat_s, sent);
		printf("  CPU meanwhile:        broker %.0f%%, Kafka %s%.0f%%, this program %.0f%% of "
		       "one core (the machine has %ld)\n",
		       cpu_used * 100 / lat_s, kafka_pid() ? "" : "(unknown) ",
		       kafka_cpu * 100 / lat_s, bench_cpu * 100 / lat_s, sysconf(_SC_NPROCESSORS_ONLN));
	}
	if (restart && measure_restart(&f, broker_bin, confs, port, restart == 2, &t_ready,
				       &t_served))
		return 1;
	for (int i = 0; i < n_inst; i++) {
		if (fed_broker_stop(broker_pid[i])) {
			fprintf(stderr, "bench_broker: the broker did not stop cleanly; see %s\n",
				log);
			broker_pid[i] = 0;
			return 1;
		}
		broker_pid[i] = 0;
	}
	printf("  broker end to end:    %.0f token ops/s sustained (goal >= 100000: %.2fx)\n",
	       rate, rate / 100000);
	printf("  timeline (s):         broker started 0, first op matched %.1f, every "
	       "submission ingested %.1f, every op matched %.1f\n",
	       (double)(t_first - t_start) / 1e6, (double)(t_ingested - t_start) / 1e6,
	       (double)(t_done - t_start) / 1e6);
	printf("  raw pipe (limit):     %.0f records/s (transactional consume->produce)\n",
	       pipe_rate);
	printf("  ratio broker/pipe:    %.2f (goal >= 0.5)\n", rate / pipe_rate);
	if (rd.n) {
		qsort(rd.lat, rd.n, sizeof(double), cmpd);
		printf("  notice latency:       p50 %.0f ms, p99 %.0f ms over %zu notices at half "
		       "load (goal p99 <= 250 ms: %.2fx)\n",
		       rd.lat[rd.n / 2], rd.lat[(size_t)((double)rd.n * 0.99)], rd.n,
		       rd.lat[(size_t)((double)rd.n * 0.99)] / 250);
		qsort(rd.made, rd.n, sizeof(double), cmpd);
		printf("    of which:           submitted -> the matcher made the notice: p50 %.0f ms, "
		       "p99 %.0f ms; the rest is the matcher's commit and the read\n",
		       rd.made[rd.n / 2], rd.made[(size_t)((double)rd.n * 0.99)]);
	} else {
		printf("  notice latency:       no notices arrived\n");
	}
	printf("  state:                %.0f entries in %.0f bytes: %.0f bytes/entry (goal <= 128)\n",
	       entries, bytes, entries > 0 ? bytes / entries : 0);
	if (restart == 1)
		printf("  restart:              stopped and started again on those %.0f entries: ready "
		       "(/readyz) after %.1f s, a new conflict notified after %.1f s (goal <= 10 s "
		       "with 10M entries: %.2fx)\n",
		       entries, t_ready, t_served, t_served / 10);
	else if (restart == 2)
		printf("  restart after kill -9: killed and started again on those %.0f entries: ready "
		       "(/readyz) after %.1f s (goal <= 2 s: %.2fx), a new conflict notified after "
		       "%.1f s\n",
		       entries, t_ready, t_ready / 2, t_served);
	free(rd.lat);
	free(rd.made);
	free(rd.at);
	fed_free(&f);
	return 0;
}
