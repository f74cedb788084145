/*
 * test_matcher.c — deconf-broker's matcher (with its ingest) against the
 * real Kafka: the matching semantics end to end, state rebuilt from the
 * changelog, and exactly-once notices through SIGKILLs and a second
 * instance taking over.
 *
 * A throwaway federation (fed.h) with four agencies: a federal agency, a
 * state task force, a tribal police department and an agency that shares
 * nothing. Submissions are built and signed here; notices are read from
 * each agency's notices topic and verified with the broker's key.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/util.h"
#include "fed.h"

#define K(x) DECONF__V1__##x
#define ADD K(OP__OP_ADD)
#define KIND(x) K(NOTICE_KIND__NOTICE_KIND_##x)
#define PHONE K(INDICATOR_TYPE__INDICATOR_TYPE_PHONE)
#define EMAIL K(INDICATOR_TYPE__INDICATOR_TYPE_EMAIL)
#define IP K(INDICATOR_TYPE__INDICATOR_TYPE_IP)
#define MD5 K(INDICATOR_TYPE__INDICATOR_TYPE_MD5)

static const char *bootstrap;
/* Brokers started and not yet stopped: killed at exit, so a failed test
 * leaves none behind (one holding the test's output open keeps ctest
 * waiting for it). */
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

/* The federation every scenario of test_semantics shares. */
struct world {
	struct fed f;
	int fbi, tf, tribal, other;
	char conf[256], log[256];
	int http_port;
	pid_t broker;
	struct fed_notice *v[4];
	size_t n[4];
	/* token ops sent; ops_base: those sent before the running broker
	 * started (its /metrics count from zero) */
	size_t ops, ops_base;
};

static void op(struct fed_op *o, int kind, const char *case_ref, int type, uint32_t tok)
{
	memset(o, 0, sizeof(*o));
	o->op = kind;
	o->case_ref = case_ref;
	o->type = type;
	o->poc_name = "Det. Example";
	tok = tok ? tok : 1;
	o->token[0] = 0; /* filled by submit1 */
	memcpy(o->token + 12, &tok, 4);
}

/* Submit one op of agency a with token number tok. */
static void submit1(struct world *w, int a, int kind, const char *case_ref, int type,
		    uint32_t tok, int vis, int64_t vf, int64_t vt, int64_t expires_at)
{
	struct fed_op o;

	op(&o, kind, case_ref, type, tok);
	fed_token(&w->f, tok, o.token);
	o.visibility = vis;
	o.valid_from = vf;
	o.valid_to = vt;
	o.expires_at = expires_at;
	assert_int_equal(fed_submit(&w->f, a, &o, 1, NULL), 0);
	w->ops++;
}

/* Read every agency's notices again. */
static void read_all(struct world *w, int max_ms)
{
	struct fed_notice *all = NULL;
	size_t n = 0, bad = 0;

	assert_int_equal(fed_read_notices(&w->f, NULL, &all, &n, &bad, max_ms), 0);
	assert_int_equal(bad, 0);
	for (int i = 0; i < 4; i++) {
		free(w->v[i]);
		assert_non_null(w->v[i] = calloc(n + 1, sizeof(*all)));
		w->n[i] = 0;
		for (size_t j = 0; j < n; j++)
			if (!strcmp(all[j].agency, w->f.ag[i].id))
				w->v[i][w->n[i]++] = all[j];
	}
	free(all);
}

static size_t total(const struct world *w)
{
	return w->n[0] + w->n[1] + w->n[2] + w->n[3];
}

/*
 * Every token op sent since the running broker started is applied and
 * committed: /metrics' deconf_ops_total (added when a batch's transaction
 * has committed, with the notices and changelog records of its ops) adds
 * up to them. More than were sent fails too: an op applied twice.
 */
static void wait_ops(struct world *w)
{
	size_t want = w->ops - w->ops_base;
	int64_t t0 = deconf_mono_us();
	double got = -1;

	while (deconf_mono_us() - t0 < 60000000) {
		char *body = NULL;
		if (fed_http_get(w->http_port, "/metrics", &body) == 200)
			got = fed_metric_sum(body, "deconf_ops_total", NULL);
		free(body);
		if (got >= (double)want)
			break;
		usleep(100000);
	}
	if (got != (double)want)
		fail_msg("the broker applied %.0f token ops (deconf_ops_total), not the %zu sent "
			 "since it started (waited %.1f s)",
			 got, want, (deconf_mono_us() - t0) / 1e6);
}

/*
 * Wait until every op sent was applied (wait_ops: whatever notices they
 * caused are committed by then) and `want` notices in all arrived (some
 * come from the expiry scan, not from an op), then check that there are
 * exactly `want`: an extra notice of those ops would be committed already.
 */
static void wait_notices(struct world *w, size_t want)
{
	int64_t t0 = deconf_mono_us();

	wait_ops(w);
	while (deconf_mono_us() - t0 < 60000000) {
		read_all(w, 5000);
		if (total(w) >= want)
			break;
		usleep(200000);
	}
	if (getenv("T_DEBUG"))
		print_message("%zu notices after %.1f s\n", want, (deconf_mono_us() - t0) / 1e6);
	if (total(w) != want) {
		for (int a = 0; a < 4; a++)
			for (size_t i = 0; i < w->n[a]; i++)
				print_message("  %s %s: kind %d about %s %s\n", w->v[a][i].agency,
					      w->v[a][i].case_ref, w->v[a][i].kind,
					      w->v[a][i].cp_agency, w->v[a][i].cp_case);
	}
	if (total(w) != want)
		fail_msg("%zu notices, %zu expected (every op sent was applied)", total(w), want);
}

/* The notice agency a got for its case about cp_agency's cp_case. */
static const struct fed_notice *find(const struct world *w, int a, int kind,
				     const char *case_ref, const char *cp_agency,
				     const char *cp_case)
{
	for (size_t i = 0; i < w->n[a]; i++) {
		const struct fed_notice *x = &w->v[a][i];
		if (x->kind == kind && !strcmp(x->case_ref, case_ref) &&
		    (!cp_agency || !strcmp(x->cp_agency, cp_agency)) &&
		    (!cp_case || !strcmp(x->cp_case, cp_case)))
			return x;
	}
	return NULL;
}

static void world_start(struct world *w, const char *extra)
{
	char text[1024];

	w->http_port = fed_free_port();
	snprintf(text, sizeof(text),
		 "[matcher]\nip_slack = 1h\nhot_cases = 3\nexpiry_scan = 300ms\n"
		 "expiry_warning = 3s\n[http]\nport = %d\n%s",
		 w->http_port, extra ? extra : "");
	assert_int_equal(fed_broker_conf(&w->f, "a", text, w->conf, sizeof(w->conf)), 0);
	snprintf(w->log, sizeof(w->log), "%s/broker-a.log", w->f.dir);
	assert_true((w->broker = track(fed_broker_start(BROKER_BIN, w->conf, w->log))) > 0);
}

static void world_stop(struct world *w)
{
	untrack(w->broker);
	assert_int_equal(fed_broker_stop(w->broker), 0);
}

static int http_get(int port, const char *path, char *body, size_t size)
{
	char cmd[256];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "curl -s -o - -w '\\n%%{http_code}' http://127.0.0.1:%d%s", port,
		 path);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(body, 1, size - 1, p);
	body[n] = '\0';
	st = pclose(p);
	(void)st;
	{
		char *nl = strrchr(body, '\n');
		return nl ? atoi(nl + 1) : -1;
	}
}

static void check_log(const char *log)
{
	char cmd[512];
	int n;

	/* A truncated command would grep some other path, find nothing and
	 * pass: a path too long for cmd fails the test instead. */
	n = snprintf(cmd, sizeof(cmd), "grep -q 'Sanitizer\\|runtime error' '%s'", log);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		fail_msg("log path too long for the grep command: %s", log);
	if (system(cmd) == 0) {
		n = snprintf(cmd, sizeof(cmd), "cat '%s' >&2", log);
		if (n < 0 || (size_t)n >= sizeof(cmd))
			fail_msg("log path too long for the cat command: %s", log);
		assert_int_equal(system(cmd), 0);
		fail_msg("sanitizer report in %s", log);
	}
}

/*
 * The semantics, scenario after scenario, on one running broker; each
 * scenario's notices are counted on top of the earlier ones.
 */
static void test_semantics(void **state)
{
	struct world w = { 0 };
	int64_t now = deconf_now_ms(), H = 3600000;
	const struct fed_notice *x;
	size_t expect = 0;
	char body[65536], topic[96];
	int code;

	(void)state;
	assert_int_equal(fed_new(&w.f, bootstrap, 4), 0);
	assert_true((w.fbi = fed_agency(&w.f, "fbi-cac", "FBI Crimes Against Children",
					K(AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL), "US",
					K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE))) == 0);
	assert_true((w.tf = fed_agency(&w.f, "tx-icac", "Texas ICAC Task Force",
				       K(AGENCY_LEVEL__AGENCY_LEVEL_STATE), "US",
				       K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE))) == 1);
	assert_true((w.tribal = fed_agency(&w.f, "navajo-pd", "Navajo Nation Police",
					   K(AGENCY_LEVEL__AGENCY_LEVEL_TRIBAL), "US",
					   K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE))) == 2);
	assert_true((w.other = fed_agency(&w.f, "rcmp-ncecc", "RCMP NCECC",
					  K(AGENCY_LEVEL__AGENCY_LEVEL_INTERNATIONAL), "CA",
					  K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE))) == 3);
	world_start(&w, NULL);

	/* 1. three agencies: a phone shared by FBI and the task force, an
	 * e-mail shared by FBI and the tribal police; RCMP shares nothing */
	submit1(&w, w.fbi, ADD, "FBI-1", PHONE, 1, 0, 0, 0, 0);
	submit1(&w, w.fbi, ADD, "FBI-1", EMAIL, 2, 0, 0, 0, 0);
	submit1(&w, w.tf, ADD, "TF-7", PHONE, 1, 0, 0, 0, 0);
	submit1(&w, w.tf, ADD, "TF-7", MD5, 3, 0, 0, 0, 0);
	submit1(&w, w.tribal, ADD, "NN-3", EMAIL, 2, 0, 0, 0, 0);
	submit1(&w, w.other, ADD, "RC-1", MD5, 5, 0, 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 4);
	assert_non_null(x = find(&w, w.fbi, KIND(CONFLICT), "FBI-1", "tx-icac", "TF-7"));
	assert_string_equal(x->cp_name, "Texas ICAC Task Force");
	assert_int_equal(x->cp_level, K(AGENCY_LEVEL__AGENCY_LEVEL_STATE));
	assert_string_equal(x->cp_country, "US");
	assert_string_equal(x->cp_poc, "Det. Example");
	assert_non_null(x = find(&w, w.tf, KIND(CONFLICT), "TF-7", "fbi-cac", "FBI-1"));
	assert_string_equal(x->cp_name, "FBI Crimes Against Children");
	assert_non_null(find(&w, w.fbi, KIND(CONFLICT), "FBI-1", "navajo-pd", "NN-3"));
	assert_non_null(find(&w, w.tribal, KIND(CONFLICT), "NN-3", "fbi-cac", "FBI-1"));
	assert_int_equal(w.n[w.other], 0);

	/* 2. RESTRICTED: the owner hears who else holds it; the other side
	 * hears nothing */
	submit1(&w, w.fbi, ADD, "FBI-UC", EMAIL, 6, K(VISIBILITY__VISIBILITY_RESTRICTED), 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_ops(&w); /* FBI's entry is stored before the task force's add */
	submit1(&w, w.tf, ADD, "TF-9", EMAIL, 6, 0, 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 1);
	assert_non_null(find(&w, w.fbi, KIND(RESTRICTED_MATCH), "FBI-UC", "tx-icac", "TF-9"));
	assert_null(find(&w, w.tf, KIND(CONFLICT), "TF-9", NULL, NULL));

	/* 3. IP windows (slack 1 h): FBI [0,1h] and the task force [1.5h,2h]
	 * conflict; the tribal police [5h,6h] conflicts with neither */
	submit1(&w, w.fbi, ADD, "FBI-IP", IP, 7, 0, now, now + H, 0);
	submit1(&w, w.tf, ADD, "TF-IP", IP, 7, 0, now + 3 * H / 2, now + 2 * H, 0);
	submit1(&w, w.tribal, ADD, "NN-IP", IP, 7, 0, now + 5 * H, now + 6 * H, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 2);
	assert_non_null(find(&w, w.fbi, KIND(CONFLICT), "FBI-IP", "tx-icac", "TF-IP"));
	assert_null(find(&w, w.tribal, KIND(CONFLICT), "NN-IP", NULL, NULL));

	/* 4. REMOVE and CLOSE_CASE (with and without tokens) stop later
	 * matches */
	submit1(&w, w.fbi, ADD, "FBI-X", MD5, 8, 0, 0, 0, 0);
	submit1(&w, w.tribal, ADD, "NN-X", MD5, 9, 0, 0, 0, 0);
	submit1(&w, w.tribal, ADD, "NN-X", MD5, 10, 0, 0, 0, 0);
	submit1(&w, w.tf, ADD, "TF-X", MD5, 11, 0, 0, 0, 0);
	submit1(&w, w.fbi, K(OP__OP_REMOVE), "FBI-X", MD5, 8, 0, 0, 0, 0);
	{
		struct fed_op o;
		op(&o, K(OP__OP_CLOSE_CASE), "NN-X", MD5, 0);
		o.no_token = 1;
		assert_int_equal(fed_submit(&w.f, w.tribal, &o, 1, NULL), 0);
		w.ops += (size_t)w.f.n_partitions; /* a close without tokens: every partition */
	}
	submit1(&w, w.tf, K(OP__OP_CLOSE_CASE), "TF-X", MD5, 11, 0, 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_ops(&w); /* removed and closed before RCMP adds the same tokens */
	submit1(&w, w.other, ADD, "RC-X", MD5, 8, 0, 0, 0, 0);
	submit1(&w, w.other, ADD, "RC-X", MD5, 9, 0, 0, 0, 0);
	submit1(&w, w.other, ADD, "RC-X", MD5, 10, 0, 0, 0, 0);
	submit1(&w, w.other, ADD, "RC-X", MD5, 11, 0, 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 0);

	/* 5. QUERY answers the asker (and tells the holder), stores nothing */
	submit1(&w, w.other, K(OP__OP_QUERY), "RC-Q", PHONE, 1, 0, 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 4); /* 2 hits (FBI-1, TF-7) + 2 queried */
	assert_non_null(find(&w, w.other, KIND(QUERY_HIT), "RC-Q", "fbi-cac", "FBI-1"));
	assert_non_null(find(&w, w.other, KIND(QUERY_HIT), "RC-Q", "tx-icac", "TF-7"));
	assert_non_null(find(&w, w.fbi, KIND(QUERIED), "FBI-1", "rcmp-ncecc", "RC-Q"));
	submit1(&w, w.tribal, ADD, "NN-P", PHONE, 1, 0, 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 4); /* with FBI-1 and TF-7, not with RC-Q */
	assert_null(find(&w, w.tribal, KIND(CONFLICT), "NN-P", "rcmp-ncecc", NULL));

	/* 6. RENEW (and re-adding the same entry) does not re-notify; the
	 * renewal happened: the changelog's record of FBI-1's entry now
	 * expires when the RENEW asked (the default TTL, 180 d, before) */
	{
		struct fed_state_entry before, after;
		uint8_t tok[16];

		fed_token(&w.f, 1, tok);
		assert_int_equal(fed_state_entry(&w.f, tok, 1, "fbi-cac", "FBI-1", &before, 10000),
				 0);
		assert_true(before.found && !before.deleted);
		assert_int_equal(before.expires_at, before.added_at + 180LL * 24 * H);
		submit1(&w, w.fbi, K(OP__OP_RENEW), "FBI-1", PHONE, 1, 0, 0, 0,
			now + 200LL * 24 * H);
		submit1(&w, w.tf, ADD, "TF-7", PHONE, 1, 0, 0, 0, 0);
		assert_int_equal(fed_flush(&w.f), 0);
		wait_notices(&w, expect += 0);
		assert_int_equal(fed_state_entry(&w.f, tok, 1, "fbi-cac", "FBI-1", &after, 10000),
				 0);
		assert_true(after.found && !after.deleted);
		if (after.expires_at != now + 200LL * 24 * H)
			fail_msg("RENEW: FBI-1's entry expires at %lld, not the %lld asked (before: "
				 "%lld)",
				 (long long)after.expires_at, (long long)(now + 200LL * 24 * H),
				 (long long)before.expires_at);
		assert_int_equal(after.added_at, before.added_at);
		assert_true(after.offset > before.offset);
	}

	/* 7. expiry: warned first (3 s ahead), then removed; later matches
	 * none */
	submit1(&w, w.tf, ADD, "TF-E", MD5, 12, 0, 0, 0, deconf_now_ms() + 5000);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 2);
	{
		const struct fed_notice *warn, *gone;
		assert_non_null(warn = find(&w, w.tf, KIND(EXPIRY_WARNING), "TF-E", NULL, NULL));
		assert_non_null(gone = find(&w, w.tf, KIND(EXPIRED), "TF-E", NULL, NULL));
		assert_true(warn->created_at < gone->created_at);
		assert_true(gone->created_at >= gone->expires_at);
	}
	submit1(&w, w.fbi, ADD, "FBI-E", MD5, 12, 0, 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 0);

	/* 8. a hot token (hot_cases 3): three cases conflict pairwise, the
	 * fourth makes it hot: ops hear once, the adder is told, no fan-out */
	submit1(&w, w.fbi, ADD, "FBI-H", MD5, 13, 0, 0, 0, 0);
	submit1(&w, w.tf, ADD, "TF-H", MD5, 13, 0, 0, 0, 0);
	submit1(&w, w.tribal, ADD, "NN-H", MD5, 13, 0, 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 6);
	submit1(&w, w.other, ADD, "RC-H", MD5, 13, 0, 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 1);
	assert_non_null(find(&w, w.other, KIND(HOT_TOKEN), "RC-H", NULL, NULL));
	{
		/* ops heard once, about this token (signed by the broker) */
		struct fed_ops_event *ev = NULL;
		size_t n_ev = 0, bad_ev = 0, hot = 0;
		uint8_t tok[16];

		fed_token(&w.f, 13, tok);
		assert_int_equal(fed_read_ops(&w.f, &ev, &n_ev, &bad_ev, 10000), 0);
		assert_int_equal(bad_ev, 0);
		for (size_t i = 0; i < n_ev; i++)
			if (ev[i].kind == K(OPS_KIND__OPS_KIND_HOT_TOKEN)) {
				hot++;
				assert_memory_equal(ev[i].token, tok, 16);
			}
		free(ev);
		assert_int_equal(hot, 1);
	}

	/* 9. garbage and a forged submission are refused; matching goes on */
	{
		char t2[96];
		snprintf(t2, sizeof(t2), "%ssubmit.tx-icac", w.f.prefix);
		assert_int_equal(rd_kafka_producev(w.f.producer, RD_KAFKA_V_TOPIC(t2),
						   RD_KAFKA_V_VALUE("\x01garbage", 8),
						   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						   RD_KAFKA_V_END),
				 0);
	}
	submit1(&w, w.fbi, ADD, "FBI-Z", PHONE, 14, 0, 0, 0, 0);
	submit1(&w, w.tf, ADD, "TF-Z", PHONE, 14, 0, 0, 0, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 2);
	{
		/* ingest committed past the garbage: its one Reject is there,
		 * signed by the broker, saying why and where */
		struct fed_reject *rj = NULL;
		size_t n_rj = 0, bad_rj = 0;
		static const uint8_t none[16];

		assert_int_equal(fed_wait_processed(&w.f, 60000), 0);
		assert_int_equal(fed_read_rejects(&w.f, "tx-icac", &rj, &n_rj, &bad_rj, 10000), 0);
		assert_int_equal(bad_rj, 0);
		assert_int_equal(n_rj, 1);
		assert_int_equal(rj[0].reason, K(REJECT_REASON__REJECT_REASON_MALFORMED));
		assert_string_equal(rj[0].agency, "tx-icac");
		assert_string_equal(rj[0].topic, fed_topic(&w.f, "submit.tx-icac", topic,
							   sizeof(topic)));
		assert_memory_equal(rj[0].submission_id, none, 16); /* not parsed */
		assert_true(rj[0].detail[0] != '\0');
		free(rj);
		rj = NULL;
		n_rj = bad_rj = 0;
		assert_int_equal(fed_read_rejects(&w.f, NULL, &rj, &n_rj, &bad_rj, 10000), 0);
		assert_int_equal(n_rj, 1); /* and nobody else got one */
		free(rj);
	}

	/* 10. /metrics, /healthz, /readyz */
	code = http_get(w.http_port, "/metrics", body, sizeof(body));
	assert_int_equal(code, 200);
	assert_non_null(strstr(body, "deconf_notices_total{agency=\"fbi-cac\",kind=\"conflict\"}"));
	assert_non_null(strstr(body, "deconf_txn_commits_total{part=\"matcher\"}"));
	assert_non_null(strstr(body, "deconf_txn_commits_total{part=\"ingest\"}"));
	assert_non_null(
		strstr(body, "deconf_submissions_total{agency=\"fbi-cac\",result=\"accepted\"}"));
	assert_non_null(
		strstr(body, "deconf_rejects_total{agency=\"tx-icac\",reason=\"malformed\"} 1"));
	assert_non_null(strstr(body, "deconf_ops_total{agency=\"navajo-pd\",op=\"add\"}"));
	assert_non_null(strstr(body, "deconf_state_entries "));
	assert_non_null(strstr(body, "deconf_consumer_lag{part=\"matcher\",topic=\""));
	assert_non_null(strstr(body, "deconf_notice_latency_seconds_bucket{le=\"0.25\"}"));
	assert_int_equal(http_get(w.http_port, "/readyz", body, sizeof(body)), 200);
	assert_int_equal(http_get(w.http_port, "/healthz", body, sizeof(body)), 200);

	/* 11. wipe the state and restart: rebuilt from the changelog, later
	 * submissions match as before, and nothing is notified twice */
	world_stop(&w);
	snprintf(body, sizeof(body), "rm -rf '%s/state-a'", w.f.dir);
	assert_int_equal(system(body), 0);
	assert_true((w.broker = track(fed_broker_start(BROKER_BIN, w.conf, w.log))) > 0);
	w.ops_base = w.ops;
	submit1(&w, w.other, ADD, "RC-W", EMAIL, 2, 0, 0, 0, 0); /* FBI-1, NN-3 hold it */
	submit1(&w, w.tf, ADD, "TF-7", PHONE, 1, 0, 0, 0, 0);    /* a re-add: nothing */
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notices(&w, expect += 4);
	assert_non_null(find(&w, w.other, KIND(CONFLICT), "RC-W", "fbi-cac", "FBI-1"));
	assert_non_null(find(&w, w.other, KIND(CONFLICT), "RC-W", "navajo-pd", "NN-3"));
	world_stop(&w);
	check_log(w.log);
	for (int i = 0; i < 4; i++)
		free(w.v[i]);
	fed_free(&w.f);
}

/* ------------------------------------------------------- exactly once */

static void two_agencies_topics(struct fed *f, int agency_topics)
{
	assert_int_equal(fed_new(f, bootstrap, 4), 0);
	f->no_agency_topics = !agency_topics;
	assert_int_equal(fed_agency(f, "agency-a", "Agency A", K(AGENCY_LEVEL__AGENCY_LEVEL_STATE),
				    "US", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)),
			 0);
	assert_int_equal(fed_agency(f, "agency-b", "Agency B", K(AGENCY_LEVEL__AGENCY_LEVEL_LOCAL),
				    "US", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)),
			 1);
}

static void two_agencies(struct fed *f)
{
	two_agencies_topics(f, 1);
}

/*
 * Crash safety: 100k token ops flow with 1000 known conflicting pairs; the
 * broker is SIGKILLed twice at random moments and restarted at once. Every
 * expected notice arrives exactly once, and no other.
 */
static void test_sigkill(void **state)
{
	struct fed f;
	struct fed_stream st = { .n_subs = 1000, .per_sub = 100, .shared = 2, .gap_us = 25000 };
	size_t expect = 2 * (size_t)st.shared * (size_t)st.n_subs / 2, total = 0, distinct = 0;
	char conf[256], log[256];
	pthread_t th;
	pid_t pid;
	unsigned seed = (unsigned)deconf_now_ms();

	(void)state;
	two_agencies(&f);
	st.f = &f;
	assert_int_equal(fed_broker_conf(&f, "a", NULL, conf, sizeof(conf)), 0);
	snprintf(log, sizeof(log), "%s/broker-a.log", f.dir);
	assert_true((pid = track(fed_broker_start(BROKER_BIN, conf, log))) > 0);
	assert_int_equal(pthread_create(&th, NULL, fed_stream_main, &st), 0);
	for (int k = 0; k < 2; k++) {
		int ms = 4000 + (int)(rand_r(&seed) % 6000);
		usleep((useconds_t)ms * 1000);
		print_message("SIGKILL %d after %d ms, %zu ops streamed\n", k + 1, ms, st.ops);
		assert_false(st.done); /* killed mid-stream */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		untrack(pid);
		assert_true((pid = track(fed_broker_start(BROKER_BIN, conf, log))) > 0);
	}
	pthread_join(th, NULL);
	assert_int_equal(fed_count_notices(&f, expect, 120, &total, &distinct), 0);
	print_message("%zu token ops, 2 kills: %zu notices, %zu distinct, %zu expected\n", st.ops,
		      total, distinct, expect);
	untrack(pid);
	assert_int_equal(fed_broker_stop(pid), 0);
	check_log(log);
	assert_int_equal(distinct, expect);
	assert_int_equal(total, expect);
	fed_free(&f);
}

/* The number a shell command prints (grep -c), or -1. */
static int sh_count(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	int n = -1;

	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/*
 * Two broker processes in one group share the partitions; stopping one
 * moves its partitions to the other, with no notice lost or duplicated.
 */
static void test_two_instances(void **state)
{
	struct fed f;
	struct fed_stream st = { .n_subs = 300, .per_sub = 50, .shared = 2, .gap_us = 40000 };
	size_t expect = 2 * (size_t)st.shared * (size_t)st.n_subs / 2, total = 0, distinct = 0;
	char conf[2][256], log[2][256], cmd[600], extra[64];
	int port[2];
	pid_t pids[2];
	pthread_t th;
	int64_t t0;

	(void)state;
	two_agencies(&f);
	st.f = &f;
	for (int i = 0; i < 2; i++) {
		const char *inst = i ? "b" : "a";
		port[i] = fed_free_port();
		snprintf(extra, sizeof(extra), "[http]\nport = %d\n", port[i]);
		assert_int_equal(fed_broker_conf(&f, inst, extra, conf[i], sizeof(conf[i])), 0);
		snprintf(log[i], sizeof(log[i]), "%s/broker-%s.log", f.dir, inst);
		assert_true((pids[i] = track(fed_broker_start(BROKER_BIN, conf[i], log[i]))) > 0);
	}
	/* both in the group, each with half the matcher's partitions, and
	 * ready (restored) */
	for (t0 = deconf_mono_us();; usleep(100000)) {
		int both = 1;
		for (int i = 0; i < 2 && both; i++) {
			char *body = NULL;
			snprintf(cmd, sizeof(cmd), "grep -c 'MATCHER: assigned 2 partition' '%s'",
				 log[i]);
			both = sh_count(cmd) > 0 && fed_http_get(port[i], "/readyz", &body) == 200;
			free(body);
		}
		if (both)
			break;
		if (deconf_mono_us() - t0 > 60000000)
			fail_msg("the two instances did not each hold 2 matcher partitions and "
				 "answer /readyz 200 within 60 s");
	}
	assert_int_equal(pthread_create(&th, NULL, fed_stream_main, &st), 0);
	/* stopped mid-stream once it has applied and committed some of it */
	for (t0 = deconf_mono_us();; usleep(100000)) {
		char *body = NULL;
		double applied = 0;
		if (fed_http_get(port[1], "/metrics", &body) == 200)
			applied = fed_metric_sum(body, "deconf_ops_total", NULL);
		free(body);
		if (applied > 0)
			break;
		if (deconf_mono_us() - t0 > 60000000)
			fail_msg("instance b applied none of the stream in 60 s");
	}
	assert_false(st.done);
	untrack(pids[1]);
	assert_int_equal(fed_broker_stop(pids[1]), 0);
	pthread_join(th, NULL);
	assert_int_equal(fed_count_notices(&f, expect, 120, &total, &distinct), 0);
	print_message("two instances, one stopped mid-stream: %zu notices, %zu distinct, %zu "
		      "expected\n",
		      total, distinct, expect);
	untrack(pids[0]);
	assert_int_equal(fed_broker_stop(pids[0]), 0);
	/* each had its share of the matcher's partitions at first */
	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "grep -q 'MATCHER: assigned 2 partition' '%s'", log[i]);
		assert_int_equal(system(cmd), 0);
		check_log(log[i]);
	}
	snprintf(cmd, sizeof(cmd), "grep -q 'MATCHER: assigned 4 partition' '%s'", log[0]);
	assert_int_equal(system(cmd), 0);
	/* ingest spreads too: with both in the group each instance read one of
	 * the two agencies' one-partition submit topics (the range assignor gave
	 * both to one), and a took both when b stopped */
	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "grep -q 'INGEST: assigned 1 partition' '%s'", log[i]);
		assert_int_equal(system(cmd), 0);
	}
	snprintf(cmd, sizeof(cmd), "grep -q 'INGEST: assigned 2 partition' '%s'", log[0]);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(distinct, expect);
	assert_int_equal(total, expect);
	fed_free(&f);
}

/* Poll /readyz every 100 ms for at most max_ms until its code is want
 * (and its body holds `with`, when given); returns the ms it took, or -1. */
static int wait_ready(int port, int want, const char *with, int max_ms, char *body, size_t size)
{
	int64_t t0 = deconf_mono_us();

	while ((deconf_mono_us() - t0) / 1000 < max_ms) {
		int code = http_get(port, "/readyz", body, size);
		if (code == want && (!with || strstr(body, with)))
			return (int)((deconf_mono_us() - t0) / 1000);
		usleep(100000);
	}
	return -1;
}

/*
 * /readyz tells the truth: not ready before the group assigned the parts
 * their partitions; "stuck" once ingest cannot commit what it read for
 * http.stall_after (here the agencies' receipts topics do not exist and
 * the broker may not create them, so every transaction that carries a
 * receipt fails, and ingest retries it with backoff: what an operator who
 * forgot `deconfctl topics apply` for a new agency sees); ready again once
 * the topics are there, with nothing lost. /healthz stays 200 throughout:
 * a Kafka fault is "not ready", not "restart me".
 */
static void test_ready_tells_the_truth(void **state)
{
	struct fed f;
	struct fed_op o[2];
	struct fed_notice *v = NULL;
	size_t n = 0, bad = 0;
	char conf[256], log[256], extra[512], body[4096], topic[96];
	int port = fed_free_port(), ms, saw_not_ready = 0;
	pid_t pid;

	(void)state;
	two_agencies_topics(&f, 0);
	snprintf(extra, sizeof(extra),
		 "[http]\nport = %d\nstall_after = 2s\n[ingest]\nretry_max = 1s\n"
		 "[kafka]\nallow.auto.create.topics = false\n",
		 port);
	for (int a = 0; a < 4; a++) {
		char t[96], name[64];
		snprintf(name, sizeof(name), "%s.%s", a < 2 ? "notices" : "submit", f.ag[a % 2].id);
		assert_int_equal(fed_create_topic(&f, fed_topic(&f, name, t, sizeof(t)), 1, 0), 0);
	}
	assert_int_equal(fed_broker_conf(&f, "a", extra, conf, sizeof(conf)), 0);
	snprintf(log, sizeof(log), "%s/broker-a.log", f.dir);
	assert_true((pid = track(fed_broker_start(BROKER_BIN, conf, log))) > 0);
	for (int i = 0; i < 600; i++) {
		int code = http_get(port, "/readyz", body, sizeof(body));
		if (code == 200)
			break;
		if (code == 503 && strstr(body, "not ready"))
			saw_not_ready = 1;
		usleep(100000);
	}
	assert_true(saw_not_ready);
	assert_int_equal(http_get(port, "/readyz", body, sizeof(body)), 200);

	memset(o, 0, sizeof(o));
	for (int a = 0; a < 2; a++) {
		o[a].op = K(OP__OP_ADD);
		o[a].case_ref = a ? "B-1" : "A-1";
		o[a].type = MD5;
		fed_token(&f, 4242, o[a].token);
		assert_int_equal(fed_submit(&f, a, &o[a], 1, NULL), 0);
	}
	assert_int_equal(fed_flush(&f), 0);
	ms = wait_ready(port, 503, "ingest stuck", 30000, body, sizeof(body));
	print_message("no receipts topics: /readyz 503 after %d ms: %.*s\n", ms,
		      (int)strcspn(body, "\n"), body);
	if (ms < 0 && getenv("T_DEBUG")) {
		static char mbody[65536];
		http_get(port, "/metrics", mbody, sizeof(mbody));
		print_message("%s\n", mbody);
	}
	assert_true(ms >= 0);
	assert_int_equal(http_get(port, "/healthz", body, sizeof(body)), 200);

	for (int a = 0; a < 2; a++) {
		char name[64];
		snprintf(name, sizeof(name), "receipts.%s", f.ag[a].id);
		assert_int_equal(fed_create_topic(&f, fed_topic(&f, name, topic, sizeof(topic)), 1, 0),
				 0);
	}
	ms = wait_ready(port, 200, NULL, 90000, body, sizeof(body));
	print_message("receipts topics created: /readyz 200 after %d ms\n", ms);
	assert_true(ms >= 0);
	/* nothing lost: the pair is notified, once to each side */
	for (int i = 0; i < 60 && n < 2; i++) {
		free(v);
		v = NULL;
		n = 0;
		assert_int_equal(fed_read_notices(&f, NULL, &v, &n, &bad, 5000), 0);
		usleep(500000);
	}
	assert_int_equal(n, 2);
	assert_int_equal(bad, 0);
	free(v);

	/* killed and started again at once: the group still counts the dead
	 * member until its session times out, and /readyz must not say ready
	 * before ingest has its partitions again */
	{
		char cmd[512];
		int assigned_before, first_200 = -1;
		int64_t t0;
		snprintf(cmd, sizeof(cmd), "grep -c 'INGEST: assigned [1-9]' '%s'", log);
		assigned_before = sh_count(cmd);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		untrack(pid);
		assert_true((pid = track(fed_broker_start(BROKER_BIN, conf, log))) > 0);
		t0 = deconf_mono_us();
		while ((deconf_mono_us() - t0) / 1000 < 60000) {
			if (http_get(port, "/readyz", body, sizeof(body)) == 200) {
				first_200 = (int)((deconf_mono_us() - t0) / 1000);
				/* by then the new process's ingest was assigned */
				assert_true(sh_count(cmd) > assigned_before);
				break;
			}
			usleep(100000);
		}
		print_message("after kill -9 and restart: /readyz 200 after %d ms, once ingest "
			      "was assigned\n",
			      first_200);
		assert_true(first_200 >= 0);
	}
	untrack(pid);
	assert_int_equal(fed_broker_stop(pid), 0);
	fed_free(&f);
}

/* A consumer that joins `group` as static member `instance` with the
 * group's assignor, subscribed to topic, and polls until it is assigned (or
 * 30 s). */
static rd_kafka_t *impostor(struct fed *f, const char *group, const char *instance,
			    const char *assignor, const char *topic)
{
	char errstr[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1), *a = NULL;
	rd_kafka_t *rk;

	assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers", f->bootstrap, errstr,
					   sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	assert_int_equal(rd_kafka_conf_set(c, "group.id", group, errstr, sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	assert_int_equal(rd_kafka_conf_set(c, "group.instance.id", instance, errstr,
					   sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	assert_int_equal(rd_kafka_conf_set(c, "partition.assignment.strategy", assignor, errstr,
					   sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	assert_int_equal(rd_kafka_conf_set(c, "enable.auto.commit", "false", errstr,
					   sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	assert_non_null(rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr)));
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
	assert_int_equal(rd_kafka_subscribe(rk, sub), 0);
	rd_kafka_topic_partition_list_destroy(sub);
	for (int i = 0; i < 300; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (m)
			rd_kafka_message_destroy(m);
		if (!rd_kafka_assignment(rk, &a) && a && a->cnt > 0)
			break;
		if (a)
			rd_kafka_topic_partition_list_destroy(a);
		a = NULL;
	}
	assert_non_null(a);
	rd_kafka_topic_partition_list_destroy(a);
	return rk;
}

/*
 * A part whose consumer is fenced (librdkafka makes that fatal: a static
 * member whose session timed out while its group coordinator failed over is
 * fenced when it rejoins, librdkafka #3437) makes its Kafka clients again
 * instead of reading nothing for ever or exiting. Here the fencing is forced:
 * an impostor joins each part's group with the part's group.instance.id, then
 * leaves. The broker must say it made its clients again (both parts), count
 * it, stay up, and notify a conflict submitted after.
 */
static void test_fenced_consumer_made_again(void **state)
{
	struct fed f;
	struct fed_op o[2];
	char conf[256], log[256], extra[128], body[4096], group[128], inst[160], topic[128],
		cmd[600];
	int port = fed_free_port(), ms;
	size_t total = 0, distinct = 0;
	pid_t pid;
	static const char *const parts[] = { "ingest", "matcher" };

	(void)state;
	two_agencies(&f);
	snprintf(extra, sizeof(extra), "[http]\nport = %d\n", port);
	assert_int_equal(fed_broker_conf(&f, "a", extra, conf, sizeof(conf)), 0);
	snprintf(log, sizeof(log), "%s/broker-a.log", f.dir);
	assert_true((pid = track(fed_broker_start(BROKER_BIN, conf, log))) > 0);
	assert_true(wait_ready(port, 200, NULL, 60000, body, sizeof(body)) >= 0);
	for (int k = 0; k < 2; k++) {
		rd_kafka_t *rk;
		snprintf(group, sizeof(group), "%sbroker-%s", f.prefix, parts[k]);
		snprintf(inst, sizeof(inst), "%sbroker-%s-a", f.prefix, parts[k]);
		fed_topic(&f, k ? "tokens" : "submit.agency-a", topic, sizeof(topic));
		/* ingest's group assigns round-robin, the matcher's by range */
		rk = impostor(&f, group, inst, k ? "range" : "roundrobin", topic);
		/* the broker's part hears it is fenced at its next heartbeat,
		 * makes its clients again and fences the impostor in turn */
		snprintf(cmd, sizeof(cmd),
			 "grep -c '%s: making its Kafka clients again' '%s'",
			 k ? "MATCHER" : "INGEST", log);
		for (int i = 0; i < 300 && sh_count(cmd) < 1; i++)
			usleep(100000);
		print_message("%s fenced by an impostor: made again: %s\n", parts[k],
			      sh_count(cmd) > 0 ? "yes" : "no");
		assert_true(sh_count(cmd) > 0);
		rd_kafka_destroy(rk); /* no close: it is fenced itself by now */
	}
	ms = wait_ready(port, 200, NULL, 60000, body, sizeof(body));
	print_message("ready again %d ms after the second\n", ms);
	assert_true(ms >= 0);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* never exited */
	{
		char *mbody = NULL;
		int n = 0;
		assert_int_equal(fed_http_get(port, "/metrics", &mbody), 200);
		assert_true(fed_metric_sum(mbody, "deconf_client_restarts_total", &n) >= 2);
		free(mbody);
	}
	/* and it serves: a conflict submitted now is notified, once to each */
	memset(o, 0, sizeof(o));
	for (int a = 0; a < 2; a++) {
		o[a].op = ADD;
		o[a].case_ref = a ? "B-F" : "A-F";
		o[a].type = MD5;
		fed_token(&f, 777, o[a].token);
		assert_int_equal(fed_submit(&f, a, &o[a], 1, NULL), 0);
	}
	assert_int_equal(fed_flush(&f), 0);
	assert_int_equal(fed_count_notices(&f, 2, 60, &total, &distinct), 0);
	assert_int_equal(total, 2);
	assert_int_equal(distinct, 2);
	untrack(pid);
	assert_int_equal(fed_broker_stop(pid), 0);
	check_log(log);
	fed_free(&f);
}

/* After a stream: every notice out exactly once, and (the gauge is
 * refreshed every 5 s) one state entry per op sent. */
static void check_counts(int port, const struct fed_stream *st, size_t total, size_t distinct)
{
	double entries = -1;

	for (int i = 0; i < 60; i++) {
		char *body = NULL;
		int n = 0;
		if (fed_http_get(port, "/metrics", &body) == 200)
			entries = fed_metric_sum(body, "deconf_state_entries", &n);
		free(body);
		if (entries == (double)st->ops)
			break;
		usleep(500000);
	}
	print_message("%zu ops: %zu notices, %zu distinct, %zu expected; state %.0f entries\n",
		      (size_t)st->ops, total, distinct, fed_stream_notices(st), entries);
	assert_true(entries == (double)st->ops);
	assert_int_equal(total, fed_stream_notices(st));
	assert_int_equal(distinct, fed_stream_notices(st));
}

/*
 * The state store's disk fills up (a tmpfs of 1 MiB under matcher.state_dir)
 * while two agencies stream 20,000 token ops: the matcher stops committing,
 * /readyz says why (503), the process stays up; once the filesystem is
 * grown it resumes, restoring from the changelog what Kafka committed and
 * the store did not, and every notice is out exactly once with one state
 * entry per op. Needs root for the mount, as tests/run.sh has in CI.
 */
static void test_state_disk_full(void **state)
{
	struct fed f;
	struct fed_stream st = { .n_subs = 400, .per_sub = 50, .shared = 2, .gap_us = 20000,
				 .base = 70000000u };
	char conf[256], log[256], extra[128], body[4096], mnt[256], cmd[600];
	size_t total = 0, distinct = 0;
	int port = fed_free_port(), ms;
	pthread_t th;
	pid_t pid;

	(void)state;
	two_agencies(&f);
	st.f = &f;
	snprintf(mnt, sizeof(mnt), "%s/state-a", f.dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=1m deconf-test '%s'", mnt);
	if (system(cmd))
		fail_msg("cannot mount a 1 MiB tmpfs on %s (the test needs root, as tests/run.sh "
			 "has in CI)",
			 mnt);
	snprintf(extra, sizeof(extra), "[http]\nport = %d\n", port);
	assert_int_equal(fed_broker_conf(&f, "a", extra, conf, sizeof(conf)), 0);
	snprintf(log, sizeof(log), "%s/broker-a.log", f.dir);
	assert_true((pid = track(fed_broker_start(BROKER_BIN, conf, log))) > 0);
	assert_true(wait_ready(port, 200, NULL, 60000, body, sizeof(body)) >= 0);
	assert_int_equal(pthread_create(&th, NULL, fed_stream_main, &st), 0);
	ms = wait_ready(port, 503, "the state store is full", 60000, body, sizeof(body));
	print_message("disk full after %zu ops: /readyz 503 after %d ms: %.*s\n", (size_t)st.ops,
		      ms, (int)strcspn(body, "\n"), body);
	assert_true(ms >= 0);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* up, not exited */
	snprintf(cmd, sizeof(cmd), "mount -o remount,size=256m '%s'", mnt);
	assert_int_equal(system(cmd), 0);
	ms = wait_ready(port, 200, NULL, 60000, body, sizeof(body));
	print_message("filesystem grown: /readyz 200 after %d ms\n", ms);
	assert_true(ms >= 0);
	pthread_join(th, NULL);
	assert_false(st.failed);
	assert_int_equal(fed_count_notices(&f, fed_stream_notices(&st), 120, &total, &distinct), 0);
	check_counts(port, &st, total, distinct);
	untrack(pid);
	assert_int_equal(fed_broker_stop(pid), 0);
	check_log(log);
	snprintf(cmd, sizeof(cmd), "umount '%s'", mnt);
	assert_int_equal(system(cmd), 0);
	fed_free(&f);
}

/*
 * LMDB's map full (matcher.state_map_size = 1 MiB) while two agencies stream
 * 10,000 token ops: the matcher stops committing and /readyz says why; it is
 * stopped (cleanly) and started with a larger map, restores from the
 * changelog what Kafka committed and the store did not, and every notice is
 * out exactly once with one state entry per op.
 */
static void test_state_map_full(void **state)
{
	struct fed f;
	struct fed_stream st = { .n_subs = 200, .per_sub = 50, .shared = 2, .gap_us = 20000,
				 .base = 80000000u };
	char conf[256], log[256], extra[160], body[4096];
	size_t total = 0, distinct = 0;
	int port = fed_free_port(), ms;
	pthread_t th;
	pid_t pid;

	(void)state;
	two_agencies(&f);
	st.f = &f;
	snprintf(extra, sizeof(extra), "[http]\nport = %d\n[matcher]\nstate_map_size = 1M\n",
		 port);
	assert_int_equal(fed_broker_conf(&f, "a", extra, conf, sizeof(conf)), 0);
	snprintf(log, sizeof(log), "%s/broker-a.log", f.dir);
	assert_true((pid = track(fed_broker_start(BROKER_BIN, conf, log))) > 0);
	assert_true(wait_ready(port, 200, NULL, 60000, body, sizeof(body)) >= 0);
	assert_int_equal(pthread_create(&th, NULL, fed_stream_main, &st), 0);
	ms = wait_ready(port, 503, "the state store is full", 60000, body, sizeof(body));
	print_message("map full after %zu ops: /readyz 503 after %d ms: %.*s\n", (size_t)st.ops,
		      ms, (int)strcspn(body, "\n"), body);
	assert_true(ms >= 0);
	pthread_join(th, NULL);
	assert_false(st.failed);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* up, not exited */
	untrack(pid);
	assert_int_equal(fed_broker_stop(pid), 0); /* a clean stop */
	snprintf(extra, sizeof(extra), "[http]\nport = %d\n[matcher]\nstate_map_size = 256M\n",
		 port);
	assert_int_equal(fed_broker_conf(&f, "a", extra, conf, sizeof(conf)), 0);
	assert_true((pid = track(fed_broker_start(BROKER_BIN, conf, log))) > 0);
	ms = wait_ready(port, 200, NULL, 60000, body, sizeof(body));
	print_message("restarted with a 256 MiB map: /readyz 200 after %d ms\n", ms);
	assert_true(ms >= 0);
	assert_int_equal(fed_count_notices(&f, fed_stream_notices(&st), 120, &total, &distinct), 0);
	check_counts(port, &st, total, distinct);
	untrack(pid);
	assert_int_equal(fed_broker_stop(pid), 0);
	check_log(log);
	fed_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_map_full),
		cmocka_unit_test(test_state_disk_full),
		cmocka_unit_test(test_fenced_consumer_made_again),
		cmocka_unit_test(test_ready_tells_the_truth),
		cmocka_unit_test(test_semantics),
		cmocka_unit_test(test_sigkill),
		cmocka_unit_test(test_two_instances),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP"))) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set (tests/run.sh starts Kafka): skipped\n");
		return 77;
	}
	atexit(kill_running);
	if (getenv("T_FILTER")) /* e.g. T_FILTER=test_sigkill: one test while developing */
		cmocka_set_test_filter(getenv("T_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
