/*
 * test_dashboard.c — every metric the Grafana dashboard charts is real:
 * deconf-broker on the real Kafka exports it, and it moves when the event
 * it stands for happens; and the ops events the docs name reach deconf.ops.
 *
 * The names come from deploy/grafana/deconf-broker.json itself (every
 * panel target's `expr`, its deconf_* names with a histogram's _bucket,
 * _sum and _count taken off), so a panel added for a name the broker does
 * not export, or that nothing moves, fails here. Each name must have an
 * event below that moves it: a name this test does not know fails too,
 * until its event is added.
 *
 * One broker on a throwaway federation (fed.h), with thresholds low enough
 * to reach in seconds: a conflict (A and B add a token), a hot token (C
 * adds it too, hot_cases 2), an expiry (an entry that expires 3 s after
 * it is added, warned 2 s ahead, scanned every 200 ms), two Rejects in a
 * row (rejects_alert 2), a backlog (agency D sends past its ingest quota),
 * and a restart with the state directory wiped (rebuilt from the
 * changelog). deconf.ops must then hold, signed by the broker, the hot
 * token, the repeated rejects and the rebuild.
 *
 * The watch desk page (/ and /desk on the same port) is read during the
 * run too: every agency, a conflict counted, its security headers, and
 * nothing of the run's tokens, case refs or points of contact in it.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP; exits 77 without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <regex.h>
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
#define ADD K(OP__OP_ADD)
#define MD5 K(INDICATOR_TYPE__INDICATOR_TYPE_MD5)
#define KIND(x) K(NOTICE_KIND__NOTICE_KIND_##x)
#define OPS(x) K(OPS_KIND__OPS_KIND_##x)
#define ACTIVE K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)
#define STATE K(AGENCY_LEVEL__AGENCY_LEVEL_STATE)

#define PARTITIONS 2
#define TOK_HOT 1
#define TOK_EXPIRES 2
#define TOK_ABORT 3
#define TOK_FLOOD 100000
#define FLOOD_SUBS 80 /* of FLOOD_OPS ADDs each: 16 s of D's quota */
#define FLOOD_OPS 50
#define MAX_NAMES 64

static const char *bootstrap;
static pid_t broker_pid; /* killed at exit if a failed test left it running */

static void kill_broker(void)
{
	if (broker_pid > 0)
		kill(broker_pid, SIGKILL);
}

static double now_s(void)
{
	return (double)deconf_mono_us() / 1e6;
}

/* ------------------------------------------------------ the dashboard */

struct names {
	char v[MAX_NAMES][64];
	int n;
};

static void add_name(struct names *x, const char *name, size_t len)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	char buf[64];

	assert_true(len < sizeof(buf));
	memcpy(buf, name, len);
	buf[len] = '\0';
	/* a histogram's series are charted by their family's name */
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);
		if (len > sl && !strcmp(buf + len - sl, suffixes[i])) {
			buf[len - sl] = '\0';
			break;
		}
	}
	for (int i = 0; i < x->n; i++)
		if (!strcmp(x->v[i], buf))
			return;
	assert_true(x->n < MAX_NAMES);
	snprintf(x->v[x->n++], sizeof(x->v[0]), "%s", buf);
}

/* Every deconf_* name in the `expr` strings anywhere under j. */
static void collect(json_t *j, struct names *x, const regex_t *re, int *exprs)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, key, v) {
			if (!strcmp(key, "expr") && json_is_string(v)) {
				const char *p = json_string_value(v);
				regmatch_t m;

				(*exprs)++;
				while (!regexec(re, p, 1, &m, 0)) {
					add_name(x, p + m.rm_so, (size_t)(m.rm_eo - m.rm_so));
					p += m.rm_eo;
				}
			} else {
				collect(v, x, re, exprs);
			}
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			collect(v, x, re, exprs);
	}
}

static void dashboard_names(struct names *x)
{
	json_error_t err;
	json_t *root = json_load_file(DASHBOARD_JSON, 0, &err);
	regex_t re;
	int exprs = 0;

	if (!root)
		fail_msg("%s:%d: %s", DASHBOARD_JSON, err.line, err.text);
	assert_int_equal(regcomp(&re, "deconf_[a-z_]+", REG_EXTENDED), 0);
	memset(x, 0, sizeof(*x));
	collect(root, x, &re, &exprs);
	regfree(&re);
	json_decref(root);
	print_message("%s: %d queries, %d metric names\n", DASHBOARD_JSON, exprs, x->n);
	assert_true(exprs > 0);
	assert_true(x->n > 0);
}

/* ------------------------------------------------------------ /metrics */

static char *scrape(int port)
{
	char *body = NULL;
	int code = fed_http_get(port, "/metrics", &body);

	if (code != 200)
		fail_msg("GET /metrics on port %d: %d", port, code);
	return body;
}

/* The series of family `name` in a /metrics text (histograms: its
 * _count series), summed; *n: how many. */
static double family_value(const char *text, const char *name, int *n)
{
	char count[96];
	char type[128];

	snprintf(type, sizeof(type), "# TYPE %s histogram\n", name);
	if (strstr(text, type)) {
		snprintf(count, sizeof(count), "%s_count", name);
		return fed_metric_sum(text, count, n);
	}
	return fed_metric_sum(text, name, n);
}

/* Poll /metrics until series (exactly as written, or a bare family name:
 * the sum of its series) satisfies cmp against v: '>' or '='. */
static double wait_metric(int port, const char *series, char cmp, double v, int max_s,
			  const char *what)
{
	double t0 = now_s(), got = 0;
	int found = 0;

	for (;;) {
		char *text = scrape(port);
		if (strchr(series, '{'))
			got = fed_metric(text, series, &found);
		else
			got = family_value(text, series, &found);
		free(text);
		if (found && (cmp == '>' ? got > v : got == v))
			return got;
		if (now_s() - t0 > max_s)
			fail_msg("%s: %s is %s%.17g, not %s %.17g after %d s", what, series,
				 found ? "" : "absent, ", got, cmp == '>' ? "above" : "equal to", v,
				 max_s);
		usleep(200000);
	}
}

/* ---------------------------------------------------------- the world */

struct world {
	struct fed f;
	int a, b, c, d;
	int port;
	char conf[256], log[256];
	pid_t broker;
};

static void broker_start(struct world *w)
{
	char body[1024];
	char *text = NULL;
	double t0 = now_s();

	assert_true((w->broker = fed_broker_start(BROKER_BIN, w->conf, w->log)) > 0);
	broker_pid = w->broker;
	while (fed_http_get(w->port, "/readyz", &text) != 200) {
		snprintf(body, sizeof(body), "%s", text ? text : "");
		free(text);
		text = NULL;
		if (now_s() - t0 > 60)
			fail_msg("/readyz not 200 60 s after the broker started: %s", body);
		usleep(100000);
	}
	free(text);
}

static void broker_stop(struct world *w)
{
	assert_int_equal(fed_broker_stop(w->broker), 0);
	broker_pid = 0;
}

static void add(struct world *w, int ag, const char *case_ref, uint32_t tok, int64_t expires_at)
{
	struct fed_op o;

	memset(&o, 0, sizeof(o));
	o.op = ADD;
	o.case_ref = case_ref;
	o.type = MD5;
	o.poc_name = "Det. Example";
	o.expires_at = expires_at;
	fed_token(&w->f, tok, o.token);
	assert_int_equal(fed_submit(&w->f, ag, &o, 1, NULL), 0);
}

static void garbage(struct world *w, int ag)
{
	char topic[96];

	snprintf(topic, sizeof(topic), "%ssubmit.%s", w->f.prefix, w->f.ag[ag].id);
	assert_int_equal(rd_kafka_producev(w->f.producer, RD_KAFKA_V_TOPIC(topic),
					   RD_KAFKA_V_VALUE("\x01garbage", 8),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
			 0);
}

/* Wait until agency ag holds a notice of kind about case_ref. */
static void wait_notice(struct world *w, int ag, int kind, const char *case_ref, int max_s)
{
	double t0 = now_s();

	for (;;) {
		struct fed_notice *v = NULL;
		size_t n = 0, bad = 0;
		int found = 0;

		assert_int_equal(fed_read_notices(&w->f, w->f.ag[ag].id, &v, &n, &bad, 5000), 0);
		assert_int_equal(bad, 0);
		for (size_t i = 0; i < n; i++)
			found |= v[i].kind == kind && !strcmp(v[i].case_ref, case_ref);
		free(v);
		if (found)
			return;
		if (now_s() - t0 > max_s)
			fail_msg("%s got no notice of kind %d about %s in %d s", w->f.ag[ag].id, kind,
				 case_ref, max_s);
		usleep(200000);
	}
}

static int agency(struct fed *f, const char *id, const char *name)
{
	int i = fed_agency(f, id, name, STATE, "US", ACTIVE);

	assert_true(i >= 0);
	return i;
}

/* ----------------------------------------------------------- watch desk */

/* The response headers of GET path (malloc'ed). */
static char *headers(int port, const char *path)
{
	char cmd[300], *h = calloc(1, 8192);
	size_t n = 0, r;
	FILE *p;

	assert_non_null(h);
	snprintf(cmd, sizeof(cmd), "curl -s -m 10 -D - -o /dev/null 'http://127.0.0.1:%d%s'", port,
		 path);
	assert_non_null(p = popen(cmd, "r"));
	while (n < 8191 && (r = fread(h + n, 1, 8191 - n, p)) > 0)
		n += r;
	pclose(p);
	return h;
}

static int has_hex(const char *page, const uint8_t *tok, size_t len)
{
	char hex[2 * 32 + 1];

	for (size_t i = 0; i < len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", tok[i]);
	return strcasestr(page, hex) != NULL;
}

/* The watch desk, as an operator sees it mid-run: every agency, at least
 * one conflict this hour and in all, and nothing agencies keep to
 * themselves: no token (as hex, any case), no case ref, no contact. */
static void check_desk(struct world *w)
{
	static const char *const case_refs[] = { "A-1", "B-1", "C-1", "A-E", "A-2", "D-0",
						 "D-79" };
	static const uint32_t toks[] = { TOK_HOT, TOK_EXPIRES, TOK_ABORT, TOK_FLOOD,
					 TOK_FLOOD + FLOOD_SUBS * FLOOD_OPS - 1 };
	const char *paths[] = { "/", "/desk" };
	char *page = NULL, *h, *p;
	uint8_t tok[16];
	double conflicts = 0;

	for (size_t k = 0; k < 2; k++) {
		free(page);
		page = NULL;
		if (fed_http_get(w->port, paths[k], &page) != 200)
			fail_msg("GET %s: not 200", paths[k]);
		h = headers(w->port, paths[k]);
		if (!strcasestr(h, "Content-Security-Policy: default-src 'none'; style-src "
				   "'unsafe-inline'") ||
		    !strcasestr(h, "X-Content-Type-Options: nosniff") ||
		    !strcasestr(h, "Cache-Control: no-store") ||
		    !strcasestr(h, "Content-Type: text/html; charset=utf-8"))
			fail_msg("GET %s: headers lack CSP, nosniff, no-store or the type:\n%s",
				 paths[k], h);
		free(h);
	}
	for (int i = 0; i < w->f.n_ag; i++) {
		char row[256];
		snprintf(row, sizeof(row), "<td>%s</td><td>%s</td><td>state</td><td>US</td>"
					   "<td class=\"ok\">active</td>",
			 w->f.ag[i].id, w->f.ag[i].name);
		if (!strstr(page, row))
			fail_msg("the watch desk has no row %s", row);
	}
	if (!(p = strstr(page, "<dd id=\"conflicts\">")) ||
	    (conflicts = strtod(p + strlen("<dd id=\"conflicts\">"), NULL)) < 1)
		fail_msg("the watch desk counts no conflict");
	if (!(p = strstr(page, "last 24 hours (")) || strtod(p + 15, NULL) < 1)
		fail_msg("the watch desk shows no conflict in the last 24 hours");
	if (!strstr(page, "<td>malformed</td>"))
		fail_msg("the watch desk shows no malformed reject");
	for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
		fed_token(&w->f, toks[i], tok);
		if (has_hex(page, tok, sizeof(tok)) || has_hex(page, tok, 8))
			fail_msg("the watch desk shows token %u in hex", toks[i]);
	}
	for (size_t i = 0; i < sizeof(case_refs) / sizeof(case_refs[0]); i++)
		if (strstr(page, case_refs[i]))
			fail_msg("the watch desk shows case ref %s", case_refs[i]);
	if (strstr(page, "Det. Example"))
		fail_msg("the watch desk shows a case's point of contact");
	print_message("watch desk: %zu bytes, %.0f conflicts, %d agencies\n", strlen(page),
		      conflicts, w->f.n_ag);
	free(page);
}

/* ---------------------------------------------------------- the test */

/* What moved, name by name: set by the events, read by the check. */
struct moved {
	const char *name;
	const char *how; /* what made it move, for the failure message */
	int ok;
};

static struct moved *moved_get(struct moved *m, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(m[i].name, name))
			return &m[i];
	return NULL;
}

static void test_dashboard(void **state)
{
	static struct world w;
	struct names names;
	struct moved moved[] = {
		{ "deconf_submissions_total", "accepted submissions", 0 },
		{ "deconf_rejects_total", "garbage refused", 0 },
		{ "deconf_ops_total", "token ops applied", 0 },
		{ "deconf_notices_total", "a conflict notified", 0 },
		{ "deconf_conflicts_total", "A and B add one token", 0 },
		{ "deconf_hot_tokens_total", "C adds it too (hot_cases 2)", 0 },
		{ "deconf_expired_total", "an entry warned and expired", 0 },
		{ "deconf_txn_commits_total", "batches committed", 0 },
		{ "deconf_txn_aborts_total", "deconf.tokens refusing ingest's writes", 0 },
		{ "deconf_state_entries", "entries added", 0 },
		{ "deconf_state_bytes", "4,000 entries added", 0 },
		{ "deconf_partitions_owned", "partitions assigned", 0 },
		{ "deconf_consumer_lag", "agency D over its ingest quota", 0 },
		{ "deconf_batch_seconds", "batches timed", 0 },
		{ "deconf_notice_latency_seconds", "notices timed", 0 },
		{ "deconf_ingest_throttled_total", "agency D paused", 0 },
		{ "deconf_ingest_throttled_seconds_total", "agency D paused", 0 },
		{ "deconf_restored_records_total", "the wiped state rebuilt", 0 },
	};
	size_t n_moved = sizeof(moved) / sizeof(moved[0]);
	char extra[1024], series[256], cmd[600];
	char *s0, *s1;
	struct fed_ops_event *ev = NULL;
	size_t n_ev = 0, bad = 0;
	int hot = 0, repeated = 0, rebuild = 0, n, n0;
	double bytes0, entries;
	uint8_t tok_hot[16];

	(void)state;
	dashboard_names(&names);

	assert_int_equal(fed_new(&w.f, bootstrap, PARTITIONS), 0);
	w.a = agency(&w.f, "dash-a", "Agency A");
	w.b = agency(&w.f, "dash-b", "Agency B");
	w.c = agency(&w.f, "dash-c", "Agency C");
	w.d = agency(&w.f, "dash-d", "Agency D");
	w.port = fed_free_port();
	snprintf(extra, sizeof(extra),
		 "[http]\nport = %d\n"
		 "[matcher]\nhot_cases = 2\nexpiry_warning = 2s\nexpiry_scan = 200ms\n"
		 "[ingest]\nrejects_alert = 2\nagency_ops_per_s = 500\nagency_burst = 1s\n",
		 w.port);
	assert_int_equal(fed_broker_conf(&w.f, "a", extra, w.conf, sizeof(w.conf)), 0);
	snprintf(w.log, sizeof(w.log), "%s/broker-a.log", w.f.dir);
	broker_start(&w);

	/* partitions_owned and the lag are refreshed every 5 s */
	snprintf(series, sizeof(series), "deconf_partitions_owned{part=\"matcher\"}");
	wait_metric(w.port, series, '=', PARTITIONS, 20, "the matcher's partitions");
	moved_get(moved, n_moved, "deconf_partitions_owned")->ok = 1;
	s0 = scrape(w.port);

	/* a conflict, a hot token, an entry that expires, two Rejects */
	add(&w, w.a, "A-1", TOK_HOT, 0);
	add(&w, w.b, "B-1", TOK_HOT, 0);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notice(&w, w.a, KIND(CONFLICT), "A-1", 60);
	add(&w, w.c, "C-1", TOK_HOT, 0);
	add(&w, w.a, "A-E", TOK_EXPIRES, deconf_now_ms() + 3000);
	garbage(&w, w.b);
	garbage(&w, w.b);
	assert_int_equal(fed_flush(&w.f), 0);
	wait_notice(&w, w.c, KIND(HOT_TOKEN), "C-1", 60);
	wait_notice(&w, w.a, KIND(EXPIRY_WARNING), "A-E", 60);
	wait_notice(&w, w.a, KIND(EXPIRED), "A-E", 60);
	assert_int_equal(fed_wait_processed(&w.f, 60000), 0);

	/* a failing batch: deconf.tokens takes no record batch over 100
	 * bytes, so A's token op is refused by the Kafka broker, ingest's
	 * transaction aborts, and the record is found and refused
	 * (unprocessable) */
	{
		char topic[96];

		fed_topic(&w.f, "tokens", topic, sizeof(topic));
		assert_int_equal(fed_topic_config(&w.f, topic, "max.message.bytes", "100"), 0);
		add(&w, w.a, "A-2", TOK_ABORT, 0);
		assert_int_equal(fed_flush(&w.f), 0);
		wait_metric(w.port, "deconf_txn_aborts_total{part=\"ingest\"}", '>', 0, 60,
			    "ingest's writes refused");
		moved_get(moved, n_moved, "deconf_txn_aborts_total")->ok = 1;
		snprintf(series, sizeof(series),
			 "deconf_rejects_total{agency=\"%s\",reason=\"unprocessable\"}",
			 w.f.ag[w.a].id);
		wait_metric(w.port, series, '=', 1, 60, "A's unwritable token op refused");
		assert_int_equal(fed_topic_config(&w.f, topic, "max.message.bytes", "1048588"), 0);
		assert_int_equal(fed_wait_processed(&w.f, 90000), 0);
	}

	/* a backlog: D sends far past its quota (500 ops/s, and a record
	 * costs at least 100), so its submit topic is paused; ingest's lag
	 * shows it, then drains */
	{
		struct fed_op *ops = calloc(FLOOD_OPS, sizeof(*ops));
		char ref[32];
		double lag = 0, t0;

		assert_non_null(ops);
		bytes0 = fed_metric(s0, "deconf_state_bytes", NULL);
		for (int i = 0; i < FLOOD_SUBS; i++) {
			snprintf(ref, sizeof(ref), "D-%d", i);
			for (int j = 0; j < FLOOD_OPS; j++) {
				memset(&ops[j], 0, sizeof(ops[j]));
				ops[j].op = ADD;
				ops[j].case_ref = ref;
				ops[j].type = MD5;
				fed_token(&w.f, TOK_FLOOD + (uint32_t)(i * FLOOD_OPS + j), ops[j].token);
			}
			assert_int_equal(fed_submit(&w.f, w.d, ops, FLOOD_OPS, NULL), 0);
		}
		assert_int_equal(fed_flush(&w.f), 0);
		free(ops);
		snprintf(series, sizeof(series),
			 "deconf_consumer_lag{part=\"ingest\",topic=\"%ssubmit.%s\",partition=\"0\"}",
			 w.f.prefix, w.f.ag[w.d].id);
		t0 = now_s();
		while (lag <= 0 && now_s() - t0 < 30) {
			char *text = scrape(w.port);
			lag = fed_metric(text, series, NULL);
			free(text);
			if (lag <= 0)
				usleep(200000);
		}
		if (lag <= 0)
			fail_msg("%s never rose while D's topic was paused (30 s)", series);
		print_message("D over its quota: %s = %.0f\n", series, lag);
		moved_get(moved, n_moved, "deconf_consumer_lag")->ok = 1;
		assert_int_equal(fed_wait_processed(&w.f, 120000), 0);
		/* and back to nothing once drained */
		wait_metric(w.port, series, '=', 0, 20, "D's backlog drained");
	}

	/* every entry counted (A-E expired, A-2 refused; the hot token's
	 * three, D's) */
	entries = 3 + FLOOD_SUBS * FLOOD_OPS;
	wait_metric(w.port, "deconf_state_entries", '=', entries, 20, "the state's entries");
	moved_get(moved, n_moved, "deconf_state_entries")->ok =
		fed_metric(s0, "deconf_state_entries", NULL) != entries;
	wait_metric(w.port, "deconf_state_bytes", '>', bytes0, 20, "the state's bytes");
	moved_get(moved, n_moved, "deconf_state_bytes")->ok = 1;
	s1 = scrape(w.port);
	check_desk(&w);

	/* the counters and histograms: each moved, by exactly what happened
	 * where that is known */
	{
		static const struct {
			const char *series;
			double by;
		} exact[] = {
			{ "deconf_conflicts_total", 1 },
			{ "deconf_hot_tokens_total", 1 },
			{ "deconf_expired_total{kind=\"warning\"}", 1 },
			{ "deconf_expired_total{kind=\"expired\"}", 1 },
		};
		for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
			int found0, found1;
			double v0 = fed_metric(s0, exact[i].series, &found0);
			double v1 = fed_metric(s1, exact[i].series, &found1);
			if (!found1 || v1 - v0 != exact[i].by)
				fail_msg("%s went from %g to %s%g: by %g expected", exact[i].series,
					 v0, found1 ? "" : "(absent) ", v1, exact[i].by);
		}
		snprintf(series, sizeof(series),
			 "deconf_rejects_total{agency=\"%s\",reason=\"malformed\"}", w.f.ag[w.b].id);
		if (fed_metric(s1, series, NULL) != 2)
			fail_msg("%s is %g, not 2", series, fed_metric(s1, series, NULL));
		snprintf(series, sizeof(series), "deconf_ops_total{agency=\"%s\",op=\"add\"}",
			 w.f.ag[w.d].id);
		if (fed_metric(s1, series, NULL) != FLOOD_SUBS * FLOOD_OPS)
			fail_msg("%s is %g, not %d", series, fed_metric(s1, series, NULL),
				 FLOOD_SUBS * FLOOD_OPS);
		snprintf(series, sizeof(series), "deconf_ingest_throttled_total{agency=\"%s\"}",
			 w.f.ag[w.d].id);
		if (fed_metric(s1, series, NULL) <= 0)
			fail_msg("%s is %g: D was never paused", series,
				 fed_metric(s1, series, NULL));
	}
	for (size_t i = 0; i < n_moved; i++) {
		double v0 = family_value(s0, moved[i].name, &n0), v1 = family_value(s1, moved[i].name,
										      &n);
		if (moved[i].ok || n == 0)
			continue;
		moved[i].ok = v1 > v0;
	}

	/* a restart with the state wiped: rebuilt from the changelog */
	broker_stop(&w);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/state-a'", w.f.dir);
	assert_int_equal(system(cmd), 0);
	broker_start(&w);
	wait_metric(w.port, "deconf_restored_records_total", '>', 0, 30, "the rebuild");
	moved_get(moved, n_moved, "deconf_restored_records_total")->ok = 1;
	wait_metric(w.port, "deconf_state_entries", '=', entries, 20, "the rebuilt state");

	/* deconf.ops: the hot token, the repeated rejects, the rebuild; each
	 * signed by the broker */
	fed_token(&w.f, TOK_HOT, tok_hot);
	for (double t0 = now_s(); !rebuild && now_s() - t0 < 60; usleep(200000)) {
		free(ev);
		ev = NULL;
		n_ev = bad = 0;
		hot = repeated = rebuild = 0;
		assert_int_equal(fed_read_ops(&w.f, &ev, &n_ev, &bad, 10000), 0);
		for (size_t i = 0; i < n_ev; i++) {
			if (ev[i].kind == OPS(HOT_TOKEN) && !memcmp(ev[i].token, tok_hot, 16))
				hot++;
			if (ev[i].kind == OPS(REPEATED_REJECTS) &&
			    !strcmp(ev[i].agency, w.f.ag[w.b].id) && ev[i].count >= 2)
				repeated++;
			if (ev[i].kind == OPS(STATE_REBUILD))
				rebuild++;
		}
	}
	for (size_t i = 0; i < n_ev; i++)
		print_message("ops event: kind %d, agency '%s', count %llu: %s\n", ev[i].kind,
			      ev[i].agency, (unsigned long long)ev[i].count, ev[i].detail);
	free(ev);
	assert_int_equal(bad, 0);
	if (hot != 1)
		fail_msg("%d hot token ops events for the hot token, not 1", hot);
	if (repeated != 1)
		fail_msg("%d repeated_rejects ops events for %s, not 1", repeated, w.f.ag[w.b].id);
	if (rebuild < 1)
		fail_msg("no state_rebuild ops event 60 s after the restart with a wiped state");

	/* every name the dashboard charts: exported, and moved */
	for (int i = 0; i < names.n; i++) {
		struct moved *m = moved_get(moved, n_moved, names.v[i]);
		char type[96];

		snprintf(type, sizeof(type), "# TYPE %s ", names.v[i]);
		if (!strstr(s1, type))
			fail_msg("the dashboard charts %s: the broker has no such metric", names.v[i]);
		family_value(s1, names.v[i], &n);
		if (n == 0)
			fail_msg("the dashboard charts %s: /metrics has no series of it", names.v[i]);
		if (!m)
			fail_msg("the dashboard charts %s: this test has no event that moves it "
				 "(add one)",
				 names.v[i]);
		if (!m->ok)
			fail_msg("the dashboard charts %s: it did not move (%s)", names.v[i], m->how);
		print_message("%-40s exported, moved (%s)\n", names.v[i], m->how);
	}
	free(s0);
	free(s1);
	broker_stop(&w);
	snprintf(cmd, sizeof(cmd), "grep -q 'Sanitizer\\|runtime error' '%s'", w.log);
	if (system(cmd) == 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", w.log);
		assert_int_equal(system(cmd), 0);
		fail_msg("sanitizer report in %s", w.log);
	}
	fed_free(&w.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dashboard),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP"))) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set (tests/run.sh starts Kafka): skipped\n");
		return 77;
	}
	atexit(kill_broker);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
