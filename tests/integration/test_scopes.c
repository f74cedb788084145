/*
 * test_scopes.c — sharing scopes on the real Kafka and the real broker:
 * the four agencies of README's worked example, each pair holding one
 * indicator of its own.
 *
 *   us-fbi     federal, US   discloses to US partners only ("country:US")
 *   tx-icac    state, US     open (no scope)
 *   navajo-pd  tribal, US    all but tx-icac, names its liaison
 *   uk-nca     GB            hit / no hit only ("none,liaison")
 *
 * For every pair and each side: the exact notice it receives (a CONFLICT
 * with the counterpart's case and contact when the counterpart's scope lets
 * it in, else a SCOPED_MATCH with the pair's reference and, when allowed,
 * the liaison desk, never a case reference, investigator or flags),
 * signatures checked; one LIAISON ops event per pair across a scope, naming
 * both agencies and the same reference. Then navajo-pd opens its scope in
 * the directory: the broker, still running, applies it to the next
 * conflict. Every notice of every agency is read raw too: no withheld case
 * reference or investigator of one agency is in a topic another agency
 * reads.
 *
 * Then the same through the agencies' own adapters: an open agency's case
 * file gives one case disclose_to=country:US; a UK partner holding the
 * same values learns the other case, and gets a scoped match for that one.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP; exits 77 without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/envelope.h"
#include "deconf/util.h"
#include "fed.h"

#define K(x) DECONF__V1__##x
#define CONFLICT K(NOTICE_KIND__NOTICE_KIND_CONFLICT)
#define SCOPED K(NOTICE_KIND__NOTICE_KIND_SCOPED_MATCH)
#define ACTIVE K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)
#define PHONE K(INDICATOR_TYPE__INDICATOR_TYPE_PHONE)

static const char *bootstrap;
static pid_t broker_pid;

static void kill_broker(void)
{
	if (broker_pid > 0)
		kill(broker_pid, SIGKILL);
}

enum { FBI, TX, NAVAJO, UK, N_AG };
static const char *const ids[N_AG] = { "us-fbi", "tx-icac", "navajo-pd", "uk-nca" };

/* Agency a's case of the indicator shared by pair p, and its investigator:
 * what a counterpart outside a's scope must never see. */
static void case_of(int a, int p, char *buf, size_t size)
{
	snprintf(buf, size, "%s-CASE-%d", ids[a], p);
}

static void poc_of(int a, char *buf, size_t size)
{
	snprintf(buf, size, "Investigator of %s", ids[a]);
}

static void add(struct fed *f, int a, int p, uint32_t tok)
{
	struct fed_op o;
	char ref[64], poc[64];

	memset(&o, 0, sizeof(o));
	case_of(a, p, ref, sizeof(ref));
	poc_of(a, poc, sizeof(poc));
	o.op = K(OP__OP_ADD);
	o.case_ref = ref;
	o.type = PHONE;
	o.flags = K(CAUTION_FLAG__CAUTION_ARMED);
	o.poc_name = poc;
	fed_token(f, tok, o.token);
	assert_int_equal(fed_submit(f, a, &o, 1, NULL), 0);
}

/* The notice agency `to` holds about pair p (its own case of it). */
static const struct fed_notice *notice_of(const struct fed_notice *v, size_t n, int to, int p)
{
	char ref[64];

	case_of(to, p, ref, sizeof(ref));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].case_ref, ref))
			return &v[i];
	return NULL;
}

/* What side `to` of pair (to, about) must have received. */
static void check_side(const struct fed_notice *x, int to, int about, int p, int learns,
		       const char *liaison)
{
	char ref[64], poc[64];

	assert_non_null(x);
	case_of(about, p, ref, sizeof(ref));
	poc_of(about, poc, sizeof(poc));
	if (learns) {
		assert_int_equal(x->kind, CONFLICT);
		assert_string_equal(x->cp_agency, ids[about]);
		assert_string_equal(x->cp_case, ref);
		assert_string_equal(x->cp_poc, poc);
		assert_false(x->has_pair);
		return;
	}
	assert_int_equal(x->kind, SCOPED);
	assert_true(x->has_pair);
	assert_string_equal(x->cp_case, "");
	assert_int_equal(x->cp_flags, 0);
	if (liaison) {
		assert_string_equal(x->cp_agency, ids[about]);
		assert_string_equal(x->cp_poc, liaison);
	} else {
		assert_string_equal(x->cp_agency, "");
		assert_string_equal(x->cp_poc, "");
	}
	(void)to;
}

static struct fed_notice *notices(const struct fed *f, int a, size_t *n)
{
	struct fed_notice *v = NULL;
	size_t bad = 0;

	*n = 0;
	assert_int_equal(fed_read_notices(f, f->ag[a].id, &v, n, &bad, 10000), 0);
	assert_int_equal(bad, 0);
	return v;
}

/* The LIAISON ops events: (agency, other agency, reference). */
struct liaison {
	char a[32], b[32];
	uint8_t ref[16];
};

static size_t liaisons(const struct fed *f, struct liaison *out, size_t max)
{
	char topic[128];
	size_t nr, n = 0;
	struct fed_raw *r = fed_read_raw(f, fed_topic(f, "ops", topic, sizeof(topic)), 1, &nr);

	for (size_t i = 0; i < nr; i++) {
		ProtobufCMessage *m = NULL;
		Deconf__V1__OpsEvent *ev;
		/* signed by the broker, like everything it writes for people */
		assert_int_equal(deconf_envelope_open(r[i].value, r[i].len, 1 << 20,
						      K(MESSAGE_TYPE__MESSAGE_TYPE_OPS_EVENT), f->key,
						      &deconf__v1__ops_event__descriptor, &m, NULL, 0),
				 0);
		ev = (Deconf__V1__OpsEvent *)m;
		if (ev->kind == K(OPS_KIND__OPS_KIND_LIAISON) && n < max) {
			assert_int_equal(ev->token.len, 0);
			assert_int_equal(ev->notice_id.len, 16);
			snprintf(out[n].a, sizeof(out[n].a), "%.*s", (int)ev->agency_id.len,
				 (const char *)ev->agency_id.data);
			snprintf(out[n].b, sizeof(out[n].b), "%.*s", (int)ev->other_agency_id.len,
				 (const char *)ev->other_agency_id.data);
			memcpy(out[n++].ref, ev->notice_id.data, 16);
		}
		deconf_msg_free(m);
	}
	fed_raw_free(r, nr);
	return n;
}

static const struct liaison *liaison_of(const struct liaison *v, size_t n, int a, int b)
{
	for (size_t i = 0; i < n; i++)
		if ((!strcmp(v[i].a, ids[a]) && !strcmp(v[i].b, ids[b])) ||
		    (!strcmp(v[i].a, ids[b]) && !strcmp(v[i].b, ids[a])))
			return &v[i];
	return NULL;
}

/* Wait until the broker's watch desk shows want (its directory read). */
static void wait_desk(int port, const char *want)
{
	char *page = NULL;

	for (int i = 0; i < 120; i++) {
		free(page);
		page = NULL;
		if (fed_http_get(port, "/desk", &page) == 200 && page && strstr(page, want)) {
			free(page);
			return;
		}
		usleep(250000);
	}
	free(page);
	fail_msg("the watch desk did not show %s within 30 s", want);
}

static void test_scopes(void **state)
{
	struct fed f;
	char conf[256], log[300], extra[64];
	int port = fed_free_port();
	/* the pairs, each its own indicator; who may learn whom */
	static const struct {
		int a, b;
	} pairs[] = { { FBI, TX }, { FBI, NAVAJO }, { FBI, UK },
		      { TX, NAVAJO }, { TX, UK }, { NAVAJO, UK } };
	/* learns[x][y]: x may learn y's details (y's scope lets x in) */
	static const int learns[N_AG][N_AG] = {
		/* about:  fbi tx navajo uk */
		[FBI] = { 0, 1, 1, 0 },
		[TX] = { 1, 0, 0, 0 },
		[NAVAJO] = { 1, 1, 0, 0 },
		[UK] = { 0, 1, 1, 0 },
	};
	static const char *const liaison[N_AG] = { NULL, NULL, "NNPD liaison desk",
						   "NCA International Crime Bureau" };
	struct fed_notice *v[N_AG];
	size_t nv[N_AG];
	struct liaison li[16];
	size_t nl;

	(void)state;
	assert_int_equal(fed_new(&f, bootstrap, 2), 0);
	assert_true(fed_agency(&f, ids[FBI], "FBI", K(AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL), "US",
			       ACTIVE) == FBI);
	assert_true(fed_agency(&f, ids[TX], "Texas ICAC", K(AGENCY_LEVEL__AGENCY_LEVEL_STATE),
			       "US", ACTIVE) == TX);
	assert_true(fed_agency(&f, ids[NAVAJO], "Navajo Nation PD",
			       K(AGENCY_LEVEL__AGENCY_LEVEL_TRIBAL), "US", ACTIVE) == NAVAJO);
	assert_true(fed_agency(&f, ids[UK], "National Crime Agency",
			       K(AGENCY_LEVEL__AGENCY_LEVEL_INTERNATIONAL), "GB", ACTIVE) == UK);
	assert_int_equal(fed_agency_publish(&f, FBI, ACTIVE, "country:US", NULL), 0);
	assert_int_equal(fed_agency_publish(&f, NAVAJO, ACTIVE, "!agency:tx-icac,liaison",
					    liaison[NAVAJO]),
			 0);
	assert_int_equal(fed_agency_publish(&f, UK, ACTIVE, "none,liaison", liaison[UK]), 0);
	snprintf(extra, sizeof(extra), "[http]\nport = %d\n", port);
	assert_int_equal(fed_broker_conf(&f, "1", extra, conf, sizeof(conf)), 0);
	snprintf(log, sizeof(log), "%s/broker.log", f.dir);
	assert_true((broker_pid = fed_broker_start(BROKER_BIN, conf, log)) > 0);
	/* the broker has read the scopes */
	wait_desk(port, "<td class=\"scope\">none,liaison</td>");

	for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
		add(&f, pairs[p].a, (int)p, 100 + (uint32_t)p);
		add(&f, pairs[p].b, (int)p, 100 + (uint32_t)p);
	}
	assert_int_equal(fed_flush(&f), 0);
	assert_int_equal(fed_wait_processed(&f, 60000), 0);

	for (int a = 0; a < N_AG; a++)
		v[a] = notices(&f, a, &nv[a]);
	for (int a = 0; a < N_AG; a++)
		assert_int_equal(nv[a], 3); /* one per pair it is in */
	nl = liaisons(&f, li, 16);
	assert_int_equal(nl, 4); /* fbi-uk, tx-navajo, tx-uk, navajo-uk */
	wait_desk(port, "<dd id=\"liaisons\">4</dd>"); /* counted for the watch desk */
	{
		/* and listed, with the reference both sides were given */
		const struct liaison *l = liaison_of(li, nl, FBI, UK);
		char want[256], hex[33];
		assert_non_null(l);
		for (int k = 0; k < 16; k++)
			snprintf(hex + 2 * k, 3, "%02x", l->ref[k]);
		snprintf(want, sizeof(want),
			 "</td><td>%.31s</td><td>%.31s</td><td class=\"mono\">%.32s</td>", l->a,
			 l->b, hex);
		wait_desk(port, want);
	}
	for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
		int a = pairs[p].a, b = pairs[p].b;
		const struct fed_notice *xa = notice_of(v[a], nv[a], a, (int)p);
		const struct fed_notice *xb = notice_of(v[b], nv[b], b, (int)p);
		const struct liaison *l = liaison_of(li, nl, a, b);

		check_side(xa, a, b, (int)p, learns[a][b], liaison[b]);
		check_side(xb, b, a, (int)p, learns[b][a], liaison[a]);
		if (learns[a][b] && learns[b][a]) {
			assert_null(l);
			continue;
		}
		assert_non_null(l);
		if (!learns[a][b])
			assert_memory_equal(xa->pair_ref, l->ref, 16);
		if (!learns[b][a])
			assert_memory_equal(xb->pair_ref, l->ref, 16);
	}

	{
		/* raw: no withheld case reference or investigator in the
		 * notices topic of an agency that may not learn it */
		for (int a = 0; a < N_AG; a++) {
			char topic[128], name[64];
			size_t nr;
			struct fed_raw *r;
			snprintf(name, sizeof(name), "notices.%s", ids[a]);
			r = fed_read_raw(&f, fed_topic(&f, name, topic, sizeof(topic)), 1, &nr);
			assert_true(nr >= 3);
			for (int b = 0; b < N_AG; b++) {
				char ref[64], poc[64];
				if (b == a || learns[a][b])
					continue;
				poc_of(b, poc, sizeof(poc));
				for (size_t i = 0; i < nr; i++) {
					assert_null(memmem(r[i].value, r[i].len, poc, strlen(poc)));
					for (int p = 0; p < 6; p++) {
						case_of(b, p, ref, sizeof(ref));
						assert_null(memmem(r[i].value, r[i].len, ref,
								   strlen(ref)));
					}
				}
			}
			fed_raw_free(r, nr);
		}
	}
	for (int a = 0; a < N_AG; a++)
		free(v[a]);

	/* navajo-pd opens its scope; the running broker applies it to the
	 * next conflict with tx-icac */
	assert_int_equal(fed_agency_publish(&f, NAVAJO, ACTIVE, NULL, NULL), 0);
	wait_desk(port, "Navajo Nation PD</td><td>tribal</td><td>US</td><td class=\"ok\">active"
			"</td><td class=\"scope\">all</td>");
	add(&f, TX, 7, 200);
	add(&f, NAVAJO, 7, 200);
	assert_int_equal(fed_flush(&f), 0);
	assert_int_equal(fed_wait_processed(&f, 60000), 0);
	v[TX] = notices(&f, TX, &nv[TX]);
	check_side(notice_of(v[TX], nv[TX], TX, 7), TX, NAVAJO, 7, 1, NULL);
	free(v[TX]);
	v[NAVAJO] = notices(&f, NAVAJO, &nv[NAVAJO]);
	check_side(notice_of(v[NAVAJO], nv[NAVAJO], NAVAJO, 7), NAVAJO, TX, 7, 1, NULL);
	free(v[NAVAJO]);
	assert_int_equal(liaisons(&f, li, 16), 4); /* no new one */
	wait_desk(port, "<dd id=\"liaisons\">4</dd>");

	assert_int_equal(fed_broker_stop(broker_pid), 0);
	broker_pid = 0;
	fed_free(&f);
}

/* A case file's disclose_to narrows its open agency's scope, end to end
 * through deconf-adapter on both sides. */
static void test_case_scope_from_file(void **state)
{
	struct fed f;
	char conf[256], log[300], *out = NULL;
	struct fed_notice *v;
	size_t n;
	int tx, uk, seen_scoped = 0, seen_open = 0;

	(void)state;
	assert_int_equal(fed_new(&f, bootstrap, 2), 0);
	f.adapter_bin = ADAPTER_BIN;
	tx = fed_agency(&f, "tx-icac", "Texas ICAC", K(AGENCY_LEVEL__AGENCY_LEVEL_STATE), "US",
			ACTIVE);
	uk = fed_agency(&f, "uk-nca", "National Crime Agency",
			K(AGENCY_LEVEL__AGENCY_LEVEL_INTERNATIONAL), "GB", ACTIVE);
	assert_true(tx >= 0 && uk >= 0);
	assert_int_equal(fed_adapter_setup(&f, tx, NULL), 0);
	assert_int_equal(fed_adapter_setup(&f, uk, NULL), 0);
	assert_int_equal(fed_broker_conf(&f, "1", NULL, conf, sizeof(conf)), 0);
	snprintf(log, sizeof(log), "%s/broker.log", f.dir);
	assert_true((broker_pid = fed_broker_start(BROKER_BIN, conf, log)) > 0);

	assert_int_equal(fed_adapter_file(&f, tx, "tx.csv",
					  "case_ref,type,value,poc_name,disclose_to\n"
					  "TX-DOMESTIC,email,narrow.target@example.org,Sgt. Narrow,"
					  "country:US\n"
					  "TX-OPEN,email,open.target@example.org,Sgt. Open,\n",
					  NULL, 0),
			 0);
	assert_int_equal(fed_adapter(&f, tx, &out, "submit tx.csv"), 0);
	free(out);
	assert_int_equal(fed_adapter_file(&f, uk, "uk.csv",
					  "case_ref,type,value,poc_name\n"
					  "UK-1,email,narrow.target@example.org,DC Holmes\n"
					  "UK-2,email,open.target@example.org,DC Holmes\n",
					  NULL, 0),
			 0);
	assert_int_equal(fed_adapter(&f, uk, &out, "submit uk.csv"), 0);
	free(out);
	assert_int_equal(fed_wait_processed(&f, 60000), 0);

	v = notices(&f, uk, &n);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v[i].case_ref, "UK-1")) {
			seen_scoped = 1;
			assert_int_equal(v[i].kind, SCOPED);
			assert_string_equal(v[i].cp_case, "");
			assert_string_equal(v[i].cp_poc, "");
		} else {
			seen_open = 1;
			assert_int_equal(v[i].kind, CONFLICT);
			assert_string_equal(v[i].cp_case, "TX-OPEN");
			assert_string_equal(v[i].cp_poc, "Sgt. Open");
		}
	}
	assert_true(seen_scoped && seen_open);
	free(v);
	/* the UK partner's adapter explains it in words */
	assert_int_equal(fed_adapter(&f, uk, &out, "notices"), 0);
	assert_non_null(strstr(out, "a partner outside your sharing scope"));
	assert_null(strstr(out, "TX-DOMESTIC"));
	assert_null(strstr(out, "Sgt. Narrow"));
	free(out);

	assert_int_equal(fed_broker_stop(broker_pid), 0);
	broker_pid = 0;
	fed_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_case_scope_from_file),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP")) || !*bootstrap) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set: skipped\n");
		return 77;
	}
	atexit(kill_broker);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
