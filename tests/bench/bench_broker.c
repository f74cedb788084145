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
 * 5. With -R, restart: the broker stopped and started again on that state;
 *    seconds until /readyz answers 200 and until a new conflict has been
 *    notified (with -n 10000000: docs/design.md's 10M entries within 10 s).
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
	"                    [-x INI] [-r LATENCY_OPS_PER_S] [-R]\n"
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

/* Sum of every series of a family in one broker's /metrics. */
static double metric1(int port, const char *family)
{
	char cmd[128], line[1024];
	size_t fl = strlen(family);
	double sum = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%d/metrics", port);
	if (!(p = popen(cmd, "r")))
		return -1;
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, family, fl) && (line[fl] == ' ' || line[fl] == '{')) {
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
		sum += metric1(port + i, family);
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
					if (!r->lat || !r->made)
						abort();
				}
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

/* 5. Restart: every instance stopped (SIGTERM) and started again on the
 * state it has; seconds until every /readyz says 200, and until a new
 * conflict (two agencies, one fresh token) has reached both agencies. */
static int measure_restart(struct fed *f, const char *broker_bin,
			   char confs[][256], int port, double *ready, double *served)
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
		if (fed_broker_stop(broker_pid[i])) {
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

int main(int argc, char **argv)
{
	long ops = 200000;
	int per = 100, n_ag = 4, parts = 4, lat_s = 15, ch;
	double overlap = 1.0;
	const char *broker_bin = BROKER_BIN, *bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP");
	struct fed f;
	struct gen g;
	char log[256], extra[512], topic[96];
	int port = free_port();
	int64_t t_start, t_first = 0, t_done = 0, t_ingested = 0, deadline;
	double rate, pipe_rate, entries, bytes, cpu_used = 0, kafka_cpu = 0, bench_cpu = 0;
	struct reader rd = { 0 };
	pthread_t th;

	const char *xconf = "";
	int pipe_batch = 20000; /* matcher.batch_max's default: the same batches */
	double lat_rate = 0; /* the latency phase's load; 0: half the measured throughput */
	int restart = 0;
	char confs[MAX_INSTANCES][256];
	double t_ready = -1, t_served = -1;

	while ((ch = getopt(argc, argv, "n:s:a:o:p:t:b:x:i:B:r:Rh")) != -1) {
		switch (ch) {
		case 'n': ops = atol(optarg); break;
		case 's': per = atoi(optarg); break;
		case 'a': n_ag = atoi(optarg); break;
		case 'o': overlap = atof(optarg); break;
		case 'p': parts = atoi(optarg); break;
		case 't': lat_s = atoi(optarg); break;
		case 'b': broker_bin = optarg; break;
		case 'x': xconf = optarg; break;
		case 'i': n_inst = atoi(optarg); break;
		case 'B': pipe_batch = atoi(optarg); break;
		case 'r': lat_rate = atof(optarg); break;
		case 'R': restart = 1; break;
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
	if (fed_new(&f, bootstrap, parts))
		return 1;
	for (int i = 0; i < n_ag; i++) {
		char id[32], name[64];
		snprintf(id, sizeof(id), "bench-%d", i);
		snprintf(name, sizeof(name), "Bench Agency %d", i);
		if (fed_agency(&f, id, name, K(AGENCY_LEVEL__AGENCY_LEVEL_STATE), "US",
			       K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)) < 0)
			return 1;
		snprintf(topic, sizeof(topic), "%ssubmit.%s", f.prefix, id);
		if (fed_create_topic(&f, topic, 1, 0))
			return 1;
		snprintf(topic, sizeof(topic), "%snotices.%s", f.prefix, id);
		if (fed_create_topic(&f, topic, 1, 0))
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
	if (restart && measure_restart(&f, broker_bin, confs, port, &t_ready, &t_served))
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
	if (restart)
		printf("  restart:              stopped and started again on those %.0f entries: ready "
		       "(/readyz) after %.1f s, a new conflict notified after %.1f s (goal <= 10 s "
		       "with 10M entries: %.2fx)\n",
		       entries, t_ready, t_served, t_served / 10);
	free(rd.lat);
	free(rd.made);
	fed_free(&f);
	return 0;
}
