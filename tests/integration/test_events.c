/*
 * test_events.c — event deconfliction on the real Kafka and the real
 * broker, from signed submissions of event cells (what the adapter makes of
 * an event's place: docs/event-cells.md).
 *
 * deconf.tokens has 4 partitions here, so an event's cells, were they keyed
 * by token, would land on several of them. Checked, each from every
 * agency's notices topic, signatures verified:
 *   - two events sharing four COVER cells in overlapping windows are ONE
 *     conflict: one notice each, urgent, with the counterpart's event kind
 *     and window, the recipient's own kind and a distance band;
 *   - an event whose window starts as the other's ends, and one holding a
 *     shared cell only as a PARENT, conflict with nothing;
 *   - a larger event (one level coarser) whose COVER cell is another's
 *     PARENT conflicts with it;
 *   - a RESTRICTED event is told, the other side is not;
 *   - a cancelled event (its case closed) conflicts no more;
 *   - an event cell without its window, or in a case that is no event, is
 *     refused (INVALID_OP) and changes nothing.
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
#include "deconf/util.h"
#include "fed.h"

#define K(x) DECONF__V1__##x
#define CELL K(INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL)
#define COVER K(CELL_ROLE__CELL_ROLE_COVER)
#define PARENT K(CELL_ROLE__CELL_ROLE_PARENT)
#define WARRANT K(EVENT_KIND__EVENT_KIND_SEARCH_WARRANT)
#define MEET K(EVENT_KIND__EVENT_KIND_UNDERCOVER_MEET)
#define SURV K(EVENT_KIND__EVENT_KIND_SURVEILLANCE)
#define CONFLICT K(NOTICE_KIND__NOTICE_KIND_CONFLICT)
#define RMATCH K(NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH)
#define ACTIVE K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE)
#define HOUR 3600000LL

static const char *bootstrap;
static pid_t broker_pid;

static void kill_broker(void)
{
	if (broker_pid > 0)
		kill(broker_pid, SIGKILL);
}

/* An event: cells (tokens numbered tok[i]) of one role and level. */
struct event {
	const char *ref;
	int kind, visibility;
	int64_t from, to;
	uint32_t level;
	int role;
	const uint32_t *tok;
	size_t n;
	const char *poc;
};

static void submit_event(struct fed *f, int a, const struct event *e)
{
	struct fed_op o[8];

	assert_true(e->n <= 8);
	memset(o, 0, sizeof(o));
	for (size_t i = 0; i < e->n; i++) {
		o[i].op = K(OP__OP_ADD);
		o[i].case_ref = e->ref;
		o[i].type = CELL;
		o[i].visibility = e->visibility;
		o[i].valid_from = e->from;
		o[i].valid_to = e->to;
		o[i].expires_at = e->to;
		o[i].poc_name = e->poc;
		o[i].event_kind = e->kind;
		o[i].cell_role = e->role;
		o[i].cell_level = e->level;
		fed_token(f, e->tok[i], o[i].token);
	}
	assert_int_equal(fed_submit(f, a, o, e->n, NULL), 0);
	assert_int_equal(fed_flush(f), 0);
}

/* The notices agency a has; *n of them (caller frees). */
static struct fed_notice *notices(const struct fed *f, int a, size_t *n)
{
	struct fed_notice *v = NULL;
	size_t bad = 0;

	*n = 0;
	assert_int_equal(fed_read_notices(f, f->ag[a].id, &v, n, &bad, 10000), 0);
	assert_int_equal(bad, 0);
	return v;
}

/* How many notices of kind agency a has about cp_agency (NULL: anyone). */
static size_t count(const struct fed_notice *v, size_t n, int kind, const char *cp)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += v[i].kind == kind && (!cp || !strcmp(v[i].cp_agency, cp));
	return c;
}

static const struct fed_notice *find(const struct fed_notice *v, size_t n, const char *cp)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].cp_agency, cp))
			return &v[i];
	return NULL;
}

static void test_events(void **state)
{
	struct fed f;
	char conf[256], log[300];
	int a, b, c, d, e;
	int64_t t0 = deconf_now_ms() + 24 * HOUR;
	struct fed_notice *v;
	size_t n;
	const struct fed_notice *x;
	uint32_t cells_a[] = { 1, 2, 3, 4, 5, 6 }, parent_a[] = { 100 };
	uint32_t cells_b[] = { 3, 4, 5, 6, 7, 8 };
	uint32_t cells_c[] = { 1, 2 }, parent_c[] = { 100 }, cover_c[] = { 100 };
	uint32_t cells_d[] = { 7 }, cells_e[] = { 1, 2 };

	(void)state;
	assert_int_equal(fed_new(&f, bootstrap, 4), 0);
	a = fed_agency(&f, "fbi-cac", "FBI Child Exploitation", K(AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL),
		       "US", ACTIVE);
	b = fed_agency(&f, "tx-icac", "Texas ICAC Task Force", K(AGENCY_LEVEL__AGENCY_LEVEL_STATE),
		       "US", ACTIVE);
	c = fed_agency(&f, "navajo-pd", "Navajo Nation Police", K(AGENCY_LEVEL__AGENCY_LEVEL_TRIBAL),
		       "US", ACTIVE);
	d = fed_agency(&f, "hsi-ops", "HSI Operations", K(AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL), "US",
		       ACTIVE);
	e = fed_agency(&f, "dallas-pd", "Dallas Police", K(AGENCY_LEVEL__AGENCY_LEVEL_LOCAL), "US",
		       ACTIVE);
	assert_true(a >= 0 && b >= 0 && c >= 0 && d >= 0 && e >= 0);
	assert_int_equal(fed_broker_conf(&f, "1", NULL, conf, sizeof(conf)), 0);
	snprintf(log, sizeof(log), "%s/broker.log", f.dir);
	assert_true((broker_pid = fed_broker_start(BROKER_BIN, conf, log)) > 0);

	/* A's warrant service: six cells at level 14, their parent at 13 */
	submit_event(&f, a, &(struct event){ "EV-A", WARRANT, 0, t0, t0 + 3 * HOUR, 14, COVER,
					     cells_a, 6, "SA Reyes" });
	submit_event(&f, a, &(struct event){ "EV-A", WARRANT, 0, t0, t0 + 3 * HOUR, 13, PARENT,
					     parent_a, 1, "SA Reyes" });
	/* B's undercover meet: four cells shared, an hour into A's window */
	submit_event(&f, b, &(struct event){ "EV-B", MEET, 0, t0 + HOUR, t0 + 2 * HOUR, 14, COVER,
					     cells_b, 6, "Sgt. Ortiz" });
	/* C: a surveillance on A's cells from the minute A's window ends, and
	 * another holding A's parent cell as a PARENT only: nothing */
	submit_event(&f, c, &(struct event){ "EV-C1", SURV, 0, t0 + 3 * HOUR, t0 + 5 * HOUR, 14,
					     COVER, cells_c, 2, "Ofc. Begay" });
	submit_event(&f, c, &(struct event){ "EV-C2", SURV, 0, t0, t0 + HOUR, 13, PARENT, parent_c,
					     1, "Ofc. Begay" });
	assert_int_equal(fed_wait_processed(&f, 60000), 0);

	v = notices(&f, a, &n);
	assert_int_equal(n, 1);
	assert_int_equal(count(v, n, CONFLICT, "tx-icac"), 1);
	x = &v[0];
	assert_int_equal(x->type, CELL);
	assert_int_equal(x->urgent, 1);
	assert_int_equal(x->event_kind, WARRANT);
	assert_int_equal(x->cp_event_kind, MEET);
	assert_true(x->cp_window_from == t0 + HOUR && x->cp_window_to == t0 + 2 * HOUR);
	assert_int_equal(x->band_m, 2415); /* level 14: radii up to 734 m, cells 948 m across */
	assert_string_equal(x->cp_case, "EV-B");
	assert_string_equal(x->cp_poc, "Sgt. Ortiz");
	free(v);
	v = notices(&f, b, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].kind, CONFLICT);
	assert_int_equal(v[0].cp_event_kind, WARRANT);
	assert_true(v[0].cp_window_from == t0 && v[0].cp_window_to == t0 + 3 * HOUR);
	assert_string_equal(v[0].cp_poc, "SA Reyes");
	free(v);
	v = notices(&f, c, &n);
	assert_int_equal(n, 0);
	free(v);

	/* C's larger event: its own COVER cell is A's PARENT (and its own
	 * other event's PARENT, but that is its own agency) */
	submit_event(&f, c, &(struct event){ "EV-C3", SURV, 0, t0 + 2 * HOUR, t0 + 4 * HOUR, 13,
					     COVER, cover_c, 1, "Ofc. Begay" });
	/* D: a RESTRICTED operation on B's cell 7 */
	submit_event(&f, d, &(struct event){ "EV-D", SURV, K(VISIBILITY__VISIBILITY_RESTRICTED),
					     t0, t0 + 6 * HOUR, 14, COVER, cells_d, 1, "SA Kim" });
	assert_int_equal(fed_wait_processed(&f, 60000), 0);
	v = notices(&f, c, &n);
	assert_int_equal(n, 1);
	assert_non_null(x = find(v, n, "fbi-cac"));
	assert_string_equal(x->cp_case, "EV-A");
	assert_true(x->band_m > 0);
	free(v);
	v = notices(&f, d, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].kind, RMATCH);
	assert_string_equal(v[0].cp_agency, "tx-icac");
	free(v);
	v = notices(&f, b, &n);
	assert_int_equal(n, 1); /* told nothing of the restricted one */
	free(v);
	v = notices(&f, a, &n);
	assert_int_equal(n, 2); /* B's, and C's larger event */
	free(v);

	/* A cancels its warrant; E's event on A's cells meets nobody */
	{
		struct fed_op o;
		memset(&o, 0, sizeof(o));
		o.op = K(OP__OP_CLOSE_CASE);
		o.case_ref = "EV-A";
		o.no_token = 1;
		assert_int_equal(fed_submit(&f, a, &o, 1, NULL), 0);
		assert_int_equal(fed_flush(&f), 0);
	}
	assert_int_equal(fed_wait_processed(&f, 60000), 0);
	submit_event(&f, e, &(struct event){ "EV-E", WARRANT, 0, t0, t0 + HOUR, 14, COVER, cells_e,
					     2, "Det. Lee" });
	/* refused: a cell without a window, and a cell in a case */
	{
		struct fed_op o;
		struct fed_reject *rj = NULL;
		size_t nr = 0, bad = 0;
		memset(&o, 0, sizeof(o));
		o.op = K(OP__OP_ADD);
		o.case_ref = "EV-E2";
		o.type = CELL;
		o.event_kind = WARRANT;
		o.cell_role = COVER;
		o.cell_level = 14;
		fed_token(&f, 3, o.token);
		assert_int_equal(fed_submit(&f, e, &o, 1, NULL), 0);
		o.event_kind = 0;
		o.case_ref = "CASE-9";
		o.valid_from = t0;
		o.valid_to = t0 + HOUR;
		assert_int_equal(fed_submit(&f, e, &o, 1, NULL), 0);
		assert_int_equal(fed_flush(&f), 0);
		assert_int_equal(fed_wait_processed(&f, 60000), 0);
		assert_int_equal(fed_read_rejects(&f, "dallas-pd", &rj, &nr, &bad, 10000), 0);
		assert_int_equal(nr, 2);
		for (size_t i = 0; i < nr; i++)
			assert_int_equal(rj[i].reason, K(REJECT_REASON__REJECT_REASON_INVALID_OP));
		free(rj);
	}
	v = notices(&f, e, &n);
	assert_int_equal(n, 0);
	free(v);
	v = notices(&f, a, &n);
	assert_int_equal(n, 2);
	free(v);

	assert_int_equal(fed_broker_stop(broker_pid), 0);
	broker_pid = 0;
	fed_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP")) || !*bootstrap) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set: skipped\n");
		return 77;
	}
	atexit(kill_broker);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
