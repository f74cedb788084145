/*
 * test_hostile.c — one hostile agency against deconf-broker on the real
 * Kafka: whatever agency A writes to its own submit topic, validly signed,
 * agencies B and C are not hurt.
 *
 * After each attack a fresh conflict between B and C must reach both
 * within MAX_LATENCY_S of the flush of the second submission, and A's
 * record must be answered as the contract says (the reason code of the
 * signed Reject on A's rejects topic, with a detail). At the end B's and
 * C's notices are exactly the expected set (kind, case, counterpart,
 * token; each verified with the broker's key; none missing, none extra,
 * no duplicate), the state holds exactly the entries B, C and A should
 * hold, and a fourth agency D that adds every token B and C ever added
 * gets exactly one conflict per (D case, B/C entry): nothing of B or C was
 * deleted or moved by A.
 *
 * The attacks (test_hostile):
 *   1 a 1,000,000-byte point of contact (within ingest.max_record_bytes)
 *   2 a 300 KB point of contact on a token B holds (a notice too large)
 *   3 a token under key epoch 4294967295; then a restart with a 300 ms
 *     expiry scan (an epoch moved by A would retire B's and C's entries)
 *   4 with ~25,000 entries held, 48,000 token-less CLOSE_CASE ops in one
 *     submission, naming B's and C's case refs too
 *   6 terminal escapes and invalid UTF-8 in a point of contact
 *   7 directory entries for reserved ids (deconf-broker, admin), signed by
 *     the federation, and a submission on submit.deconf-broker
 *   5 a flood far over ingest.agency_ops_per_s (run last: it needs the
 *     broker restarted with a low quota)
 * and, with its own federation and broker (test_unwritable):
 *   8 a valid ADD whose token op cannot be written (kafka.message.max.bytes
 *     below it; then a topic-level max.message.bytes on deconf.tokens, so
 *     the batch fails at the Kafka broker and ingest re-reads it one record
 *     per transaction): UNPROCESSABLE, never retried forever.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP; exits 77 without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/util.h"
#include "fed.h"

#define K(x) DECONF__V1__##x
#define R(x) K(REJECT_REASON__REJECT_REASON_##x)
#define ADD K(OP__OP_ADD)
#define CLOSE K(OP__OP_CLOSE_CASE)
#define MD5 K(INDICATOR_TYPE__INDICATOR_TYPE_MD5)
#define CONFLICT K(NOTICE_KIND__NOTICE_KIND_CONFLICT)
#define T_NOTICES K(MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE)
#define T_REJECTS K(MESSAGE_TYPE__MESSAGE_TYPE_REJECT)
#define ACTIVE K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)

/* The bound on B's and C's conflict after an attack. Under ASan and
 * UBSan everything runs 2-3 times slower, so the sanitizer pass allows
 * 2.5 times as long (the normal pass holds the bound itself). */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
#define MAX_LATENCY_S 5.0
#else
#define MAX_LATENCY_S 2.0
#endif
/* The unwritable-record steps break the broker's own limits on purpose
 * (librdkafka's message.max.bytes at its minimum, the tokens topic's
 * max.message.bytes): every batch is smaller or re-read one record at a
 * time while the record is found, which B and C wait behind too. */
#define UNWRITABLE_LATENCY_S (5 * MAX_LATENCY_S)
#define PARTITIONS 4
#define BATCH 2000          /* ADDs per submission, as an adapter sends them */
#define PREFILL_CASES 100   /* B's and C's; A has half as many */
#define PER_CASE 100
#define CLOSE_OPS 48000
#define FLOOD_OPS_PER_S 5000
#define FLOOD_SUBS 40       /* of BATCH ADDs: 80,000 ops, 16 s of A's quota */
#define FLOOD_SECONDS 5

/* token numbers (fed_token): each range its own */
#define TOK_ROUND 1000
#define TOK_SHARED 2000     /* B's, attacked by A in 2 and 7 */
#define TOK_A 3000          /* A's single attacks */
#define TOK_PREFILL_B 100000
#define TOK_PREFILL_C 200000
#define TOK_PREFILL_A 300000
#define TOK_FLOOD 400000
#define TOK_MAX 600000

static const char *bootstrap;
static int failures;

/* A broken promise: counted, told, and the test goes on, so one run shows
 * every attack's outcome; the test fails at its end. */
#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			failures++;                                               \
			print_message("FAILED (%s:%d): ", __FILE__, __LINE__);    \
			print_message(__VA_ARGS__);                               \
			print_message("\n");                                      \
		}                                                                 \
	} while (0)

/* Brokers started and not yet stopped: killed at exit, so a failed test
 * leaves none behind. */
static pid_t running[16];

static pid_t track(pid_t pid)
{
	for (int i = 0; i < 16 && pid > 0; i++)
		if (running[i] <= 0) {
			running[i] = pid;
			break;
		}
	return pid;
}

static void untrack(pid_t pid)
{
	for (int i = 0; i < 16; i++)
		if (running[i] == pid)
			running[i] = 0;
}

static void kill_running(void)
{
	for (int i = 0; i < 16; i++)
		if (running[i] > 0)
			kill(running[i], SIGKILL);
}

static double now_s(void)
{
	return (double)deconf_mono_us() / 1e6;
}

/* GET path: the HTTP status (-1: no answer); body receives the text. */
static int http_get(int port, const char *path, char *body, size_t size)
{
	char cmd[256], *nl;
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "curl -s -m 10 -o - -w '\\n%%{http_code}' http://127.0.0.1:%d%s",
		 port, path);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(body, 1, size - 1, p);
	body[n] = '\0';
	pclose(p);
	if (!(nl = strrchr(body, '\n')))
		return -1;
	*nl = '\0'; /* the body, without curl's status line */
	return atoi(nl + 1);
}

/* /readyz's status; when not 200, what it says is printed. */
static int readyz(int port)
{
	char body[1024];
	int code = http_get(port, "/readyz", body, sizeof(body));

	if (code != 200)
		print_message("  /readyz: %d: %s\n", code, body);
	return code;
}

/* The value of one series of /metrics (`name{labels}` exactly as the
 * broker writes it); 0 when absent (*found 0). */
static double metric(int port, const char *series, int *found)
{
	size_t size = 4 << 20, len = strlen(series);
	char *body = malloc(size), *p;
	double v = 0;

	assert_non_null(body);
	if (found)
		*found = 0;
	assert_int_equal(http_get(port, "/metrics", body, size), 200);
	for (p = body; (p = strstr(p, series)); p += len)
		if ((p == body || p[-1] == '\n') && p[len] == ' ') {
			v = strtod(p + len + 1, NULL);
			if (found)
				*found = 1;
			break;
		}
	free(body);
	return v;
}

/* With T_DEBUG set: print the /metrics lines starting with prefix. */
static void debug_metrics(int port, const char *prefix)
{
	size_t size = 4 << 20;
	char *body, *line, *save = NULL;

	if (!getenv("T_DEBUG"))
		return;
	assert_non_null(body = malloc(size));
	http_get(port, "/metrics", body, size);
	for (line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, prefix, strlen(prefix)))
			print_message("    %s\n", line);
	free(body);
}

static void check_log(const char *log)
{
	char cmd[600];

	assert_true((size_t)snprintf(cmd, sizeof(cmd), "grep -q 'Sanitizer\\|runtime error' '%s'",
				     log) < sizeof(cmd));
	if (system(cmd) == 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", log);
		assert_int_equal(system(cmd), 0);
		fail_msg("sanitizer report in %s", log);
	}
}

/* Count lines of the broker's log holding all of the words (grep -c). */
static long log_count(const char *log, const char *what)
{
	char cmd[700], out[64] = "";
	FILE *p;

	assert_true((size_t)snprintf(cmd, sizeof(cmd), "grep -c -F -- '%s' '%s'", what, log) <
		    sizeof(cmd));
	assert_non_null(p = popen(cmd, "r"));
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	return atol(out);
}

static const char *reason_name(int reason)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&deconf__v1__reject_reason__descriptor, reason);

	return v ? v->name + strlen("REJECT_REASON_") : "?";
}

/* ------------------------------------------------------------ the world */

/* An entry B or C holds (what D adds again at the end). */
struct held {
	uint32_t tok;
	int ag;
	char case_ref[16];
};

/* A notice the test expects. */
struct want {
	int ag, cp_ag;
	char case_ref[24], cp_case[24];
	uint32_t tok;
};

struct row {
	char attack[40], answer[40];
	double latency;
};

struct world {
	struct fed f;
	int a, b, c, d;
	char conf[256], log[256];
	int http_port;
	pid_t broker;
	struct fed_watch notices, rejects; /* every agency's, from the beginning */
	int rounds;
	struct held *held;
	size_t n_held, cap_held;
	struct want *want;
	size_t n_want, cap_want;
	uint64_t a_entries; /* entries A holds */
	/* A's submit topic has one partition and the test alone writes it: the
	 * offset of A's next submission */
	int64_t a_offset;
	struct row rows[32];
	int n_rows;
};

static void hold(struct world *w, int ag, const char *case_ref, uint32_t tok)
{
	if (w->n_held == w->cap_held) {
		w->cap_held = w->cap_held ? 2 * w->cap_held : 1024;
		assert_non_null(w->held = realloc(w->held, w->cap_held * sizeof(*w->held)));
	}
	w->held[w->n_held].tok = tok;
	w->held[w->n_held].ag = ag;
	snprintf(w->held[w->n_held].case_ref, sizeof(w->held[0].case_ref), "%s", case_ref);
	w->n_held++;
}

static void expect(struct world *w, int ag, const char *case_ref, int cp_ag, const char *cp_case,
		   uint32_t tok)
{
	struct want *x;

	if (w->n_want == w->cap_want) {
		w->cap_want = w->cap_want ? 2 * w->cap_want : 1024;
		assert_non_null(w->want = realloc(w->want, w->cap_want * sizeof(*w->want)));
	}
	x = &w->want[w->n_want++];
	memset(x, 0, sizeof(*x));
	x->ag = ag;
	x->cp_ag = cp_ag;
	snprintf(x->case_ref, sizeof(x->case_ref), "%s", case_ref);
	snprintf(x->cp_case, sizeof(x->cp_case), "%s", cp_case);
	x->tok = tok;
}

static void row(struct world *w, const char *attack, const char *answer, double latency)
{
	struct row *r;

	assert_true(w->n_rows < (int)(sizeof(w->rows) / sizeof(w->rows[0])));
	r = &w->rows[w->n_rows++];
	snprintf(r->attack, sizeof(r->attack), "%s", attack);
	snprintf(r->answer, sizeof(r->answer), "%s", answer);
	r->latency = latency;
}

/* A submission of agency ag (not flushed); for A, its offset on A's
 * submit topic (Rejects name it), else -1. */
static int64_t submit(struct world *w, int ag, const struct fed_op *ops, size_t n, uint8_t *id)
{
	assert_int_equal(fed_submit(&w->f, ag, ops, n, id), 0);
	return ag == w->a ? w->a_offset++ : -1;
}

static void op_add(struct fed_op *o, const struct fed *f, const char *case_ref, uint32_t tok)
{
	memset(o, 0, sizeof(*o));
	o->op = ADD;
	o->case_ref = case_ref;
	o->type = MD5;
	o->poc_name = "Det. Example";
	fed_token(f, tok, o->token);
}

/* One ADD of agency ag (id: the submission id); as submit(). */
static int64_t submit_add(struct world *w, int ag, const char *case_ref, uint32_t tok,
			  uint8_t *id)
{
	struct fed_op o;

	op_add(&o, &w->f, case_ref, tok);
	return submit(w, ag, &o, 1, id);
}

static int agency(struct fed *f, const char *id, const char *name)
{
	int i = fed_agency(f, id, name, K(AGENCY_LEVEL__AGENCY_LEVEL_STATE), "US", ACTIVE);

	assert_true(i >= 0); /* with its topics, before the watchers start */
	return i;
}

static void broker_start(struct world *w, const char *extra)
{
	char text[1024];

	snprintf(text, sizeof(text), "[http]\nport = %d\n%s", w->http_port, extra ? extra : "");
	assert_int_equal(fed_broker_conf(&w->f, "a", text, w->conf, sizeof(w->conf)), 0);
	snprintf(w->log, sizeof(w->log), "%s/broker-a.log", w->f.dir);
	assert_true((w->broker = track(fed_broker_start(BROKER_BIN, w->conf, w->log))) > 0);
}

/* SIGTERM: the broker finishes its batch and exits 0 (a sanitizer's
 * report makes it exit otherwise). */
static void broker_stop(struct world *w)
{
	int rc;

	untrack(w->broker);
	rc = fed_broker_stop(w->broker);
	CHECK(rc == 0, "the broker exited %d on SIGTERM (its log: %s)", rc, w->log);
	w->broker = 0;
}

/* Wait for /readyz to answer 200 (the parts hold and have restored their
 * partitions). */
static void wait_ready(struct world *w, int max_s)
{
	double t0 = now_s();
	char body[1024];

	while (http_get(w->http_port, "/readyz", body, sizeof(body)) != 200) {
		assert_true(now_s() - t0 < max_s);
		usleep(200000);
	}
}

static const struct fed_notice *find_notice(const struct world *w, size_t from, int ag,
					    const char *case_ref, int cp_ag, const char *cp_case)
{
	for (size_t i = from; i < w->notices.n; i++) {
		const struct fed_notice *x = &w->notices.notices[i];
		if (x->kind == CONFLICT && !strcmp(x->agency, w->f.ag[ag].id) &&
		    !strcmp(x->case_ref, case_ref) && !strcmp(x->cp_agency, w->f.ag[cp_ag].id) &&
		    !strcmp(x->cp_case, cp_case))
			return x;
	}
	return NULL;
}

/*
 * A fresh conflict between B and C: B adds a new token, C adds it too; the
 * time from the flush of C's submission until both notices were read. Not
 * there in limit_s: a failure (the time it took is still measured, up to
 * 30 s, and returned; -1 when it never came).
 */
static double round_bc(struct world *w, const char *label, double limit_s)
{
	char cb[16], cc[16];
	uint32_t tok = TOK_ROUND + (uint32_t)w->rounds;
	size_t from = w->notices.n;
	const struct fed_notice *nb = NULL, *nc = NULL;
	double t0, dt = -1;

	snprintf(cb, sizeof(cb), "B-R%d", w->rounds);
	snprintf(cc, sizeof(cc), "C-R%d", w->rounds);
	w->rounds++;
	assert_true(w->rounds < TOK_SHARED - TOK_ROUND);
	submit_add(w, w->b, cb, tok, NULL);
	assert_int_equal(fed_flush(&w->f), 0);
	submit_add(w, w->c, cc, tok, NULL);
	t0 = now_s();
	assert_int_equal(fed_flush(&w->f), 0);
	while (now_s() - t0 < (limit_s > 30 ? limit_s : 30)) {
		fed_watch_poll(&w->notices, 20);
		if (!nb)
			nb = find_notice(w, from, w->b, cb, w->c, cc);
		if (!nc)
			nc = find_notice(w, from, w->c, cc, w->b, cb);
		if (nb && nc) {
			dt = now_s() - t0;
			break;
		}
	}
	hold(w, w->b, cb, tok);
	hold(w, w->c, cc, tok);
	expect(w, w->b, cb, w->c, cc, tok);
	expect(w, w->c, cc, w->b, cb, tok);
	CHECK(dt >= 0, "%s: B's and C's conflict was not notified in 30 s (B %s, C %s)", label,
	      nb ? "told" : "not told", nc ? "told" : "not told");
	CHECK(dt <= limit_s, "%s: B's and C's conflict took %.3f s (limit %.1f s)", label, dt,
	      limit_s);
	print_message("  %-32s B/C conflict notified in %.3f s\n", label, dt);
	return dt;
}

/* The Reject of A's submission at offset `offset` of A's submit topic. */
static const struct fed_reject *find_reject(const struct world *w, int64_t offset)
{
	char topic[96];

	snprintf(topic, sizeof(topic), "%ssubmit.%s", w->f.prefix, w->f.ag[w->a].id);
	for (size_t i = 0; i < w->rejects.n; i++)
		if (w->rejects.rejects[i].offset == offset &&
		    w->rejects.rejects[i].partition == 0 && !strcmp(w->rejects.rejects[i].topic, topic))
			return &w->rejects.rejects[i];
	return NULL;
}

static const struct fed_reject *wait_reject(struct world *w, int64_t offset, int max_s)
{
	double t0 = now_s();
	const struct fed_reject *r;

	while (!(r = find_reject(w, offset)) && now_s() - t0 < max_s)
		fed_watch_poll(&w->rejects, 100);
	return r;
}

/* A's submission (offset, id) was refused with `reason` and a detail
 * naming `field`; the reason's name is returned for the table. */
static const char *expect_reject(struct world *w, const char *attack, int64_t offset,
				 const uint8_t id[16], int reason, const char *field)
{
	const struct fed_reject *r = wait_reject(w, offset, 30);

	/* the watcher returns only Rejects that verify with the broker's key;
	 * one that does not is counted here */
	CHECK(w->rejects.bad == 0, "%s: %zu Rejects do not verify with the broker's key", attack,
	      w->rejects.bad);
	CHECK(r != NULL, "%s: no Reject for A's submission in 30 s", attack);
	if (!r)
		return "(no answer)";
	CHECK(r->reason == reason, "%s: A's submission refused as %s, not %s (%s)", attack,
	      reason_name(r->reason), reason_name(reason), r->detail);
	CHECK(r->detail[0] != '\0', "%s: the Reject has no detail", attack);
	CHECK(!field || strstr(r->detail, field), "%s: the detail does not name %s: %s", attack,
	      field, r->detail);
	CHECK(!strcmp(r->agency, w->f.ag[w->a].id), "%s: the Reject names agency %s", attack,
	      r->agency);
	/* the record was parsed: the Reject says which submission it refuses
	 * (deconf.proto: empty only when the record could not be parsed) */
	CHECK(!memcmp(r->submission_id, id, 16), "%s: the Reject does not carry the refused "
						 "submission's id",
	      attack);
	/* one op per submission here: an op's fault names op 0; what the
	 * submission as a whole becomes may name none (-1) */
	CHECK(r->op_index == 0 || (reason == R(UNPROCESSABLE) && r->op_index == -1),
	      "%s: the Reject names op %d", attack, r->op_index);
	print_message("  %-32s A: %s: %s\n", attack, reason_name(r->reason), r->detail);
	return reason_name(r->reason);
}

/* Wait until /metrics' deconf_state_entries is exactly what B, C, A (and D)
 * hold. The gauge is refreshed every 5 s. */
static void check_entries(struct world *w, const char *when, uint64_t d_entries)
{
	uint64_t want = w->n_held + w->a_entries + d_entries;
	double t0 = now_s(), v = -1;

	while (now_s() - t0 < 30) {
		int found;
		v = metric(w->http_port, "deconf_state_entries", &found);
		if (found && v == (double)want)
			break;
		usleep(500000);
	}
	CHECK(v == (double)want, "%s: the state holds %.0f entries, not %llu (B and C %zu, A %llu, "
				 "D %llu)",
	      when, v, (unsigned long long)want, w->n_held, (unsigned long long)w->a_entries,
	      (unsigned long long)d_entries);
	print_message("  %-32s state: %.0f entries, as expected: %s\n", when, v,
		      v == (double)want ? "yes" : "NO");
}

static double aborts(const struct world *w)
{
	return metric(w->http_port, "deconf_txn_aborts_total{part=\"ingest\"}", NULL);
}

/* Agency ag's submissions of n ADDs of the cases "<prefix><k>", per_case
 * tokens each from tok0, BATCH per submission. */
static void prefill(struct world *w, int ag, const char *prefix, int cases, uint32_t tok0,
		    int track_it)
{
	struct fed_op *ops = calloc(BATCH, sizeof(*ops));
	char (*refs)[16] = calloc((size_t)cases, sizeof(*refs));
	size_t n = 0;

	assert_non_null(ops);
	assert_non_null(refs);
	for (int k = 0; k < cases; k++) {
		snprintf(refs[k], sizeof(refs[k]), "%s%d", prefix, k);
		for (int j = 0; j < PER_CASE; j++) {
			uint32_t tok = tok0 + (uint32_t)(k * PER_CASE + j);
			op_add(&ops[n++], &w->f, refs[k], tok);
			if (track_it)
				hold(w, ag, refs[k], tok);
			if (n == BATCH) {
				submit(w, ag, ops, n, NULL);
				n = 0;
			}
		}
	}
	if (n)
		submit(w, ag, ops, n, NULL);
	assert_int_equal(fed_flush(&w->f), 0);
	free(ops);
	free(refs);
}

/* --------------------------------------------------------------- flood */

struct flood {
	struct fed f; /* a copy of the world's, with a producer of its own */
	int a, n;
	double seconds;
	volatile int done;
};

static void *flood_main(void *arg)
{
	struct flood *fl = arg;
	struct fed_op *ops = calloc(BATCH, sizeof(*ops));
	char ref[16];
	double t0 = now_s();

	assert_non_null(ops);
	/* over three times the quota for FLOOD_SECONDS: more would only
	 * lengthen the drain that follows */
	for (fl->n = 0; fl->n < FLOOD_SUBS; fl->n++) {
		double due = t0 + (double)fl->n * FLOOD_SECONDS / FLOOD_SUBS;
		snprintf(ref, sizeof(ref), "A-F%d", fl->n);
		for (int j = 0; j < BATCH; j++)
			op_add(&ops[j], &fl->f, ref, TOK_FLOOD + (uint32_t)(fl->n * BATCH + j));
		if (fed_submit(&fl->f, fl->a, ops, BATCH, NULL))
			abort();
		while (now_s() < due)
			usleep(5000);
	}
	if (fed_flush(&fl->f))
		abort();
	fl->seconds = now_s() - t0;
	free(ops);
	fl->done = 1;
	return NULL;
}

/* ---------------------------------------------------------- final check */

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static int cmp16(const void *x, const void *y)
{
	return memcmp(x, y, 16);
}

static char *key_of(const char *agency, int kind, const char *case_ref, const char *cp_agency,
		    const char *cp_case, const uint8_t token[16])
{
	char hex[33], *k;

	assert_true(asprintf(&k, "%s %d %s | %s %s | %s", agency, kind, case_ref, cp_agency,
			     cp_case, deconf_hex_encode(hex, token, 16)) > 0);
	return k;
}

/*
 * Every notice of every agency, read again from the beginning and verified
 * with the broker's key, is exactly w->want: no notice missing, none
 * extra, no duplicate id.
 */
static void check_notices(struct world *w)
{
	struct fed_notice *v = NULL;
	size_t n = 0, bad = 0, distinct, missing = 0, extra = 0, i = 0, j = 0;
	char **have, **want;
	uint8_t(*ids)[16];

	assert_int_equal(fed_read_notices(&w->f, NULL, &v, &n, &bad, 120000), 0);
	CHECK(bad == 0, "%zu notices do not verify with the broker's key", bad);
	assert_non_null(have = calloc(n + 1, sizeof(*have)));
	assert_non_null(want = calloc(w->n_want + 1, sizeof(*want)));
	assert_non_null(ids = calloc(n + 1, 16));
	for (i = 0; i < n; i++) {
		have[i] = key_of(v[i].agency, v[i].kind, v[i].case_ref, v[i].cp_agency,
				 v[i].cp_case, v[i].token);
		memcpy(ids[i], v[i].id, 16);
	}
	for (i = 0; i < w->n_want; i++) {
		uint8_t tok[16];
		fed_token(&w->f, w->want[i].tok, tok);
		want[i] = key_of(w->f.ag[w->want[i].ag].id, CONFLICT, w->want[i].case_ref,
				 w->f.ag[w->want[i].cp_ag].id, w->want[i].cp_case, tok);
	}
	qsort(have, n, sizeof(*have), cmp_str);
	qsort(want, w->n_want, sizeof(*want), cmp_str);
	qsort(ids, n, 16, cmp16);
	distinct = n ? 1 : 0;
	for (i = 1; i < n; i++)
		distinct += memcmp(ids[i - 1], ids[i], 16) != 0;
	for (i = j = 0; i < n || j < w->n_want;) {
		int c = i == n ? 1 : j == w->n_want ? -1 : strcmp(have[i], want[j]);
		if (c == 0) {
			i++, j++;
		} else if (c < 0) {
			if (extra++ < 10)
				print_message("  extra notice:   %s\n", have[i]);
			i++;
		} else {
			if (missing++ < 10)
				print_message("  missing notice: %s\n", want[j]);
			j++;
		}
	}
	print_message("  notices: %zu read, %zu distinct ids, %zu expected: %zu missing, %zu "
		      "extra\n",
		      n, distinct, w->n_want, missing, extra);
	CHECK(missing == 0 && extra == 0, "the notices are not the expected set: %zu missing, "
					  "%zu extra",
	      missing, extra);
	CHECK(distinct == n, "%zu notices share an id with another", n - distinct);
	for (i = 0; i < n; i++)
		free(have[i]);
	for (i = 0; i < w->n_want; i++)
		free(want[i]);
	free(have);
	free(want);
	free(ids);
	free(v);
}

/*
 * D adds again every token B and C ever added, each under a case of its
 * own named after the first B or C case holding it: D must get one
 * conflict per (D case, B/C entry), and that entry's owner one about D.
 * An entry of B or C that A's attacks deleted would be missing here.
 */
static uint64_t agency_d_adds_everything(struct world *w)
{
	struct fed_op *ops = calloc(BATCH, sizeof(*ops));
	uint8_t *seen = calloc(TOK_MAX, 1);
	char (*dcase)[24] = calloc(TOK_MAX, sizeof(*dcase));
	size_t n = 0;
	uint64_t entries = 0;

	assert_non_null(ops);
	assert_non_null(seen);
	assert_non_null(dcase);
	for (size_t i = 0; i < w->n_held; i++) {
		const struct held *h = &w->held[i];
		assert_true(h->tok < TOK_MAX);
		if (!seen[h->tok]) {
			seen[h->tok] = 1;
			snprintf(dcase[h->tok], sizeof(dcase[0]), "D-%s", h->case_ref);
			op_add(&ops[n++], &w->f, dcase[h->tok], h->tok);
			entries++;
			if (n == BATCH) {
				assert_int_equal(fed_submit(&w->f, w->d, ops, n, NULL), 0);
				n = 0;
			}
		}
		expect(w, w->d, dcase[h->tok], h->ag, h->case_ref, h->tok);
		expect(w, h->ag, h->case_ref, w->d, dcase[h->tok], h->tok);
	}
	if (n)
		assert_int_equal(fed_submit(&w->f, w->d, ops, n, NULL), 0);
	assert_int_equal(fed_flush(&w->f), 0);
	/* the case refs in w->want were copied: dcase may go */
	free(ops);
	free(seen);
	free(dcase);
	return entries;
}

/* Wait until the watcher saw `want` notices (or max_s), then until the
 * broker has committed past every submission and token op: any extra
 * notice is committed by then, and check_notices reads them all again. */
static void wait_notice_count(struct world *w, size_t want, int max_s)
{
	double t0 = now_s();

	while (w->notices.n < want && now_s() - t0 < max_s)
		fed_watch_poll(&w->notices, 200);
	CHECK(fed_wait_processed(&w->f, max_s * 1000) == 0,
	      "the broker did not commit past every submission in %d s", max_s);
	while (fed_watch_poll(&w->notices, 200) > 0)
		;
	print_message("  %zu notices after %.1f s (%zu expected)\n", w->notices.n, now_s() - t0,
		      want);
}

/* ------------------------------------------------------------ the test */

static void world_new(struct world *w)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(fed_new(&w->f, bootstrap, PARTITIONS), 0);
	w->a = agency(&w->f, "hostile-a", "Agency A");
	w->b = agency(&w->f, "honest-b", "Agency B");
	w->c = agency(&w->f, "honest-c", "Agency C");
	w->d = agency(&w->f, "auditor-d", "Agency D");
	/* the reserved ids' topics exist from the start: ingest reads them */
	assert_int_equal(fed_agency_topics(&w->f, "deconf-broker"), 0);
	assert_int_equal(fed_agency_topics(&w->f, "admin"), 0);
	assert_int_equal(fed_watch_open(&w->notices, &w->f, T_NOTICES, NULL), 0);
	assert_int_equal(fed_watch_open(&w->rejects, &w->f, T_REJECTS, NULL), 0);
	w->http_port = fed_free_port();
}

static void world_free(struct world *w)
{
	fed_watch_close(&w->notices);
	fed_watch_close(&w->rejects);
	free(w->held);
	free(w->want);
	fed_free(&w->f);
}

static void print_table(const struct world *w, const char *title)
{
	print_message("\n%s\n  %-34s %-22s %s\n", title, "attack", "A's answer",
		      "B/C conflict latency");
	for (int i = 0; i < w->n_rows; i++) {
		if (w->rows[i].latency < 0)
			print_message("  %-34s %-22s never\n", w->rows[i].attack, w->rows[i].answer);
		else
			print_message("  %-34s %-22s %.3f s\n", w->rows[i].attack,
				      w->rows[i].answer, w->rows[i].latency);
	}
	print_message("\n");
}

static void test_hostile(void **state)
{
	static struct world w; /* large: not on the stack */
	static struct flood fl;
	char series[256], conf2[256], conf3[1024];
	uint8_t id[16], id2[16];
	int64_t off, off2, flood0;
	const char *ans;
	double dt, a0;
	char *big;
	struct fed_op o;
	int found;

	(void)state;
	failures = 0;
	world_new(&w);
	broker_start(&w, "[ingest]\nmax_record_bytes = 2M\n");
	wait_ready(&w, 60);
	row(&w, "baseline", "-", round_bc(&w, "baseline (just started)", 30));

	/* 1. poison pill: a point of contact of 1,000,000 bytes */
	a0 = aborts(&w);
	assert_non_null(big = malloc(1000001));
	memset(big, 'x', 1000000);
	big[1000000] = '\0';
	op_add(&o, &w.f, "A-1", TOK_A + 1);
	o.poc_name = big;
	off = submit(&w, w.a, &o, 1, id);
	assert_int_equal(fed_flush(&w.f), 0);
	free(big);
	dt = round_bc(&w, "1 poison pill (1 MB contact)", MAX_LATENCY_S);
	ans = expect_reject(&w, "1 poison pill", off, id, R(BAD_TEXT), "poc.name");
	row(&w, "1 poison pill (1 MB contact)", ans, dt);
	/* ingest committed past it (and everything else): not retrying it */
	CHECK(fed_wait_processed(&w.f, 30000) == 0,
	      "1: the broker did not commit past the poison pill in 30 s");
	CHECK(readyz(w.http_port) == 200, "1: /readyz is not 200 after the poison pill");
	CHECK(aborts(&w) - a0 <= 1, "1: ingest aborted %.0f transactions over the poison pill",
	      aborts(&w) - a0);

	/* 2. a notice that would be too large: 300 KB of contact on a token
	 * B holds */
	submit_add(&w, w.b, "B-S2", TOK_SHARED, NULL);
	hold(&w, w.b, "B-S2", TOK_SHARED);
	assert_int_equal(fed_flush(&w.f), 0);
	assert_non_null(big = malloc(300 * 1024 + 1));
	memset(big, 'y', 300 * 1024);
	big[300 * 1024] = '\0';
	op_add(&o, &w.f, "A-2", TOK_SHARED);
	o.poc_unit = big;
	off = submit(&w, w.a, &o, 1, id);
	assert_int_equal(fed_flush(&w.f), 0);
	free(big);
	dt = round_bc(&w, "2 oversized notice (300 KB)", MAX_LATENCY_S);
	ans = expect_reject(&w, "2 oversized notice", off, id, R(BAD_TEXT), "poc.unit");
	row(&w, "2 oversized notice (300 KB)", ans, dt);
	fed_watch_poll(&w.notices, 200);
	for (size_t i = 0; i < w.notices.n; i++)
		CHECK(strcmp(w.notices.notices[i].case_ref, "B-S2"),
		      "2: B was told of %s's %s on the token A attacked",
		      w.notices.notices[i].cp_agency, w.notices.notices[i].cp_case);

	/* 3. epoch wipe: a token under key epoch 4294967295 */
	op_add(&o, &w.f, "A-3", TOK_A + 3);
	o.key_epoch = 4294967295u;
	off = submit(&w, w.a, &o, 1, id);
	assert_int_equal(fed_flush(&w.f), 0);
	dt = round_bc(&w, "3 epoch 4294967295", MAX_LATENCY_S);
	ans = expect_reject(&w, "3 epoch wipe", off, id, R(UNKNOWN_EPOCH), "epoch");
	row(&w, "3 epoch 4294967295", ans, dt);
	/* had the epoch moved, an expiry scan would retire B's and C's
	 * entries: restart with a scan every 300 ms and look */
	broker_stop(&w);
	snprintf(conf2, sizeof(conf2),
		 "[ingest]\nmax_record_bytes = 2M\n[matcher]\nexpiry_scan = 300ms\n");
	broker_start(&w, conf2);
	wait_ready(&w, 60);
	{
		/* every expiry pass is a matcher transaction (nothing else is
		 * submitted now): wait for 20, over 5.7 s at 300 ms apart, so
		 * the state gauge (refreshed every 5 s) was refreshed after the
		 * first pass */
		const char *commits = "deconf_txn_commits_total{part=\"matcher\"}";
		double c0 = metric(w.http_port, commits, NULL), t0 = now_s();

		while (metric(w.http_port, commits, NULL) < c0 + 20 && now_s() - t0 < 30)
			usleep(100000);
		CHECK(metric(w.http_port, commits, NULL) >= c0 + 20,
		      "3: the matcher committed %.0f transactions in 30 s with a 300 ms expiry "
		      "scan",
		      metric(w.http_port, commits, NULL) - c0);
	}
	check_entries(&w, "3 after restart + scans", 0);
	row(&w, "3 (restarted, 300 ms scans)", "-",
	    round_bc(&w, "3 after restart + scans", MAX_LATENCY_S));

	/* 4. ~25,000 entries held, then 48,000 token-less CLOSE_CASE ops in
	 * one submission, with B's and C's case refs among them */
	prefill(&w, w.b, "B-P", PREFILL_CASES, TOK_PREFILL_B, 1);
	prefill(&w, w.c, "C-P", PREFILL_CASES, TOK_PREFILL_C, 1);
	prefill(&w, w.a, "A-P", PREFILL_CASES / 2, TOK_PREFILL_A, 0);
	w.a_entries = (uint64_t)PREFILL_CASES / 2 * PER_CASE;
	check_entries(&w, "4 prefilled", 0);
	{
		struct fed_op *ops = calloc(CLOSE_OPS, sizeof(*ops));
		char (*refs)[16] = calloc(CLOSE_OPS, sizeof(*refs));
		double sub0 = metric(w.http_port,
				     "deconf_submissions_total{agency=\"hostile-a\",result="
				     "\"accepted\"}",
				     NULL);
		size_t n = 0;

		assert_non_null(ops);
		assert_non_null(refs);
		/* A's own cases (closed for real), every case ref B and C use,
		 * and cases nobody has */
		for (int k = 0; k < PREFILL_CASES / 2; k++)
			snprintf(refs[n++], sizeof(refs[0]), "A-P%d", k);
		for (size_t i = 0; i < w.n_held && n < CLOSE_OPS; i++)
			if (!i || strcmp(w.held[i].case_ref, w.held[i - 1].case_ref))
				snprintf(refs[n++], sizeof(refs[0]), "%s", w.held[i].case_ref);
		for (int k = 0; n < CLOSE_OPS; k++)
			snprintf(refs[n++], sizeof(refs[0]), "X%d", k);
		for (size_t i = 0; i < n; i++) {
			ops[i].op = CLOSE;
			ops[i].case_ref = refs[i];
			ops[i].no_token = 1;
		}
		off = submit(&w, w.a, ops, n, id);
		assert_int_equal(fed_flush(&w.f), 0);
		dt = round_bc(&w, "4 48,000 CLOSE_CASE", MAX_LATENCY_S);
		debug_metrics(w.http_port, "deconf_batch_seconds");
		w.a_entries = 0;
		check_entries(&w, "4 after the closes", 0);
		CHECK(metric(w.http_port,
			     "deconf_submissions_total{agency=\"hostile-a\",result=\"accepted\"}",
			     NULL) == sub0 + 1,
		      "4: A's close flood was not accepted");
		snprintf(series, sizeof(series),
			 "deconf_ops_total{agency=\"hostile-a\",op=\"close_case\"}");
		CHECK(metric(w.http_port, series, NULL) == (double)CLOSE_OPS * PARTITIONS,
		      "4: %.0f close ops applied, not %d", metric(w.http_port, series, NULL),
		      CLOSE_OPS * PARTITIONS);
		fed_watch_poll(&w.rejects, 500);
		CHECK(!find_reject(&w, off), "4: A's close flood was refused: %s",
		      find_reject(&w, off) ? find_reject(&w, off)->detail : "");
		row(&w, "4 48,000 CLOSE_CASE, 1 submission", find_reject(&w, off) ? "refused"
										 : "accepted",
		    dt);
		free(ops);
		free(refs);
	}

	/* 6. terminal text in a point of contact */
	op_add(&o, &w.f, "A-6", TOK_A + 6);
	o.poc_name = "\x1b]0;owned\x07\x1b[2J";
	off = submit(&w, w.a, &o, 1, id);
	op_add(&o, &w.f, "A-6b", TOK_A + 7);
	o.poc_email = "\xff\xfe";
	off2 = submit(&w, w.a, &o, 1, id2);
	assert_int_equal(fed_flush(&w.f), 0);
	dt = round_bc(&w, "6 terminal text", MAX_LATENCY_S);
	ans = expect_reject(&w, "6 escape sequence", off, id, R(BAD_TEXT), "poc.name");
	row(&w, "6 ESC ]0;owned BEL ESC [2J", ans, dt);
	ans = expect_reject(&w, "6 invalid UTF-8", off2, id2, R(BAD_TEXT), "poc.email");
	row(&w, "6 \\xff\\xfe", ans, dt);

	/* 7. reserved identities in the directory, signed by the federation
	 * key (as deconfctl would without its check), and a submission on
	 * submit.deconf-broker naming a token B holds */
	{
		int rb = fed_agency(&w.f, "deconf-broker", "Broker", K(AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL),
				    "US", ACTIVE);
		int ra = fed_agency(&w.f, "admin", "Admin", K(AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL), "US",
				    ACTIVE);
		char topic[96];
		double t0;

		assert_true(rb >= 0 && ra >= 0);
		submit_add(&w, rb, "RB-7", TOK_SHARED, NULL);
		submit_add(&w, ra, "RA-7", TOK_SHARED, NULL);
		assert_int_equal(fed_flush(&w.f), 0);
		dt = round_bc(&w, "7 reserved ids", MAX_LATENCY_S);
		/* refused as unknown: counted, and no rejects topic to answer on */
		t0 = now_s();
		while (now_s() - t0 < 30 &&
		       (metric(w.http_port,
			       "deconf_rejects_total{agency=\"deconf-broker\",reason=\"unknown_agency\"}",
			       NULL) < 1 ||
			metric(w.http_port,
			       "deconf_rejects_total{agency=\"admin\",reason=\"unknown_agency\"}",
			       NULL) < 1))
			usleep(300000);
		CHECK(metric(w.http_port,
			     "deconf_rejects_total{agency=\"deconf-broker\",reason=\"unknown_agency\"}",
			     NULL) == 1,
		      "7: the submission on submit.deconf-broker was not refused as unknown");
		CHECK(metric(w.http_port,
			     "deconf_rejects_total{agency=\"admin\",reason=\"unknown_agency\"}",
			     NULL) == 1,
		      "7: the submission on submit.admin was not refused as unknown");
		metric(w.http_port, "deconf_ops_total{agency=\"deconf-broker\",op=\"add\"}", &found);
		CHECK(!found, "7: the matcher applied an op of deconf-broker");
		metric(w.http_port, "deconf_ops_total{agency=\"admin\",op=\"add\"}", &found);
		CHECK(!found, "7: the matcher applied an op of admin");
		CHECK(fed_count_records(&w.f, fed_topic(&w.f, "rejects.deconf-broker", topic,
							 sizeof(topic)),
					2000) == 0,
		      "7: a Reject was written for deconf-broker");
		CHECK(log_count(w.log, "agency id deconf-broker is reserved") >= 1,
		      "7: the broker's log does not say the deconf-broker entry was refused");
		CHECK(log_count(w.log, "agency id admin is reserved") >= 1,
		      "7: the broker's log does not say the admin entry was refused");
		row(&w, "7 deconf-broker / admin ids", "unknown_agency (none)", dt);
	}

	/* 5. flood: a broker with a low per-agency quota; A sends far over
	 * it while B and C go on */
	broker_stop(&w);
	snprintf(conf3, sizeof(conf3),
		 "%s[ingest]\nagency_ops_per_s = %d\nagency_burst = 1s\n", conf2,
		 FLOOD_OPS_PER_S);
	broker_start(&w, conf3);
	wait_ready(&w, 60);
	check_entries(&w, "5 restarted", 0);
	{
		pthread_t th;
		double worst = 0, t0 = now_s(), applied = 0;
		int n_rounds = 0;
		const char *sub = "deconf_submissions_total{agency=\"hostile-a\",result=\"accepted\"}";
		const char *adds = "deconf_ops_total{agency=\"hostile-a\",op=\"add\"}";

		flood0 = w.a_offset;
		fl.f = w.f; /* agencies and keys shared, read-only; its own producer */
		fl.a = w.a;
		assert_non_null(fl.f.producer = fed_client(&w.f, RD_KAFKA_PRODUCER, "linger.ms", "2"));
		assert_int_equal(pthread_create(&th, NULL, flood_main, &fl), 0);
		/* B and C, during the flood and while A's backlog drains */
		while (now_s() - t0 < 90) {
			char label[64];
			snprintf(label, sizeof(label), "5 flood, round %d (%.0f s)", ++n_rounds,
				 now_s() - t0);
			dt = round_bc(&w, label, MAX_LATENCY_S);
			if (worst >= 0 && (dt < 0 || dt > worst))
				worst = dt; /* -1 (never) sticks */
			applied = metric(w.http_port, adds, NULL);
			if (fl.done && applied >= (double)FLOOD_SUBS * BATCH)
				break;
			usleep(500000);
		}
		pthread_join(th, NULL);
		rd_kafka_destroy(fl.f.producer);
		w.a_offset += fl.n;
		print_message("  5: A sent %d submissions of %d ADDs in %.1f s; %.0f applied after "
			      "%.1f s, %d rounds of B and C meanwhile\n",
			      fl.n, BATCH, fl.seconds, applied, now_s() - t0, n_rounds);
		CHECK(applied == (double)FLOOD_SUBS * BATCH, "5: %.0f of A's %d ADDs applied",
		      applied, FLOOD_SUBS * BATCH);
		CHECK(metric(w.http_port, sub, NULL) == FLOOD_SUBS,
		      "5: %.0f of A's %d submissions accepted", metric(w.http_port, sub, NULL),
		      FLOOD_SUBS);
		snprintf(series, sizeof(series), "deconf_ingest_throttled_total{agency=\"%s\"}",
			 w.f.ag[w.a].id);
		CHECK(metric(w.http_port, series, &found) > 0,
		      "5: %s is %s: A was never throttled (or the series is missing)", series,
		      found ? "0" : "absent");
		CHECK(log_count(w.log, "hostile-a is over its quota") > 0,
		      "5: the broker's log never says A was paused for its quota");
		fed_watch_poll(&w.rejects, 500);
		for (int k = 0; k < fl.n; k++)
			CHECK(!find_reject(&w, flood0 + k), "5: A's flood submission %d was refused: %s",
			      k, find_reject(&w, flood0 + k)->detail);
		w.a_entries = (uint64_t)FLOOD_SUBS * BATCH;
		row(&w, "5 flood (worst of the rounds)", "accepted, throttled", worst);
		check_entries(&w, "5 after the flood", 0);
	}

	/* the end: D adds every token B and C ever added */
	{
		uint64_t d_entries = agency_d_adds_everything(&w);
		wait_notice_count(&w, w.n_want, 120);
		check_entries(&w, "end (with D's entries)", d_entries);
	}
	for (size_t i = 0; i < w.rejects.n; i++)
		CHECK(!strcmp(w.rejects.rejects[i].agency, w.f.ag[w.a].id),
		      "agency %s got a Reject: %s", w.rejects.rejects[i].agency,
		      w.rejects.rejects[i].detail);
	CHECK(w.notices.bad == 0 && w.rejects.bad == 0, "records that do not verify: %zu notices, "
							 "%zu rejects",
	      w.notices.bad, w.rejects.bad);
	check_notices(&w);
	CHECK(readyz(w.http_port) == 200, "/readyz is not 200 at the end");
	print_table(&w, "one hostile agency (A) against B and C:");
	broker_stop(&w);
	check_log(w.log);
	world_free(&w);
	assert_int_equal(failures, 0);
}

/* ----------------------------------------------------- unwritable records */

/*
 * A's three submissions in one flush (so ingest reads them in one batch):
 * an ADD whose four point-of-contact fields are 256 bytes each (valid, but
 * its token op is larger than what can be written) between two small ones.
 * The large one is refused UNPROCESSABLE; the small ones apply.
 */
static void unwritable_round(struct world *w, const char *attack, int *tok)
{
	char name[257], phone[257], email[257], unit[257], g1[16], g2[16], big[129];
	uint8_t id_big[16], id1[16], id2[16];
	const char *adds = "deconf_ops_total{agency=\"hostile-a\",op=\"add\"}";
	double a0 = aborts(w), add0 = metric(w->http_port, adds, NULL), dt, t0;
	const char *ans;
	struct fed_op o;

	memset(name, 'n', 256);
	memset(phone, '5', 256);
	memset(email, 'e', 256);
	memset(unit, 'u', 256);
	name[256] = phone[256] = email[256] = unit[256] = '\0';
	snprintf(g1, sizeof(g1), "A-G%d", *tok);
	/* the largest case ref too: a token op of ~1,260 bytes */
	memset(big, 'c', 128);
	big[128] = '\0';
	memcpy(big, "A-BIG", 5);
	big[5] = (char)('0' + *tok % 10);
	snprintf(g2, sizeof(g2), "A-G%d", *tok + 1);
	int64_t off1 = submit_add(w, w->a, g1, TOK_A + (uint32_t)(*tok)++, id1), off_big, off2;
	op_add(&o, &w->f, big, TOK_A + (uint32_t)(*tok)++);
	o.poc_name = name;
	o.poc_phone = phone;
	o.poc_email = email;
	o.poc_unit = unit;
	off_big = submit(w, w->a, &o, 1, id_big);
	off2 = submit_add(w, w->a, g2, TOK_A + (uint32_t)(*tok)++, id2);
	assert_int_equal(fed_flush(&w->f), 0);
	dt = round_bc(w, attack, UNWRITABLE_LATENCY_S);
	ans = expect_reject(w, attack, off_big, id_big, R(UNPROCESSABLE), NULL);
	row(w, attack, ans, dt);
	/* the small ones went through, and are not refused */
	t0 = now_s();
	while (metric(w->http_port, adds, NULL) < add0 + 2 && now_s() - t0 < 30)
		usleep(300000);
	CHECK(metric(w->http_port, adds, NULL) == add0 + 2,
	      "%s: %.0f of A's 2 writable ADDs applied", attack,
	      metric(w->http_port, adds, NULL) - add0);
	fed_watch_poll(&w->rejects, 300);
	CHECK(!find_reject(w, off1) && !find_reject(w, off2),
	      "%s: A's writable submission was refused too", attack);
	w->a_entries += 2;
	CHECK(aborts(w) - a0 <= 5, "%s: ingest aborted %.0f transactions (a handful at most)",
	      attack, aborts(w) - a0);
	print_message("  %-32s ingest aborts: %.0f\n", attack, aborts(w) - a0);
	t0 = now_s();
	while (readyz(w->http_port) != 200 && now_s() - t0 < 10)
		usleep(200000);
	CHECK(readyz(w->http_port) == 200, "%s: /readyz is not 200 10 s after A's record was "
					   "refused",
	      attack);
}

static void test_unwritable(void **state)
{
	static struct world w;
	char topic[96];
	int tok = 100;

	(void)state;
	failures = 0;
	world_new(&w);

	/* librdkafka's message.max.bytes at its minimum, 1000: below the
	 * large token op (~1,260 bytes; librdkafka adds the 16-byte key and a
	 * framing allowance before it compares) and above everything else the
	 * broker writes here (B's and C's token ops, notices, state, audit,
	 * Rejects: a few hundred bytes each). The consumers' fetch.max.bytes
	 * is raised to it by librdkafka itself. */
	broker_start(&w, "[kafka]\nmessage.max.bytes = 1000\n");
	wait_ready(&w, 60);
	row(&w, "baseline", "-", round_bc(&w, "baseline (just started)", 30));
	unwritable_round(&w, "8 message.max.bytes 1000", &tok);
	check_entries(&w, "8 client-side limit", 0);

	/* The Kafka broker refuses it instead: deconf.tokens takes record
	 * batches of at most 1250 bytes (four of B's, C's or A's small token
	 * ops, ~215 bytes each, fit in one). The produce succeeds, the
	 * delivery report fails for the whole batch, the transaction aborts;
	 * ingest re-reads the batch one record per transaction to find the
	 * one. The batch stays open 300 ms (a legal setting, and what a busy
	 * broker has anyway), so the delivery report's failure is in before
	 * the batch is committed: the commit is refused before it flushes, and
	 * the cause must still be recognised as lasting. (With the default
	 * 20 ms the same race is lost only now and then.) */
	broker_stop(&w);
	assert_int_equal(fed_topic_config(&w.f, fed_topic(&w.f, "tokens", topic, sizeof(topic)),
					  "max.message.bytes", "1250"),
			 0);
	broker_start(&w, "[ingest]\nbatch_wait = 300ms\nbatch_time = 1s\n");
	wait_ready(&w, 60);
	row(&w, "baseline (restarted)", "-", round_bc(&w, "baseline (restarted)", 30));
	unwritable_round(&w, "8 tokens max.message.bytes 1250", &tok);
	check_entries(&w, "8 topic limit", 0);

	fed_watch_poll(&w.notices, 500);
	CHECK(w.notices.bad == 0 && w.rejects.bad == 0, "records that do not verify");
	check_notices(&w);
	print_table(&w, "unwritable records (A) against B and C:");
	broker_stop(&w);
	check_log(w.log);
	world_free(&w);
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_unwritable),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP"))) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set (tests/run.sh starts Kafka): skipped\n");
		return 77;
	}
	atexit(kill_running);
	if (getenv("T_FILTER")) /* e.g. T_FILTER=test_unwritable */
		cmocka_set_test_filter(getenv("T_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
