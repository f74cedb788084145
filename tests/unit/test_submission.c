/* test_submission.c — ingest's decision on each record, and token ops. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/scope.h"
#include "submission.h"

#define R(x) DECONF__V1__REJECT_REASON__REJECT_REASON_##x
#define T(x) DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_##x
#define OP(x) DECONF__V1__OP__OP_##x

#define NOW 1764400000000LL /* the tests' clock; submissions are made at 1764300000000 */

static struct deconf_sign_key *fed, *agency_key, *other_key;
static struct brk_directory *dir;

static void add_agency(const char *id, int status)
{
	Deconf__V1__DirectoryEntry e = DECONF__V1__DIRECTORY_ENTRY__INIT;
	uint8_t pub[DECONF_PUBKEY_LEN], *buf;
	size_t len;
	char errstr[256];

	deconf_sign_key_public(agency_key, pub);
	e.agency_id.data = (uint8_t *)id;
	e.agency_id.len = strlen(id);
	e.name = "Agency";
	e.country = "US";
	e.signing_public_key.data = pub;
	e.signing_public_key.len = sizeof(pub);
	e.status = status;
	assert_int_equal(deconf_envelope_seal(&e.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY,
					      "federation", fed, &buf, &len),
			 0);
	assert_int_equal(brk_directory_apply(dir, id, strlen(id), buf, len, errstr,
					     sizeof(errstr)),
			 0);
	free(buf);
}

static int group_setup(void **state)
{
	if (deconf_sign_key_generate(&fed, NULL, 0) ||
	    deconf_sign_key_generate(&agency_key, NULL, 0) ||
	    deconf_sign_key_generate(&other_key, NULL, 0) || brk_directory_new(&dir, fed))
		return -1;
	add_agency("agency-a", DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE);
	add_agency("agency-s", DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_SUSPENDED);
	return 0;
}

static int group_teardown(void **state)
{
	brk_directory_free(dir);
	deconf_sign_key_free(fed);
	deconf_sign_key_free(agency_key);
	deconf_sign_key_free(other_key);
	return 0;
}

/* A valid submission of agency-a: two ops, three tokens. Tests bend it. */
struct subm {
	Deconf__V1__Submission sub;
	Deconf__V1__CaseOp op[2], *ops[2];
	Deconf__V1__TokenRef tr[3], *trs0[2], *trs1[1];
	Deconf__V1__PointOfContact poc;
	uint8_t id[16], tok[3][16];
};

static void subm_init(struct subm *s)
{
	memset(s, 0, sizeof(*s));
	deconf__v1__submission__init(&s->sub);
	deconf__v1__point_of_contact__init(&s->poc);
	s->poc.name = "Det. Ada";
	memset(s->id, 0x11, 16);
	s->sub.agency_id.data = (uint8_t *)"agency-a";
	s->sub.agency_id.len = 8;
	s->sub.submission_id.data = s->id;
	s->sub.submission_id.len = 16;
	s->sub.created_at = 1764300000000;
	for (int i = 0; i < 2; i++) {
		deconf__v1__case_op__init(&s->op[i]);
		s->ops[i] = &s->op[i];
		s->op[i].op = OP(ADD);
		s->op[i].poc = &s->poc;
	}
	s->op[0].case_ref.data = (uint8_t *)"CASE-1";
	s->op[0].case_ref.len = 6;
	s->op[1].case_ref.data = (uint8_t *)"CASE-2";
	s->op[1].case_ref.len = 6;
	s->op[1].caution_flags = DECONF__V1__CAUTION_FLAG__CAUTION_ARMED;
	for (int i = 0; i < 3; i++) {
		deconf__v1__token_ref__init(&s->tr[i]);
		memset(s->tok[i], i + 1, 16);
		s->tr[i].token.data = s->tok[i];
		s->tr[i].token.len = 16;
		s->tr[i].key_epoch = 1;
		s->tr[i].type = T(EMAIL);
	}
	s->tr[2].type = T(IP);
	s->tr[2].valid_from = 1000;
	s->tr[2].valid_to = 2000;
	s->trs0[0] = &s->tr[0];
	s->trs0[1] = &s->tr[1];
	s->trs1[0] = &s->tr[2];
	s->op[0].tokens = s->trs0;
	s->op[0].n_tokens = 2;
	s->op[1].tokens = s->trs1;
	s->op[1].n_tokens = 1;
	s->sub.ops = s->ops;
	s->sub.n_ops = 2;
}

static void check_sub(struct subm *s, const struct deconf_sign_key *key, const char *agency,
		      struct brk_check *c)
{
	uint8_t *buf;
	size_t len;

	assert_int_equal(deconf_envelope_seal(&s->sub.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
					      "agency-a", key, &buf, &len),
			 0);
	assert_int_equal(brk_submission_check(dir, agency, strlen(agency), buf, len, 2 << 20, NOW, c),
			 0);
	free(buf);
}

static void expect(struct subm *s, int reason, int op_index)
{
	struct brk_check c;

	check_sub(s, agency_key, "agency-a", &c);
	if (c.reason != reason)
		fail_msg("reason %s (%s), expected %s", brk_reject_reason_name(c.reason), c.detail,
			 brk_reject_reason_name(reason));
	assert_int_equal(c.op_index, op_index);
	assert_true(reason == 0 ? c.sub != NULL : c.sub == NULL);
	/* a parsed submission is named, refused or not */
	if (reason != R(MALFORMED) || op_index >= 0) {
		assert_int_equal(c.id_len, 16);
		assert_memory_equal(c.id, s->id, 16);
	}
	if (reason)
		assert_true(c.detail[0] != '\0');
	deconf_msg_free(c.sub);
}

struct collected {
	Deconf__V1__TokenOp ops[8];
	uint8_t tokens[8][16];
	size_t n;
};

static int collect(void *opaque, const Deconf__V1__TokenOp *op)
{
	struct collected *c = opaque;

	assert_true(c->n < 8);
	c->ops[c->n] = *op;
	if (op->token.len)
		memcpy(c->tokens[c->n], op->token.data, 16);
	c->n++;
	return 0;
}

static void test_accepted_and_token_ops(void **state)
{
	struct subm s;
	struct brk_check c;
	struct collected col = { .n = 0 };

	subm_init(&s);
	check_sub(&s, agency_key, "agency-a", &c);
	assert_int_equal(c.reason, 0);
	assert_non_null(c.sub);
	assert_int_equal(brk_submission_token_ops(c.sub, 42, collect, &col), 0);
	assert_int_equal(col.n, 3);
	assert_memory_equal(col.tokens[0], s.tok[0], 16);
	assert_memory_equal(col.tokens[2], s.tok[2], 16);
	assert_int_equal(col.ops[2].type, T(IP));
	assert_int_equal(col.ops[2].valid_from, 1000);
	assert_int_equal(col.ops[2].valid_to, 2000);
	assert_int_equal(col.ops[2].caution_flags, DECONF__V1__CAUTION_FLAG__CAUTION_ARMED);
	assert_int_equal(col.ops[2].op_index, 1);
	assert_int_equal(col.ops[0].op, OP(ADD));
	assert_int_equal(col.ops[0].ingested_at, 42);
	assert_int_equal(col.ops[0].submitted_at, 1764300000000);
	assert_int_equal(col.ops[0].visibility, DECONF__V1__VISIBILITY__VISIBILITY_NORMAL);
	deconf_msg_free(c.sub);

	/* close_case without tokens: one op, empty token, for every partition */
	subm_init(&s);
	s.op[1].op = OP(CLOSE_CASE);
	s.op[1].n_tokens = 0;
	check_sub(&s, agency_key, "agency-a", &c);
	assert_int_equal(c.reason, 0);
	col.n = 0;
	assert_int_equal(brk_submission_token_ops(c.sub, 1, collect, &col), 0);
	assert_int_equal(col.n, 3);
	assert_int_equal(col.ops[2].op, OP(CLOSE_CASE));
	assert_int_equal(col.ops[2].token.len, 0);
	assert_int_equal(col.ops[2].n_close_cases, 0);
	deconf_msg_free(c.sub);
}

/*
 * Consecutive closes without tokens are packed: closing 600 cases is a few
 * token ops (each sent to every partition), not 600; an op in between
 * keeps the order; a packed op stays within DECONF_TOKEN_OP_MAX.
 */
struct packed {
	size_t ops, cases, largest;
	uint32_t last_index;
	int order_ok;
};

static int count_packed(void *o, const Deconf__V1__TokenOp *op)
{
	struct packed *p = o;
	size_t len = deconf__v1__token_op__get_packed_size(op);

	p->ops++;
	p->cases += op->n_close_cases ? op->n_close_cases : 1;
	if (len > p->largest)
		p->largest = len;
	if (op->op_index < p->last_index)
		p->order_ok = 0;
	p->last_index = op->op_index;
	/* a packed op names no case of its own and lists its cases */
	if (op->n_close_cases)
		assert_true(!op->case_ref.len && !op->token.len && op->n_close_cases > 1);
	return 0;
}

static void test_closes_packed(void **state)
{
	enum { N = 600 };
	static Deconf__V1__CaseOp ops[N], *pops[N];
	static char refs[N][130];
	Deconf__V1__TokenRef tr = DECONF__V1__TOKEN_REF__INIT, *ptr = &tr;
	Deconf__V1__Submission sub = DECONF__V1__SUBMISSION__INIT;
	struct packed p = { .order_ok = 1 };
	uint8_t tok[16] = { 7 };

	(void)state;
	for (int i = 0; i < N; i++) {
		deconf__v1__case_op__init(&ops[i]);
		ops[i].op = OP(CLOSE_CASE);
		/* long refs: packing stops at its byte budget */
		snprintf(refs[i], sizeof(refs[i]), "%0120d", i);
		ops[i].case_ref.data = (uint8_t *)refs[i];
		ops[i].case_ref.len = strlen(refs[i]);
		pops[i] = &ops[i];
	}
	tr.token.data = tok;
	tr.token.len = 16;
	tr.key_epoch = 1;
	tr.type = T(MD5);
	ops[3].op = OP(REMOVE); /* between: 0..2 pack, 3 alone, 4..599 pack */
	ops[3].tokens = &ptr;
	ops[3].n_tokens = 1;
	sub.ops = pops;
	sub.n_ops = N;
	assert_int_equal(brk_submission_token_ops(&sub, 1, count_packed, &p), 0);
	assert_int_equal(p.cases, N);
	/* 596 cases of 123 bytes at 6 KiB a packed op: 13, and 2 more */
	assert_int_equal(p.ops, 1 + 1 + (596 + 48) / 49);
	assert_true(p.largest <= DECONF_TOKEN_OP_MAX);
	assert_true(p.order_ok);
}

static void test_refused_records(void **state)
{
	struct brk_check c;
	struct subm s;
	uint8_t *buf;
	size_t len;

	/* oversized: refused before any parsing */
	assert_int_equal(brk_submission_check(dir, "agency-a", 8, (const uint8_t *)"xxxx", 4, 3, NOW,
					      &c),
			 0);
	assert_int_equal(c.reason, R(OVERSIZED));
	assert_int_equal(brk_submission_check(dir, "agency-a", 8, (const uint8_t *)"", 0, 100, NOW,
					      &c),
			 0);
	assert_int_equal(c.reason, R(MALFORMED));
	assert_int_equal(brk_submission_check(dir, "agency-a", 8,
					      (const uint8_t *)"\xff\xff\xff\xff", 4, 100, NOW, &c),
			 0);
	assert_int_equal(c.reason, R(MALFORMED));

	subm_init(&s);
	check_sub(&s, agency_key, "nobody", &c);
	assert_int_equal(c.reason, R(UNKNOWN_AGENCY));
	check_sub(&s, agency_key, "agency-s", &c);
	assert_int_equal(c.reason, R(SUSPENDED_AGENCY));
	check_sub(&s, NULL, "agency-a", &c);
	assert_int_equal(c.reason, R(UNSIGNED));
	check_sub(&s, other_key, "agency-a", &c);
	assert_int_equal(c.reason, R(BAD_SIGNATURE));

	/* right key, wrong message type */
	assert_int_equal(deconf_envelope_seal(&s.sub.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT,
					      "agency-a", agency_key, &buf, &len),
			 0);
	assert_int_equal(brk_submission_check(dir, "agency-a", 8, buf, len, 1 << 20, NOW, &c), 0);
	assert_int_equal(c.reason, R(WRONG_TYPE));
	free(buf);
	/* a signed payload that is no Submission */
	assert_int_equal(deconf_envelope_pack(DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
					      (const uint8_t *)"\xff\xff\xff", 3, "agency-a",
					      agency_key, &buf, &len),
			 0);
	assert_int_equal(brk_submission_check(dir, "agency-a", 8, buf, len, 1 << 20, NOW, &c), 0);
	assert_int_equal(c.reason, R(MALFORMED));
	free(buf);
	/* a signed payload with a field this version does not know (tag 99) */
	{
		size_t n = deconf__v1__submission__get_packed_size(&s.sub);
		uint8_t *p = malloc(n + 3);
		assert_non_null(p);
		deconf__v1__submission__pack(&s.sub, p);
		p[n] = 0x98; /* tag of varint field 99: 99 << 3 = 792, as a varint */
		p[n + 1] = 0x06;
		p[n + 2] = 1;
		assert_int_equal(deconf_envelope_pack(
					 DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION, p, n + 3,
					 "agency-a", agency_key, &buf, &len),
				 0);
		free(p);
		assert_int_equal(brk_submission_check(dir, "agency-a", 8, buf, len, 1 << 20, NOW, &c),
				 0);
		assert_int_equal(c.reason, R(UNKNOWN_FIELDS));
		free(buf);
	}
	/* speaks for another agency, in agency-a's topic */
	subm_init(&s);
	s.sub.agency_id.data = (uint8_t *)"agency-b";
	expect(&s, R(FOREIGN_AGENCY), -1);
	subm_init(&s);
	s.sub.submission_id.len = 15;
	expect(&s, R(MALFORMED), -1);
	subm_init(&s);
	s.sub.n_ops = 0;
	expect(&s, R(INVALID_OP), -1);
}

static void test_op_rules(void **state)
{
	static char long_ref[BRK_CASE_REF_MAX + 1];
	struct subm s;

	memset(long_ref, 'x', sizeof(long_ref));
	subm_init(&s);
	s.op[1].case_ref.len = 0;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s);
	s.op[0].case_ref.data = (uint8_t *)long_ref;
	s.op[0].case_ref.len = sizeof(long_ref);
	expect(&s, R(INVALID_OP), 0);
	subm_init(&s);
	s.op[1].op = OP(UNSPECIFIED);
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s);
	s.op[1].op = 9;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s);
	s.op[0].visibility = 7;
	expect(&s, R(INVALID_OP), 0);
	subm_init(&s);
	s.op[0].caution_flags = 0x40;
	expect(&s, R(INVALID_OP), 0);
	subm_init(&s);
	s.op[0].n_tokens = 0; /* only close_case may have none */
	expect(&s, R(INVALID_OP), 0);
	subm_init(&s);
	s.tr[1].token.len = 15;
	expect(&s, R(INVALID_OP), 0);
	subm_init(&s);
	s.tr[1].type = 0;
	expect(&s, R(INVALID_OP), 0);
	subm_init(&s);
	s.tr[1].type = 99;
	expect(&s, R(INVALID_OP), 0);
	subm_init(&s);
	s.tr[0].key_epoch = 0;
	expect(&s, R(INVALID_OP), 0);
	subm_init(&s);
	s.tr[0].valid_from = 5;
	s.tr[0].valid_to = 4;
	expect(&s, R(INVALID_OP), 0);
	/* an IP entry or query needs its observation window */
	subm_init(&s);
	s.tr[2].valid_to = 0;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s);
	s.op[1].op = OP(QUERY);
	s.tr[2].valid_from = 0;
	expect(&s, R(INVALID_OP), 1);
	/* ...but removing one does not */
	subm_init(&s);
	s.op[1].op = OP(REMOVE);
	s.tr[2].valid_from = s.tr[2].valid_to = 0;
	expect(&s, 0, -1);
	subm_init(&s);
	s.op[0].expires_at = -1;
	expect(&s, R(INVALID_OP), 0);
	assert_string_equal(brk_reject_reason_name(R(BAD_SIGNATURE)), "bad_signature");
	assert_string_equal(brk_reject_reason_name(R(BAD_TEXT)), "bad_text");
	assert_string_equal(brk_reject_reason_name(R(UNKNOWN_EPOCH)), "unknown_epoch");
	assert_string_equal(brk_reject_reason_name(R(UNPROCESSABLE)), "unprocessable");
	assert_string_equal(brk_reject_reason_name(1000), "unknown");
	/* created in the future, past clock skew */
	subm_init(&s);
	s.sub.created_at = NOW + 2 * 86400000LL;
	expect(&s, R(MALFORMED), -1);
}

/* Make op 1 of s an event: its one token an event cell with a window. */
static void make_event(struct subm *s)
{
	s->op[1].event_kind = DECONF__V1__EVENT_KIND__EVENT_KIND_SEARCH_WARRANT;
	s->tr[2].type = T(EVENT_CELL);
	s->tr[2].cell_role = DECONF__V1__CELL_ROLE__CELL_ROLE_COVER;
	s->tr[2].cell_level = 14;
	s->tr[2].valid_from = 1764400000000;
	s->tr[2].valid_to = 1764400000000 + 3 * 3600000;
}

/*
 * Events: an event holds only event cells, each with a role, a level and
 * a window of at most two weeks; an event is never queried; no other token
 * has a role or a level, and a case that is no event has no event cell.
 * What ingest makes of an event cell keeps its role, level and kind.
 */
static void test_event_rules(void **state)
{
	struct subm s;
	struct brk_check c;
	struct collected col = { .n = 0 };

	(void)state;
	subm_init(&s);
	make_event(&s);
	check_sub(&s, agency_key, "agency-a", &c);
	assert_int_equal(c.reason, 0);
	assert_int_equal(brk_submission_token_ops(c.sub, 42, collect, &col), 0);
	assert_int_equal(col.n, 3);
	assert_int_equal(col.ops[2].type, T(EVENT_CELL));
	assert_int_equal(col.ops[2].cell_role, DECONF__V1__CELL_ROLE__CELL_ROLE_COVER);
	assert_int_equal(col.ops[2].cell_level, 14);
	assert_int_equal(col.ops[2].event_kind, DECONF__V1__EVENT_KIND__EVENT_KIND_SEARCH_WARRANT);
	assert_int_equal(col.ops[0].event_kind, 0);
	assert_int_equal(col.ops[0].cell_role, 0);
	deconf_msg_free(c.sub);

	subm_init(&s); /* an event cell in a case that is no event */
	make_event(&s);
	s.op[1].event_kind = 0;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s); /* an indicator in an event */
	make_event(&s);
	s.tr[2].type = T(EMAIL);
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s); /* an unknown kind */
	make_event(&s);
	s.op[1].event_kind = 7;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s); /* no role, a bad role, a level past 30 */
	make_event(&s);
	s.tr[2].cell_role = 0;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s);
	make_event(&s);
	s.tr[2].cell_role = 3;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s);
	make_event(&s);
	s.tr[2].cell_level = 31;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s); /* no window, an empty one, one past two weeks */
	make_event(&s);
	s.tr[2].valid_to = 0;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s);
	make_event(&s);
	s.tr[2].valid_to = s.tr[2].valid_from;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s);
	make_event(&s);
	s.tr[2].valid_to = s.tr[2].valid_from + DECONF_EVENT_WINDOW_MAX_MS + 1;
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s); /* exactly two weeks is fine */
	make_event(&s);
	s.tr[2].valid_to = s.tr[2].valid_from + DECONF_EVENT_WINDOW_MAX_MS;
	expect(&s, 0, -1);
	subm_init(&s); /* queried */
	make_event(&s);
	s.op[1].op = OP(QUERY);
	expect(&s, R(INVALID_OP), 1);
	subm_init(&s); /* a role on an indicator */
	s.tr[0].cell_level = 3;
	expect(&s, R(INVALID_OP), 0);
	{
		/* a case's scope is the agency's to write, and checked: a mode
		 * no reader knows, or a list past its bound, is refused */
		Deconf__V1__DisclosureScope sc = DECONF__V1__DISCLOSURE_SCOPE__INIT;
		ProtobufCBinaryData ids[DECONF_SCOPE_LIST_MAX + 1];
		subm_init(&s);
		sc.mode = 9;
		s.op[0].scope = &sc;
		expect(&s, R(INVALID_OP), 0);
		sc.mode = DECONF__V1__SCOPE_MODE__SCOPE_MODE_LISTED;
		for (size_t k = 0; k <= DECONF_SCOPE_LIST_MAX; k++) {
			ids[k].data = (uint8_t *)"agency-b";
			ids[k].len = 8;
		}
		sc.allow_agencies = ids;
		sc.n_allow_agencies = DECONF_SCOPE_LIST_MAX + 1;
		expect(&s, R(INVALID_OP), 0);
		sc.n_allow_agencies = DECONF_SCOPE_LIST_MAX; /* at the bound: taken */
		expect(&s, 0, -1);
	}
	subm_init(&s); /* removing a cell needs no window */
	make_event(&s);
	s.op[1].op = OP(REMOVE);
	s.tr[2].valid_from = s.tr[2].valid_to = 0;
	expect(&s, 0, -1);
}

/*
 * Text that reaches another agency's screen is bounded at ingest: each
 * contact field at most 256 bytes (a 1,000,000-byte one was a poison
 * pill), valid UTF-8, no control characters (terminal escapes), and so is
 * the case ref.
 */
static void test_text_bounds(void **state)
{
	static char big[1000001], edge[258];
	struct subm s;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	memset(edge, 'y', 256);
	subm_init(&s);
	s.poc.name = big;
	expect(&s, R(BAD_TEXT), 0);
	subm_init(&s);
	s.poc.unit = edge; /* exactly 256: fine */
	expect(&s, 0, -1);
	edge[256] = 'y';
	subm_init(&s);
	s.poc.unit = edge;
	expect(&s, R(BAD_TEXT), 0);
	subm_init(&s);
	s.poc.phone = "\x1b]0;owned\x07\x1b[2J";
	expect(&s, R(BAD_TEXT), 0);
	subm_init(&s);
	s.poc.email = "a\xff\xfe@example.org";
	expect(&s, R(BAD_TEXT), 0);
	subm_init(&s);
	s.poc.name = "Det. Bj\xc3\xb6rk \xe2\x80\x94 unit 7"; /* UTF-8 is fine */
	expect(&s, 0, -1);
	subm_init(&s);
	s.op[1].case_ref.data = (uint8_t *)"CASE\x1b[2J";
	s.op[1].case_ref.len = 8;
	expect(&s, R(BAD_TEXT), 1);
	subm_init(&s);
	s.op[1].case_ref.data = (uint8_t *)"CASE\xc0\xaf";
	s.op[1].case_ref.len = 6;
	expect(&s, R(BAD_TEXT), 1);
}

/* Publish a KeyEpochs record to the directory. */
static void epochs(uint64_t serial, const uint32_t *e, const int64_t *retire, size_t n)
{
	Deconf__V1__KeyEpochs k = DECONF__V1__KEY_EPOCHS__INIT;
	Deconf__V1__KeyEpoch v[4], *pv[4];
	char errstr[256];
	uint8_t *buf;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		deconf__v1__key_epoch__init(&v[i]);
		v[i].epoch = e[i];
		v[i].retire_at = retire[i];
		pv[i] = &v[i];
	}
	k.epochs = pv;
	k.n_epochs = n;
	k.serial = serial;
	assert_int_equal(deconf_envelope_seal(&k.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_KEY_EPOCHS,
					      "federation", fed, &buf, &len),
			 0);
	assert_int_equal(brk_directory_apply(dir, BRK_EPOCHS_KEY, strlen(BRK_EPOCHS_KEY), buf, len,
					     errstr, sizeof(errstr)),
			 0);
	free(buf);
}

/*
 * Key epochs are the federation's: without its record only epoch 1 is
 * accepted; with one, an epoch it does not list is unknown, a retired one
 * is stale for anything that stores or asks (removing under it is fine).
 * Runs last: the directory keeps the record.
 */
static void test_epochs(void **state)
{
	struct subm s;

	(void)state;
	subm_init(&s);
	s.tr[1].key_epoch = 2;
	expect(&s, R(UNKNOWN_EPOCH), 0);
	subm_init(&s);
	s.tr[2].key_epoch = UINT32_MAX; /* the epoch wipe */
	expect(&s, R(UNKNOWN_EPOCH), 1);
	epochs(1, (uint32_t[]){ 1, 2 }, (int64_t[]){ NOW - 1, 0 }, 2);
	subm_init(&s);
	expect(&s, R(STALE_EPOCH), 0);
	for (int i = 0; i < 3; i++)
		s.tr[i].key_epoch = 2;
	expect(&s, 0, -1);
	s.tr[2].key_epoch = 3;
	expect(&s, R(UNKNOWN_EPOCH), 1);
	subm_init(&s);
	s.op[0].op = s.op[1].op = OP(REMOVE); /* removing under a retired epoch */
	expect(&s, 0, -1);
	/* retiring in the future: still live */
	epochs(2, (uint32_t[]){ 1, 2 }, (int64_t[]){ NOW + 1000, 0 }, 2);
	subm_init(&s);
	expect(&s, 0, -1);
}

/* A notice as the broker (key) sends it to `to`, sealed. */
static void notice_env(const struct deconf_sign_key *key, const char *to, int kind,
		       const uint8_t id[16], uint8_t **buf, size_t *len)
{
	Deconf__V1__ConflictNotice n = DECONF__V1__CONFLICT_NOTICE__INIT;
	uint8_t tok[16];

	memset(tok, 0x42, sizeof(tok));
	n.notice_id.data = (uint8_t *)id;
	n.notice_id.len = 16;
	n.kind = kind;
	n.agency_id.data = (uint8_t *)to;
	n.agency_id.len = strlen(to);
	n.case_ref.data = (uint8_t *)"CASE-9";
	n.case_ref.len = 6;
	n.type = T(PHONE);
	n.key_epoch = 1;
	n.token.data = tok;
	n.token.len = 16;
	assert_int_equal(deconf_envelope_seal(&n.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE,
					      "broker", key, buf, len),
			 0);
}

static int collect_ack(void *o, const Deconf__V1__TokenOp *op)
{
	Deconf__V1__TokenOp *out = o;

	assert_int_equal(op->ack_notice_id.len, 16);
	memcpy(out->ack_notice_id.data, op->ack_notice_id.data, 16);
	out->ack_outcome = op->ack_outcome;
	out->op_index = op->op_index;
	assert_int_equal(op->token.len, 16);
	memcpy(out->token.data, op->token.data, 16);
	out->case_ref.len = op->case_ref.len;
	return 0;
}

/* An acknowledgment is taken only with the notice it acknowledges, signed
 * by the broker and addressed to the submitting agency; anything else is
 * UNKNOWN_NOTICE, whatever the id. */
static void test_acks(void **state)
{
	struct deconf_sign_key *broker;
	struct subm s;
	struct brk_check c;
	Deconf__V1__Acknowledgment a = DECONF__V1__ACKNOWLEDGMENT__INIT, *acks[1] = { &a };
	uint8_t id[16], *env, *buf, tok[16], nid[16];
	size_t env_len, len;
	Deconf__V1__TokenOp got = DECONF__V1__TOKEN_OP__INIT;
	const struct {
		const char *to;
		int kind, other_key, id_off;
	} bad[] = {
		{ "agency-b", DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT, 0, 0 },
		{ "agency-a", DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT, 1, 0 },
		{ "agency-a", DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT, 0, 1 },
		{ "agency-a", DECONF__V1__NOTICE_KIND__NOTICE_KIND_EXPIRED, 0, 0 },
		{ "agency-a", DECONF__V1__NOTICE_KIND__NOTICE_KIND_ACKNOWLEDGED, 0, 0 },
	};

	(void)state;
	assert_int_equal(deconf_sign_key_generate(&broker, NULL, 0), 0);
	memset(id, 0x77, sizeof(id));
	subm_init(&s);
	s.sub.acks = acks;
	s.sub.n_acks = 1;
	a.notice_id.data = id;
	a.notice_id.len = 16;
	a.outcome = DECONF__V1__OUTCOME__OUTCOME_SEEN;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t other[16];
		memcpy(other, id, 16);
		other[0] ^= (uint8_t)bad[i].id_off;
		notice_env(bad[i].other_key ? other_key : broker, bad[i].to, bad[i].kind, other,
			   &env, &env_len);
		a.notice.data = env;
		a.notice.len = env_len;
		assert_int_equal(deconf_envelope_seal(&s.sub.base,
						      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
						      "agency-a", agency_key, &buf, &len),
				 0);
		assert_int_equal(brk_submission_check_ex(dir, broker, "agency-a", 8, buf, len,
							 2 << 20, NOW, &c),
				 0);
		assert_int_equal(c.reason, R(UNKNOWN_NOTICE));
		assert_int_equal(c.op_index, 2); /* after the two case ops */
		assert_int_equal(c.acks_checked, 1); /* what ingest charges for */
		free(buf);
		free(env);
	}
	/* more than BRK_ACKS_MAX: refused before any is checked */
	a.notice.data = NULL; /* the loop's last notice is freed */
	a.notice.len = 0;
	{
		Deconf__V1__Acknowledgment **many = calloc(BRK_ACKS_MAX + 1, sizeof(*many));
		assert_non_null(many);
		for (int i = 0; i <= BRK_ACKS_MAX; i++)
			many[i] = &a;
		s.sub.acks = many;
		s.sub.n_acks = BRK_ACKS_MAX + 1;
		assert_int_equal(deconf_envelope_seal(&s.sub.base,
						      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
						      "agency-a", agency_key, &buf, &len),
				 0);
		assert_int_equal(brk_submission_check_ex(dir, broker, "agency-a", 8, buf, len,
							 2 << 20, NOW, &c),
				 0);
		assert_int_equal(c.reason, R(OVERSIZED));
		assert_int_equal(c.acks_checked, 0);
		free(buf);
		free(many);
		s.sub.acks = acks;
		s.sub.n_acks = 1;
	}
	/* no notice at all; and without the broker's key, none is taken */
	a.notice.data = NULL;
	a.notice.len = 0;
	check_sub(&s, agency_key, "agency-a", &c);
	assert_int_equal(c.reason, R(UNKNOWN_NOTICE));

	/* the right one; the outcome must be known */
	notice_env(broker, "agency-a", DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT, id, &env,
		   &env_len);
	a.notice.data = env;
	a.notice.len = env_len;
	a.outcome = 42;
	assert_int_equal(deconf_envelope_seal(&s.sub.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
					      "agency-a", agency_key, &buf, &len),
			 0);
	assert_int_equal(brk_submission_check_ex(dir, broker, "agency-a", 8, buf, len, 2 << 20, NOW,
						 &c),
			 0);
	assert_int_equal(c.reason, R(INVALID_OP));
	free(buf);
	a.outcome = DECONF__V1__OUTCOME__OUTCOME_DECONFLICTED;
	/* acknowledgments alone make a submission */
	s.sub.n_ops = 0;
	assert_int_equal(deconf_envelope_seal(&s.sub.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
					      "agency-a", agency_key, &buf, &len),
			 0);
	assert_int_equal(brk_submission_check_ex(dir, broker, "agency-a", 8, buf, len, 2 << 20, NOW,
						 &c),
			 0);
	assert_int_equal(c.reason, 0);
	free(buf);
	/* its token op: the notice's token (its matcher partition), case and id */
	got.ack_notice_id.data = nid;
	got.token.data = tok;
	assert_int_equal(brk_submission_ack_ops(c.sub, NOW, broker, collect_ack, &got), 0);
	assert_memory_equal(nid, id, 16);
	assert_int_equal(got.ack_outcome, DECONF__V1__OUTCOME__OUTCOME_DECONFLICTED);
	assert_int_equal(tok[0], 0x42);
	assert_int_equal(got.case_ref.len, 6);
	assert_int_equal(got.op_index, 0);
	deconf_msg_free(c.sub);
	free(env);
	deconf_sign_key_free(broker);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted_and_token_ops),
		cmocka_unit_test(test_event_rules),
		cmocka_unit_test(test_closes_packed),
		cmocka_unit_test(test_refused_records),
		cmocka_unit_test(test_op_rules),
		cmocka_unit_test(test_text_bounds),
		cmocka_unit_test(test_epochs),
		cmocka_unit_test(test_acks),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
