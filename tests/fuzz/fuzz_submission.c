/*
 * fuzz_submission.c — libFuzzer target for what an agency's bytes drive in
 * the broker: ingest's decision (brk_submission_check), the token ops an
 * accepted submission becomes (brk_submission_token_ops) and the matching
 * semantics they run into (brk_match_op, brk_match_expire) on a real LMDB
 * store, then a restore of the changelog they produced (brk_match_restore).
 *
 * Input: one control byte, then the serialized Submission, which the
 * harness signs with the agency's key itself, so every input passes the
 * signature check and reaches what an agency really controls. fuzz_envelope
 * covers the Envelope and its signature. Half of the mutations are made on
 * the parsed Submission (see the mutator below), so most inputs parse.
 *
 *   control bits 0-1  the submit topic: 0, 1 the agency the submission names
 *                     (any valid agency id; "agency-a" if it names none),
 *                     2 another active agency (FOREIGN_AGENCY),
 *                     3 a suspended one (bit 7 set) or an unknown one
 *              bit 2  the directory holds the federation's KeyEpochs record
 *                     (epoch 1 retiring at NOW + 150 d, 2 live, 3 retired);
 *                     without it only epoch 1 exists
 *           bits 3-4  after the ops, expiry at NOW + 1 min / + 170 d / + 400 d
 *                     (0: none), in bounded passes until it is done
 *              bit 5  matcher.notify_queried
 *              bit 6  matcher.match_same_agency
 *
 * The store starts from a baseline (other agencies' cases, built through
 * this same path at init) that the seeds' tokens meet: conflicts, a
 * RESTRICTED holder, a COURT_SEALED case, IP windows, a hot token, entries
 * under epoch 2, entries close to their expiry. Each input runs in one
 * write transaction that is aborted at the end, so every input starts from
 * the baseline: the run is deterministic and a crashing input reproduces on
 * its own. DECONF_FUZZ_KEEP=1 commits instead (state accumulates, the clock
 * moves a minute per input, expiry every 16 inputs, both stores wiped past
 * KEEP_MAX_ENTRIES): for long runs, at the price of reproducibility.
 *
 * Invariants checked (a violation aborts, with a sentence on stderr):
 * - ingest: a refusal has a reason, a sentence and no message; an accepted
 *   submission speaks for its topic's agency and every token op it becomes
 *   fits DECONF_TOKEN_OP_MAX and reads back as the matcher reads it;
 * - matching: an accepted op is applied (brk_match_op returns 0: ingest
 *   checked everything it relies on); an add or renew leaves the entry
 *   stored with an expiry in (now, now + ttl_max], a remove leaves none, a
 *   case close leaves none of the case, a query changes nothing;
 * - notices: signed, within DECONF_NOTICE_MAX and readable by an adapter;
 *   their text within deconf/limits.h; a COURT_SEALED counterpart's case
 *   ref withheld; nobody matched against their own agency unless
 *   match_same_agency; a RESTRICTED entry never named to a NORMAL side
 *   (CONFLICT and QUERY_HIT name only NORMAL counterparts, only a
 *   RESTRICTED holder gets RESTRICTED_MATCH);
 * - changelog, audit, ops records within DECONF_PRODUCED_MAX; each audit
 *   chain's seq goes up by one per event;
 * - expiry: repeated bounded passes finish, and then nothing is left that
 *   was due (expired, unwarned in its warning window, or under an epoch
 *   the federation's record does not hold live);
 * - the store's own indexes agree with its entries (every entry once in
 *   its case's walk and once in the due walk; its epoch listed);
 * - restore: replaying the changelog records this input produced, in
 *   order, into a second store holding the same baseline never fails and
 *   yields the same entries (every field but the derived due time), case
 *   contacts, notified pairs, hot marks and audit heads.
 *
 * Other environment variables:
 *   DECONF_FUZZ_WRITE_SEEDS=dir  write the seed inputs into dir and exit
 *   DECONF_FUZZ_STATS=1          print what was reached at exit (decisions,
 *                                ops, notices by kind, expiry, restores)
 */
#include <errno.h>
#include <sanitizer/common_interface_defs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/limits.h"
#include "deconf/sign.h"
#include "deconf/text.h"
#include "deconf/util.h"
#include "directory.h"
#include "match.h"
#include "store.h"
#include "submission.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
const char *__ubsan_default_options(void);

/* The fuzz build's UBSan reports and carries on (-fsanitize=undefined
 * without -fno-sanitize-recover): undefined behaviour in the broker must
 * fail this target's run, not scroll by in its log. */
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

#define K(x) DECONF__V1__##x
#define R(x) DECONF__V1__REJECT_REASON__REJECT_REASON_##x
#define T(x) DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_##x
#define OP(x) DECONF__V1__OP__OP_##x
#define VIS_NORMAL K(VISIBILITY__VISIBILITY_NORMAL)
#define VIS_RESTRICTED K(VISIBILITY__VISIBILITY_RESTRICTED)
#define SEALED K(CAUTION_FLAG__CAUTION_COURT_SEALED)

#define NOW 1764400000000LL /* the harness's clock */
#define MIN_MS 60000LL
#define DAY_MS 86400000LL
#define NPART 4
#define MAP_SIZE (64u << 20)
#define MAX_RECORD (1u << 20)
#define EXPIRE_PASS 4            /* entries per brk_match_expire call */
#define KEEP_MAX_ENTRIES 2000
#define KEEP_COMPARE_EVERY 32

/* ----------------------------------------------------------- the world */

struct rec { /* one changelog record, as the matcher put it on deconf.state */
	int partition;
	uint8_t *key, *value; /* value NULL: a tombstone */
	size_t key_len, len;
};

struct saved { /* what lives outside LMDB, put back when a txn is aborted */
	struct brk_audit_head heads[NPART], heads2[NPART];
	uint64_t aseq[NPART];
};

static struct {
	struct deconf_sign_key *fed, *agency, *broker;
	struct brk_directory *dir_plain, *dir_epochs;
	char tmp[256], path1[300], path2[300];
	struct brk_store *s1, *s2;              /* the matcher's, the restored one */
	struct brk_store_txn *t1, *t2;
	struct brk_match m;
	struct brk_audit_head heads[NPART], heads2[NPART];
	uint64_t aseq[NPART];                   /* last audit seq seen per chain */
	struct saved base;
	struct rec *log;
	size_t n_log, cap_log;
	int64_t now;
	int keep;
	uint64_t inputs;
} F;

/* What was reached, printed at exit with DECONF_FUZZ_STATS=1. */
static struct {
	uint64_t inputs, accepted, reasons[32], ops[8], notices[8], expire_runs, expired,
		warned, hot, conflicts, records, replayed, compares, wipes;
} S;

/* The stores' directory goes at exit, and before an abort: a crashing
 * run must not leave its files in /dev/shm. */
static void remove_tmp(void)
{
	const char *dirs[2] = { F.path1, F.path2 };
	char f[400];

	if (!F.tmp[0])
		return;
	for (int i = 0; i < 2; i++) {
		snprintf(f, sizeof(f), "%s/data.mdb", dirs[i]);
		unlink(f);
		snprintf(f, sizeof(f), "%s/lock.mdb", dirs[i]);
		unlink(f);
		rmdir(dirs[i]);
	}
	rmdir(F.tmp);
	F.tmp[0] = '\0';
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_submission: invariant violated: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	remove_tmp();
	abort();
}

#define CHECK(cond, ...)                \
	do {                            \
		if (!(cond))            \
			die(__VA_ARGS__); \
	} while (0)

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	CHECK(p, "out of memory");
	return p;
}

static void tok(uint8_t out[16], uint8_t n, uint8_t variant)
{
	/* tokens of one n share their first 8 bytes: the store's case index
	 * keeps 8-byte prefixes, and variants exercise sharing them */
	memset(out, n, 8);
	memset(out + 8, variant, 8);
}

static int partition_of(const uint8_t *token)
{
	return (token[0] ^ token[15]) % NPART;
}

/* --------------------------------------------------- submission builder */

#define SB_OPS 8
#define SB_TOKS 8

struct sb {
	Deconf__V1__Submission sub;
	Deconf__V1__CaseOp op[SB_OPS], *pop[SB_OPS];
	Deconf__V1__TokenRef tr[SB_OPS][SB_TOKS], *ptr[SB_OPS][SB_TOKS];
	Deconf__V1__PointOfContact poc[SB_OPS];
	uint8_t tok[SB_OPS][SB_TOKS][16], sid[16];
	char agency[64];
};

/* Contact and case text at their bounds, in 2-byte characters. */
static char long_text[DECONF_POC_FIELD_MAX + 1], long_case[DECONF_CASE_REF_MAX + 1];
static char long_name[DECONF_DIR_TEXT_MAX + 1];

static void long_init(void)
{
	for (size_t i = 0; i + 2 <= DECONF_POC_FIELD_MAX; i += 2)
		memcpy(long_text + i, "\xce\xa9", 2); /* Ω */
	for (size_t i = 0; i + 2 <= DECONF_CASE_REF_MAX; i += 2)
		memcpy(long_case + i, "\xc3\xa9", 2); /* é */
	for (size_t i = 0; i + 2 <= DECONF_DIR_TEXT_MAX; i += 2)
		memcpy(long_name + i, "\xc3\xbc", 2); /* ü */
}

static void sb_init(struct sb *b, const char *agency, uint8_t sid)
{
	memset(b, 0, sizeof(*b));
	deconf__v1__submission__init(&b->sub);
	snprintf(b->agency, sizeof(b->agency), "%s", agency);
	b->sub.agency_id.data = (uint8_t *)b->agency;
	b->sub.agency_id.len = strlen(b->agency);
	memset(b->sid, sid, sizeof(b->sid));
	b->sid[0] = 0x5b;
	b->sub.submission_id.data = b->sid;
	b->sub.submission_id.len = sizeof(b->sid);
	b->sub.created_at = NOW - 1000;
	b->sub.ops = b->pop;
}

/* Append a CaseOp; case_ref is kept by pointer (a literal or a static). */
static Deconf__V1__CaseOp *sb_op(struct sb *b, int op, const char *case_ref, int vis,
				 uint32_t flags, int64_t expires_at)
{
	size_t i = b->sub.n_ops++;
	Deconf__V1__CaseOp *o = &b->op[i];

	deconf__v1__case_op__init(o);
	deconf__v1__point_of_contact__init(&b->poc[i]);
	b->poc[i].name = "Det. Sgt. Rivera";
	b->poc[i].phone = "+1 555 010 0199";
	b->poc[i].email = "rivera@example.gov";
	b->poc[i].unit = "Cyber Unit 3";
	o->poc = &b->poc[i];
	o->case_ref.data = (uint8_t *)case_ref;
	o->case_ref.len = strlen(case_ref);
	o->op = op;
	o->visibility = vis;
	o->caution_flags = flags;
	o->expires_at = expires_at;
	o->tokens = b->ptr[i];
	b->pop[i] = o;
	return o;
}

/* Append a token to the last CaseOp. */
static void sb_tok(struct sb *b, int type, uint32_t epoch, uint8_t n, uint8_t variant,
		   int64_t vf, int64_t vt)
{
	size_t i = b->sub.n_ops - 1, j = b->op[i].n_tokens++;
	Deconf__V1__TokenRef *t = &b->tr[i][j];

	deconf__v1__token_ref__init(t);
	tok(b->tok[i][j], n, variant);
	t->type = type;
	t->key_epoch = epoch;
	t->token.data = b->tok[i][j];
	t->token.len = 16;
	t->valid_from = vf;
	t->valid_to = vt;
	b->ptr[i][j] = t;
}

static void sb_long_poc(struct sb *b)
{
	size_t i = b->sub.n_ops - 1;

	b->poc[i].name = b->poc[i].phone = b->poc[i].email = b->poc[i].unit = long_text;
}

/* ctrl byte + the serialized Submission (malloc'ed). */
static uint8_t *sb_pack(const struct sb *b, uint8_t ctrl, size_t *len)
{
	size_t n = deconf__v1__submission__get_packed_size(&b->sub);
	uint8_t *buf = xmalloc(n + 1);

	buf[0] = ctrl;
	deconf__v1__submission__pack(&b->sub, buf + 1);
	*len = n + 1;
	return buf;
}

/* ------------------------------------------------------------ outputs */

static const char *recipient_lookup(const Deconf__V1__ConflictNotice *n, int partition,
				    struct brk_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (n->token.len != BRK_TOKEN_LEN || !n->agency_id.len ||
	    n->agency_id.len >= sizeof(e->agency) || n->case_ref.len > BRK_CASE_MAX)
		return "malformed recipient";
	memcpy(e->token, n->token.data, BRK_TOKEN_LEN);
	e->epoch = n->key_epoch;
	memcpy(e->agency, n->agency_id.data, n->agency_id.len);
	memcpy(e->case_ref, n->case_ref.data, n->case_ref.len);
	e->case_len = n->case_ref.len;
	return brk_store_entry_get(F.t1, partition, e) ? "recipient's entry not stored" : NULL;
}

static void check_text(const char *what, const char *s, size_t max)
{
	int t;

	if (!s)
		return;
	t = deconf_text_check(s, strlen(s), max);
	CHECK(t == DECONF_TEXT_OK, "notice %s: %s", what, deconf_text_problem(t));
}

static int out_notice(void *opaque, int partition, const Deconf__V1__ConflictNotice *n)
{
	const Deconf__V1__Counterpart *cp = n->counterpart;
	ProtobufCMessage *back = NULL;
	struct brk_entry to;
	struct brk_agency ag;
	const char *why;
	uint8_t *buf;
	size_t len;
	int kind = n->kind;

	(void)opaque;
	CHECK(kind >= K(NOTICE_KIND__NOTICE_KIND_CONFLICT) &&
		      kind <= K(NOTICE_KIND__NOTICE_KIND_HOT_TOKEN),
	      "notice kind %d", kind);
	S.notices[kind]++;
	/* what the matcher produces and an adapter reads back */
	CHECK(!deconf_envelope_seal(&n->base, K(MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE),
				    "broker", F.broker, &buf, &len),
	      "notice does not seal");
	CHECK(len < DECONF_NOTICE_MAX, "a notice of %zu bytes (limit %d)", len, DECONF_NOTICE_MAX);
	CHECK(!deconf_envelope_open(buf, len, DECONF_NOTICE_MAX,
				    K(MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE), F.broker,
				    &deconf__v1__conflict_notice__descriptor, &back, NULL, 0),
	      "a notice an adapter cannot open");
	deconf_msg_free(back);
	free(buf);

	CHECK(n->notice_id.len == 16 && n->token.len == BRK_TOKEN_LEN, "notice ids");
	CHECK(!brk_directory_get(F.m.dir, n->agency_id.data, n->agency_id.len, &ag),
	      "notice to %.*s, not in the directory", (int)n->agency_id.len,
	      (const char *)n->agency_id.data);
	CHECK(n->case_ref.len >= 1 && n->case_ref.len <= DECONF_CASE_REF_MAX &&
		      deconf_text_check(n->case_ref.data, n->case_ref.len, DECONF_CASE_REF_MAX) ==
			      DECONF_TEXT_OK,
	      "notice to a case ref of %zu bytes that is not text", n->case_ref.len);

	switch (kind) {
	case K(NOTICE_KIND__NOTICE_KIND_EXPIRY_WARNING):
	case K(NOTICE_KIND__NOTICE_KIND_EXPIRED):
	case K(NOTICE_KIND__NOTICE_KIND_HOT_TOKEN):
		CHECK(!cp, "a %d notice names a counterpart", kind);
		break;
	default:
		CHECK(cp, "a %d notice without a counterpart", kind);
	}
	/* the recipient holds the entry, except an asker (QUERY_HIT, and
	 * HOT_TOKEN which an adder or an asker gets) */
	if (kind != K(NOTICE_KIND__NOTICE_KIND_QUERY_HIT) &&
	    kind != K(NOTICE_KIND__NOTICE_KIND_HOT_TOKEN)) {
		why = recipient_lookup(n, partition, &to);
		CHECK(!why, "notice kind %d: %s", kind, why ? why : "");
		CHECK(to.expires_at == n->expires_at, "notice expires_at is not the entry's");
		if (kind == K(NOTICE_KIND__NOTICE_KIND_CONFLICT))
			CHECK(to.visibility != VIS_RESTRICTED,
			      "a RESTRICTED holder got a CONFLICT notice (it reveals it)");
		if (kind == K(NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH))
			CHECK(to.visibility == VIS_RESTRICTED,
			      "a NORMAL holder got RESTRICTED_MATCH");
		if (kind == K(NOTICE_KIND__NOTICE_KIND_QUERIED))
			CHECK(to.visibility == VIS_RESTRICTED || F.m.conf.notify_queried,
			      "a NORMAL holder told of a query with notify_queried off");
	}
	if (!cp)
		return 0;

	/* the counterpart, as far as it lets itself be known */
	CHECK(cp->agency_id.len > 0, "counterpart without agency");
	CHECK(F.m.conf.match_same_agency || cp->agency_id.len != n->agency_id.len ||
		      memcmp(cp->agency_id.data, n->agency_id.data, n->agency_id.len),
	      "matched against its own agency with match_same_agency off");
	if (cp->caution_flags & SEALED)
		CHECK(!cp->case_ref.len, "a COURT_SEALED counterpart's case ref was revealed");
	else
		CHECK(cp->case_ref.len, "an unsealed counterpart without case ref");
	CHECK(cp->agency_id.len != n->agency_id.len ||
		      memcmp(cp->agency_id.data, n->agency_id.data, n->agency_id.len) ||
		      cp->case_ref.len != n->case_ref.len ||
		      memcmp(cp->case_ref.data, n->case_ref.data, n->case_ref.len),
	      "a case matched against itself");
	if (cp->case_ref.len)
		CHECK(deconf_text_check(cp->case_ref.data, cp->case_ref.len, DECONF_CASE_REF_MAX) ==
			      DECONF_TEXT_OK,
		      "counterpart case ref is not text");
	check_text("agency_name", cp->agency_name, DECONF_DIR_TEXT_MAX);
	check_text("country", cp->country, DECONF_DIR_TEXT_MAX);
	if (cp->poc) {
		check_text("poc.name", cp->poc->name, DECONF_POC_FIELD_MAX);
		check_text("poc.phone", cp->poc->phone, DECONF_POC_FIELD_MAX);
		check_text("poc.email", cp->poc->email, DECONF_POC_FIELD_MAX);
		check_text("poc.unit", cp->poc->unit, DECONF_POC_FIELD_MAX);
	}
	if (cp->visibility == VIS_RESTRICTED) {
		/* a RESTRICTED entry is named only to a RESTRICTED holder
		 * (RESTRICTED_MATCH); a RESTRICTED query is never revealed to
		 * holders (match.h) */
		CHECK(kind == K(NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH),
		      "a RESTRICTED counterpart named in a notice of kind %d", kind);
	}
	return 0;
}

static int out_state(void *opaque, int partition, const uint8_t *key, size_t key_len,
		     const Deconf__V1__StateRecord *r)
{
	struct rec *x;
	uint8_t *buf;
	size_t len;

	(void)opaque;
	CHECK(partition >= 0 && partition < NPART, "state for partition %d", partition);
	CHECK(key_len >= 1 && key_len <= 1 + BRK_TOKEN_LEN + 4 + 64 + BRK_CASE_MAX,
	      "changelog key of %zu bytes", key_len);
	if (r) {
		CHECK(!deconf_envelope_seal(&r->base, K(MESSAGE_TYPE__MESSAGE_TYPE_STATE_RECORD),
					    "broker", NULL, &buf, &len),
		      "state record does not seal");
		CHECK(len <= DECONF_PRODUCED_MAX, "a changelog record of %zu bytes", len);
		free(buf);
	}
	CHECK(!DECONF_GROW(F.log, F.n_log, F.cap_log, 64), "out of memory");
	x = &F.log[F.n_log++];
	x->partition = partition;
	x->key = xmalloc(key_len);
	memcpy(x->key, key, key_len);
	x->key_len = key_len;
	x->value = NULL;
	x->len = 0;
	if (r) {
		x->len = deconf__v1__state_record__get_packed_size(r);
		x->value = xmalloc(x->len);
		deconf__v1__state_record__pack(r, x->value);
	}
	S.records++;
	return 0;
}

static int out_audit(void *opaque, int partition, const uint8_t *event, size_t len)
{
	Deconf__V1__AuditEvent *ev;

	(void)opaque;
	CHECK(len <= DECONF_PRODUCED_MAX, "an audit event of %zu bytes", len);
	ev = deconf__v1__audit_event__unpack(NULL, len, event);
	CHECK(ev, "an audit event that does not parse");
	CHECK(ev->chain == (uint32_t)partition, "audit chain %u written for partition %d",
	      ev->chain, partition);
	CHECK(ev->seq == F.aseq[partition] + 1, "audit seq %llu after %llu",
	      (unsigned long long)ev->seq, (unsigned long long)F.aseq[partition]);
	CHECK(ev->prev_hash.len == 32, "audit prev_hash of %zu bytes", ev->prev_hash.len);
	F.aseq[partition] = ev->seq;
	deconf__v1__audit_event__free_unpacked(ev, NULL);
	return 0;
}

static int out_ops(void *opaque, const Deconf__V1__OpsEvent *ev)
{
	uint8_t *buf;
	size_t len;

	(void)opaque;
	CHECK(!deconf_envelope_seal(&ev->base, K(MESSAGE_TYPE__MESSAGE_TYPE_OPS_EVENT), "broker",
				    F.broker, &buf, &len),
	      "ops event does not seal");
	CHECK(len <= DECONF_PRODUCED_MAX, "an ops event of %zu bytes", len);
	free(buf);
	return 0;
}

static void log_clear(void)
{
	for (size_t i = 0; i < F.n_log; i++) {
		free(F.log[i].key);
		free(F.log[i].value);
	}
	F.n_log = 0;
}

/* ------------------------------------------------------ store walks */

struct elist {
	struct brk_entry *v;
	size_t n, cap;
};

static int elist_add(void *opaque, const struct brk_entry *e)
{
	struct elist *l = opaque;

	CHECK(!DECONF_GROW(l->v, l->n, l->cap, 64), "out of memory");
	l->v[l->n++] = *e;
	return 0;
}

static int case_cmp(const struct brk_entry *a, const struct brk_entry *b)
{
	int c = strcmp(a->agency, b->agency);

	if (c)
		return c;
	if (a->case_len != b->case_len)
		return a->case_len < b->case_len ? -1 : 1;
	return memcmp(a->case_ref, b->case_ref, a->case_len);
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct brk_entry *a = pa, *b = pb;
	int c = memcmp(a->token, b->token, BRK_TOKEN_LEN);

	if (c)
		return c;
	if (a->epoch != b->epoch)
		return a->epoch < b->epoch ? -1 : 1;
	return case_cmp(a, b);
}

static int by_case_cmp(const void *pa, const void *pb)
{
	int c = case_cmp(pa, pb);

	return c ? c : entry_cmp(pa, pb);
}

static void walk_all(struct brk_store_txn *t, int p, struct elist *l)
{
	l->n = 0;
	CHECK(!brk_store_entries_all(t, p, elist_add, l), "entries walk failed");
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), entry_cmp);
}

/* The store's indexes against its entries (l: the partition's entries,
 * sorted). Each entry appears once in its case's walk and once in the due
 * walk, and its epoch is listed. */
static void check_indexes(struct brk_store_txn *t, int p, const struct elist *l,
			  const char *which)
{
	struct elist c = { 0 }, d = { 0 }, sorted = { 0 };
	uint32_t epochs[64];
	size_t ne = 0;

	if (!l->n)
		return;
	CHECK(!brk_store_epochs(t, p, epochs, 64, &ne), "epochs walk failed");
	for (size_t i = 0; i < l->n; i++) {
		size_t j = 0;
		while (j < ne && j < 64 && epochs[j] != l->v[i].epoch)
			j++;
		CHECK(j < ne && j < 64, "%s store: epoch %u of an entry not listed", which,
		      l->v[i].epoch);
	}
	/* the case index: once per case */
	sorted.v = xmalloc(l->n * sizeof(*l->v));
	memcpy(sorted.v, l->v, l->n * sizeof(*l->v));
	sorted.n = l->n;
	qsort(sorted.v, sorted.n, sizeof(*sorted.v), by_case_cmp);
	for (size_t i = 0; i < sorted.n;) {
		size_t j = i;
		while (j < sorted.n && !case_cmp(&sorted.v[i], &sorted.v[j]))
			j++;
		c.n = 0;
		CHECK(!brk_store_case_entries(t, p, sorted.v[i].agency, sorted.v[i].case_ref,
					      sorted.v[i].case_len, elist_add, &c),
		      "case walk failed");
		if (c.n > 1)
			qsort(c.v, c.n, sizeof(*c.v), by_case_cmp);
		CHECK(c.n == j - i, "%s store: case %s/%.*s walks %zu entries, holds %zu", which,
		      sorted.v[i].agency, (int)sorted.v[i].case_len,
		      (const char *)sorted.v[i].case_ref, c.n, j - i);
		for (size_t k = 0; k < c.n; k++)
			CHECK(!by_case_cmp(&c.v[k], &sorted.v[i + k]),
			      "%s store: a case walk returns another entry", which);
		i = j;
	}
	/* the due index: every entry has an expiry, so every entry is due
	 * some day, once */
	CHECK(!brk_store_due(t, p, INT64_MAX, elist_add, &d), "due walk failed");
	if (d.n > 1)
		qsort(d.v, d.n, sizeof(*d.v), entry_cmp);
	CHECK(d.n == l->n, "%s store: partition %d holds %zu entries, the due walk finds %zu",
	      which, p, l->n, d.n);
	for (size_t k = 0; k < d.n; k++)
		CHECK(!entry_cmp(&d.v[k], &l->v[k]), "%s store: the due walk returns another entry",
		      which);
	free(sorted.v);
	free(c.v);
	free(d.v);
}

static int same_fields(const struct brk_entry *a, const struct brk_entry *b)
{
	return a->type == b->type && a->visibility == b->visibility &&
	       !a->warned == !b->warned && a->flags == b->flags && a->added_at == b->added_at &&
	       a->expires_at == b->expires_at && a->valid_from == b->valid_from &&
	       a->valid_to == b->valid_to;
}

/* The matcher's store against the one restored from its changelog. */
static void compare_stores(void)
{
	struct elist a = { 0 }, b = { 0 };

	S.compares++;
	for (int p = 0; p < NPART; p++) {
		walk_all(F.t1, p, &a);
		walk_all(F.t2, p, &b);
		check_indexes(F.t1, p, &a, "matcher's");
		check_indexes(F.t2, p, &b, "restored");
		CHECK(a.n == b.n, "partition %d: %zu entries, %zu after a restore", p, a.n, b.n);
		for (size_t i = 0; i < a.n; i++) {
			const void *pa, *pb;
			size_t la, lb;
			int ra, rb;

			CHECK(!entry_cmp(&a.v[i], &b.v[i]),
			      "partition %d: the restore holds other entries", p);
			CHECK(same_fields(&a.v[i], &b.v[i]),
			      "partition %d: entry %s/%.*s differs after a restore", p, a.v[i].agency,
			      (int)a.v[i].case_len, (const char *)a.v[i].case_ref);
			ra = brk_store_case_poc(F.t1, p, a.v[i].agency, a.v[i].case_ref,
						a.v[i].case_len, &pa, &la);
			rb = brk_store_case_poc(F.t2, p, b.v[i].agency, b.v[i].case_ref,
						b.v[i].case_len, &pb, &lb);
			CHECK(!ra == !rb && (ra || (la == lb && (!la || !memcmp(pa, pb, la)))),
			      "partition %d: case %s/%.*s has another contact after a restore", p,
			      a.v[i].agency, (int)a.v[i].case_len, (const char *)a.v[i].case_ref);
		}
		CHECK(F.heads[p].seq == F.heads2[p].seq &&
			      !memcmp(F.heads[p].hash, F.heads2[p].hash, 32),
		      "partition %d: audit head %llu, %llu after a restore", p,
		      (unsigned long long)F.heads[p].seq, (unsigned long long)F.heads2[p].seq);
	}
	free(a.v);
	free(b.v);
}

/* Replay this input's changelog into the second store; then the pairs and
 * hot marks it named must read the same in both. */
static void replay(void)
{
	for (size_t i = 0; i < F.n_log; i++) {
		const struct rec *x = &F.log[i];
		int rc = brk_match_restore(&F.m.conf, F.t2, x->partition, x->key, x->key_len,
					   x->value, x->len, &F.heads2[x->partition]);

		CHECK(!rc, "restoring a changelog record the matcher wrote ('%c', %zu bytes): %s",
		      x->key[0], x->len, deconf_strerror(rc));
		S.replayed++;
	}
	for (size_t i = 0; i < F.n_log; i++) {
		const struct rec *x = &F.log[i];
		if (x->key[0] == 'P' && x->key_len == 17)
			CHECK(brk_store_pair_has(F.t1, x->partition, x->key + 1) ==
				      brk_store_pair_has(F.t2, x->partition, x->key + 1),
			      "a notified pair differs after a restore");
		if (x->key[0] == 'H' && x->key_len == 21) {
			uint32_t ep = (uint32_t)x->key[17] << 24 | (uint32_t)x->key[18] << 16 |
				      (uint32_t)x->key[19] << 8 | x->key[20];
			CHECK(brk_store_hot_has(F.t1, x->partition, x->key + 1, ep) ==
				      brk_store_hot_has(F.t2, x->partition, x->key + 1, ep),
			      "a hot mark differs after a restore");
		}
	}
}

/* --------------------------------------------------------------- a run */

static void entry_of(struct brk_entry *e, const Deconf__V1__TokenOp *op)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->token, op->token.data, BRK_TOKEN_LEN);
	e->epoch = op->key_epoch;
	memcpy(e->agency, op->agency_id.data, op->agency_id.len);
	memcpy(e->case_ref, op->case_ref.data, op->case_ref.len);
	e->case_len = op->case_ref.len;
}

static int count_fn(void *opaque, const struct brk_entry *e)
{
	(void)e;
	(*(size_t *)opaque)++;
	return 0;
}

static int64_t ttl_cap(void)
{
	const struct brk_match_conf *c = &F.m.conf;
	int64_t t = c->ttl_max_ms;

	if (c->ttl_ms > t)
		t = c->ttl_ms;
	return c->ttl_ip_ms > t ? c->ttl_ip_ms : t;
}

static void apply(int p, const Deconf__V1__TokenOp *op)
{
	struct brk_entry before, after;
	int had = 0, rc;

	if (op->token.len) {
		entry_of(&before, op);
		had = !brk_store_entry_get(F.t1, p, &before);
	}
	rc = brk_match_op(&F.m, F.t1, p, op, F.now);
	CHECK(!rc, "an accepted op (%d) fails in the matcher: %s", (int)op->op, deconf_strerror(rc));
	if (op->token.len)
		entry_of(&after, op);
	switch (op->op) {
	case OP(ADD):
	case OP(RENEW):
		CHECK(!brk_store_entry_get(F.t1, p, &after), "an added entry is not stored");
		CHECK(after.expires_at > F.now && after.expires_at <= F.now + ttl_cap(),
		      "an entry expiring at now%+lld ms", (long long)(after.expires_at - F.now));
		if (op->op == OP(ADD))
			CHECK(after.type == (int)op->type && after.flags == op->caution_flags &&
				      after.visibility == (op->visibility ? (int)op->visibility
									  : VIS_NORMAL) &&
				      after.valid_from == op->valid_from &&
				      after.valid_to == op->valid_to,
			      "an added entry does not hold what the op said");
		break;
	case OP(REMOVE):
	case OP(CLOSE_CASE):
		if (op->token.len) {
			CHECK(brk_store_entry_get(F.t1, p, &after) == DECONF_E_UNKNOWN,
			      "a removed entry is still stored");
		} else {
			/* one case, or several packed by ingest */
			size_t nc = op->n_close_cases ? op->n_close_cases : 1;
			char agency[64];
			memcpy(agency, op->agency_id.data, op->agency_id.len);
			agency[op->agency_id.len] = '\0';
			for (size_t i = 0; i < nc; i++) {
				const ProtobufCBinaryData *cr =
					op->n_close_cases ? &op->close_cases[i] : &op->case_ref;
				size_t n = 0;
				CHECK(!brk_store_case_entries(F.t1, p, agency, cr->data, cr->len,
							      count_fn, &n) &&
					      n == 0,
				      "a closed case still holds %zu entries", n);
			}
		}
		break;
	case OP(QUERY):
		rc = brk_store_entry_get(F.t1, p, &after);
		CHECK(had == !rc, "a query changed what is stored");
		CHECK(!had || (same_fields(&before, &after) && before.warned == after.warned),
		      "a query changed a stored entry");
		break;
	default: die("an accepted op %d", (int)op->op);
	}
}

/* Each token op of an accepted submission, as ingest writes it and the
 * matcher reads it. */
static int on_token_op(void *opaque, const Deconf__V1__TokenOp *op)
{
	Deconf__V1__Envelope *env = NULL;
	ProtobufCMessage *inner = NULL;
	const Deconf__V1__TokenOp *back;
	uint8_t *buf;
	size_t len;

	(void)opaque;
	CHECK(!deconf_envelope_seal(&op->base, K(MESSAGE_TYPE__MESSAGE_TYPE_TOKEN_OP), "broker",
				    NULL, &buf, &len),
	      "token op does not seal");
	CHECK(len < DECONF_TOKEN_OP_MAX, "a token op of %zu bytes (limit %d)", len,
	      DECONF_TOKEN_OP_MAX);
	CHECK(!deconf_envelope_unpack(buf, len, MAX_RECORD, &env, NULL, 0) &&
		      env->type == K(MESSAGE_TYPE__MESSAGE_TYPE_TOKEN_OP) &&
		      !deconf_envelope_payload(env, &deconf__v1__token_op__descriptor, &inner,
					       NULL, 0),
	      "a token op the matcher cannot read");
	back = (const Deconf__V1__TokenOp *)inner;
	CHECK(back->op >= OP(ADD) && back->op <= OP(QUERY), "token op %d", (int)back->op);
	S.ops[back->op]++;
	if (back->token.len) {
		apply(partition_of(back->token.data), back);
	} else {
		CHECK(back->op == OP(CLOSE_CASE), "a token op without token");
		for (int p = 0; p < NPART; p++)
			apply(p, back);
	}
	deconf_msg_free(inner);
	deconf_msg_free(env);
	free(buf);
	return 0;
}

static const char *topic_for(uint8_t ctrl, const uint8_t *payload, size_t len, char *buf,
			     size_t size)
{
	Deconf__V1__Submission *sub;
	const char *own = "agency-a";

	if ((sub = deconf__v1__submission__unpack(NULL, len, payload))) {
		if (sub->agency_id.len < size &&
		    deconf_agency_id_valid(sub->agency_id.data, sub->agency_id.len)) {
			memcpy(buf, sub->agency_id.data, sub->agency_id.len);
			buf[sub->agency_id.len] = '\0';
			own = buf;
		}
		deconf__v1__submission__free_unpacked(sub, NULL);
	}
	switch (ctrl & 3) {
	case 2: return strcmp(own, "agency-b") ? "agency-b" : "agency-c";
	case 3: return ctrl & 0x80 ? "agency-s" : "nobody";
	default: return own;
	}
}

static void submit(uint8_t ctrl, const uint8_t *payload, size_t len)
{
	struct brk_check c;
	char own[64];
	const char *topic = topic_for(ctrl, payload, len, own, sizeof(own));
	uint8_t *rec;
	size_t rec_len;
	int rc;

	CHECK(!deconf_envelope_pack(K(MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION), payload, len, topic,
				    F.agency, &rec, &rec_len),
	      "cannot seal the input");
	rc = brk_submission_check(F.m.dir, topic, strlen(topic), rec, rec_len, MAX_RECORD, F.now,
				  &c);
	free(rec);
	CHECK(!rc, "brk_submission_check: %s", deconf_strerror(rc));
	if (c.reason) {
		CHECK(!c.sub && c.detail[0] && strcmp(brk_reject_reason_name(c.reason), "unknown"),
		      "a refusal (%d) without a reason's name or a sentence, or with a message",
		      c.reason);
		CHECK(c.op_index >= -1, "op_index %d", c.op_index);
		if (c.reason < 32)
			S.reasons[c.reason]++;
		return;
	}
	CHECK(c.sub && c.op_index == -1, "an acceptance without its submission");
	CHECK(c.sub->agency_id.len == strlen(topic) &&
		      !memcmp(c.sub->agency_id.data, topic, strlen(topic)),
	      "accepted a submission that speaks for another agency than its topic's");
	CHECK(c.sub->n_ops > 0 && c.sub->submission_id.len == BRK_SUBMISSION_ID_LEN,
	      "accepted a submission without ops or id");
	S.accepted++;
	CHECK(!brk_submission_token_ops(c.sub, F.now, on_token_op, NULL), "token ops walk");
	deconf_msg_free(c.sub);
}

static void expire_all(int64_t at)
{
	struct elist l = { 0 };
	struct brk_epochs ep;

	S.expire_runs++;
	brk_directory_epochs(F.m.dir, &ep);
	for (int p = 0; p < NPART; p++) {
		size_t done, total = 0;
		int passes = 0;

		do {
			CHECK(!brk_match_expire(&F.m, F.t1, p, at, EXPIRE_PASS, &done),
			      "brk_match_expire failed");
			total += done;
			CHECK(++passes < 10000, "expiry does not finish (%zu handled)", total);
		} while (done >= EXPIRE_PASS);
		walk_all(F.t1, p, &l);
		for (size_t i = 0; i < l.n; i++) {
			const struct brk_entry *e = &l.v[i];
			CHECK(e->expires_at > at, "an expired entry was left (%lld ms late)",
			      (long long)(at - e->expires_at));
			CHECK(e->warned || e->expires_at - F.m.conf.warn_before_ms > at,
			      "an entry in its warning window was not warned");
			CHECK(!ep.serial || brk_epochs_state(&ep, e->epoch, at) == 1,
			      "an entry of retired epoch %u was left", e->epoch);
		}
		CHECK(!brk_match_flush_head(&F.m, p, at), "flush after expiry");
	}
	free(l.v);
}

static void save(struct saved *s)
{
	memcpy(s->heads, F.heads, sizeof(F.heads));
	memcpy(s->heads2, F.heads2, sizeof(F.heads2));
	memcpy(s->aseq, F.aseq, sizeof(F.aseq));
}

static void restore_saved(const struct saved *s)
{
	memcpy(F.heads, s->heads, sizeof(F.heads));
	memcpy(F.heads2, s->heads2, sizeof(F.heads2));
	memcpy(F.aseq, s->aseq, sizeof(F.aseq));
}

/* One input: ctrl, the Submission; committed or rolled back. */
static void run(uint8_t ctrl, const uint8_t *payload, size_t len, int commit, int compare)
{
	static const int64_t expire_at[4] = { 0, MIN_MS, 170 * DAY_MS, 400 * DAY_MS };
	uint64_t warned = F.m.warned, expired = F.m.expired, hot = F.m.hot,
		 conflicts = F.m.conflicts;
	int x = (ctrl >> 3) & 3;

	F.m.dir = ctrl & 4 ? F.dir_epochs : F.dir_plain;
	F.m.conf.notify_queried = !!(ctrl & 0x20);
	F.m.conf.match_same_agency = !!(ctrl & 0x40);
	CHECK(!brk_store_begin(F.s1, 0, &F.t1) && !brk_store_begin(F.s2, 0, &F.t2),
	      "cannot begin transactions");
	submit(ctrl, payload, len);
	for (int p = 0; p < NPART; p++)
		CHECK(!brk_match_flush_head(&F.m, p, F.now), "flush failed");
	CHECK(F.m.n_acc == 0, "accepted ops left after every partition was flushed");
	if (F.keep ? F.inputs % 16 == 0 : x != 0)
		expire_all(F.keep ? F.now : F.now + expire_at[x]);
	for (int p = 0; p < NPART; p++)
		CHECK(F.aseq[p] == F.heads[p].seq, "audit head %llu, %llu events seen",
		      (unsigned long long)F.heads[p].seq, (unsigned long long)F.aseq[p]);
	replay();
	if (compare)
		compare_stores();
	log_clear();
	S.warned += F.m.warned - warned;
	S.expired += F.m.expired - expired;
	S.hot += F.m.hot - hot;
	S.conflicts += F.m.conflicts - conflicts;
	if (commit) {
		CHECK(!brk_store_commit(F.t1) && !brk_store_commit(F.t2), "commit failed");
		save(&F.base);
	} else {
		brk_store_abort(F.t1);
		brk_store_abort(F.t2);
		restore_saved(&F.base);
	}
	F.t1 = F.t2 = NULL;
}

/* ------------------------------------------------------------- set-up */

static void add_agency(const char *id, int status, int level, const char *name)
{
	Deconf__V1__DirectoryEntry e = DECONF__V1__DIRECTORY_ENTRY__INIT;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	struct brk_directory *dirs[2] = { F.dir_plain, F.dir_epochs };
	uint8_t pub[DECONF_PUBKEY_LEN], *buf;
	size_t len;
	char errstr[256];

	/* one agency key for every agency: the topic decides whose it is */
	deconf_sign_key_public(F.agency, pub);
	e.agency_id.data = (uint8_t *)id;
	e.agency_id.len = strlen(id);
	e.name = (char *)name;
	e.country = "US";
	e.level = level;
	poc.name = long_name;
	poc.phone = "+1 555 010 0000 ext 12345";
	poc.email = long_name;
	e.watch_contact = &poc;
	e.signing_public_key.data = pub;
	e.signing_public_key.len = sizeof(pub);
	e.status = status;
	CHECK(!deconf_envelope_seal(&e.base, K(MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY),
				    "federation", F.fed, &buf, &len),
	      "directory entry");
	for (int i = 0; i < 2; i++)
		CHECK(!brk_directory_apply(dirs[i], id, strlen(id), buf, len, errstr,
					   sizeof(errstr)),
		      "directory entry %s refused: %s", id, errstr);
	free(buf);
}

static void publish_epochs(void)
{
	Deconf__V1__KeyEpochs k = DECONF__V1__KEY_EPOCHS__INIT;
	Deconf__V1__KeyEpoch v[3], *pv[3];
	static const uint32_t epoch[3] = { 1, 2, 3 };
	const int64_t retire[3] = { NOW + 150 * DAY_MS, 0, NOW - 1 };
	char errstr[256];
	uint8_t *buf;
	size_t len;

	for (int i = 0; i < 3; i++) {
		deconf__v1__key_epoch__init(&v[i]);
		v[i].epoch = epoch[i];
		v[i].activated_at = NOW - 400 * DAY_MS;
		v[i].retire_at = retire[i];
		pv[i] = &v[i];
	}
	k.epochs = pv;
	k.n_epochs = 3;
	k.serial = 1;
	k.updated_at = NOW - DAY_MS;
	CHECK(!deconf_envelope_seal(&k.base, K(MESSAGE_TYPE__MESSAGE_TYPE_KEY_EPOCHS),
				    "federation", F.fed, &buf, &len),
	      "key epochs");
	CHECK(!brk_directory_apply(F.dir_epochs, BRK_EPOCHS_KEY, strlen(BRK_EPOCHS_KEY), buf, len,
				   errstr, sizeof(errstr)),
	      "key epochs refused: %s", errstr);
	free(buf);
}

/* Token numbers the baseline holds and the seeds meet. */
enum {
	TK_SHARED = 1,  /* B-1, B-2 (sealed), D-1, A-OLD: one more case is 5 */
	TK_RESTR = 2,   /* B-1, C-1 (RESTRICTED) */
	TK_IP = 3,      /* B-1: an IP seen NOW-10d .. NOW-9d */
	TK_AOLD = 4,    /* A-OLD: same agency, other case */
	TK_E2 = 5,      /* B-1 under epoch 2 */
	TK_HOT = 6,     /* six cases, more than hot_cases (5): hot */
	TK_SOON = 7,    /* B-2: expires in 10 days */
	TK_IP2 = 8,     /* C-1: an IP seen NOW-2h .. NOW-1h */
	TK_E2D = 9,     /* D-1 under epoch 2 */
	TK_FRESH = 10,  /* nobody: the seeds' new tokens start here */
};

static void baseline_one(const struct sb *b)
{
	size_t len;
	uint8_t *buf = sb_pack(b, 4 /* the epochs record: epoch 2 exists */, &len);

	run(buf[0], buf + 1, len - 1, 1, 1);
	free(buf);
}

/* The state every input starts from, built through the same path. */
static void baseline(void)
{
	struct sb b;
	uint64_t accepted = S.accepted;
	int64_t now = F.now;

	F.now -= DAY_MS;
	sb_init(&b, "agency-b", 1);
	b.sub.created_at = F.now - 1000;
	sb_op(&b, OP(ADD), "B-1", VIS_NORMAL, K(CAUTION_FLAG__CAUTION_ARMED), 0);
	sb_long_poc(&b);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(PHONE), 1, TK_RESTR, 0, 0, 0);
	sb_tok(&b, T(IP), 1, TK_IP, 0, NOW - 10 * DAY_MS, NOW - 9 * DAY_MS);
	sb_tok(&b, T(MD5), 2, TK_E2, 0, 0, 0);
	sb_tok(&b, T(USERNAME), 1, TK_HOT, 0, 0, 0);
	sb_op(&b, OP(ADD), "B-2", VIS_NORMAL, SEALED | K(CAUTION_FLAG__CAUTION_UNDERCOVER), 0);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(USERNAME), 1, TK_HOT, 0, 0, 0);
	sb_op(&b, OP(ADD), "B-2", VIS_NORMAL, SEALED, NOW + 10 * DAY_MS);
	sb_tok(&b, T(DOMAIN), 1, TK_SOON, 0, 0, 0);
	baseline_one(&b);

	sb_init(&b, "agency-c", 2);
	b.sub.created_at = F.now - 1000;
	sb_op(&b, OP(ADD), "C-1", VIS_RESTRICTED, K(CAUTION_FLAG__CAUTION_INFORMANT), 0);
	sb_tok(&b, T(PHONE), 1, TK_RESTR, 0, 0, 0);
	sb_tok(&b, T(USERNAME), 1, TK_HOT, 0, 0, 0);
	sb_tok(&b, T(IP), 1, TK_IP2, 0, NOW - 2 * 3600000LL, NOW - 3600000LL);
	sb_op(&b, OP(ADD), "C-2", VIS_NORMAL, 0, 0);
	b.op[1].poc = NULL; /* no contact: the agency's watch desk answers */
	sb_tok(&b, T(USERNAME), 1, TK_HOT, 0, 0, 0);
	baseline_one(&b);

	sb_init(&b, "agency-d", 3);
	b.sub.created_at = F.now - 1000;
	sb_op(&b, OP(ADD), long_case, VIS_NORMAL, K(CAUTION_FLAG__CAUTION_VICTIM_AT_RISK), 0);
	sb_long_poc(&b);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(SHA256), 2, TK_E2D, 0, 0, 0);
	sb_tok(&b, T(USERNAME), 1, TK_HOT, 0, 0, 0);
	baseline_one(&b);

	sb_init(&b, "agency-a", 4);
	b.sub.created_at = F.now - 1000;
	sb_op(&b, OP(ADD), "A-OLD", VIS_NORMAL, 0, NOW + 3 * DAY_MS);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(MD5), 1, TK_AOLD, 0, 0, 0);
	sb_tok(&b, T(MD5), 1, TK_AOLD, 1, 0, 0);
	sb_tok(&b, T(USERNAME), 1, TK_HOT, 0, 0, 0);
	baseline_one(&b);

	CHECK(S.accepted == accepted + 4, "the baseline was refused");
	F.now = now;
}

static void wipe_all(void)
{
	CHECK(!brk_store_begin(F.s1, 0, &F.t1) && !brk_store_begin(F.s2, 0, &F.t2),
	      "cannot begin transactions");
	for (int p = 0; p < NPART; p++)
		CHECK(!brk_store_wipe(F.t1, p) && !brk_store_wipe(F.t2, p), "wipe failed");
	CHECK(!brk_store_commit(F.t1) && !brk_store_commit(F.t2), "commit failed");
	F.t1 = F.t2 = NULL;
	memset(F.heads, 0, sizeof(F.heads));
	memset(F.heads2, 0, sizeof(F.heads2));
	memset(F.aseq, 0, sizeof(F.aseq));
	save(&F.base);
	S.wipes++;
}

static void cleanup(void)
{
	brk_store_close(F.s1);
	brk_store_close(F.s2);
	F.s1 = F.s2 = NULL;
	remove_tmp();
	if (getenv("DECONF_FUZZ_STATS")) {
		static const char *const kinds[8] = { "?", "conflict", "restricted_match",
						      "query_hit", "queried", "expiry_warning",
						      "expired", "hot_token" };
		static const char *const ops[8] = { "?", "add", "renew", "remove", "close_case",
						    "query", "?", "?" };
		fprintf(stderr, "fuzz_submission: %llu inputs, %llu accepted\n",
			(unsigned long long)S.inputs, (unsigned long long)S.accepted);
		for (int i = 1; i < 32; i++)
			if (S.reasons[i])
				fprintf(stderr, "  refused %-18s %llu\n", brk_reject_reason_name(i),
					(unsigned long long)S.reasons[i]);
		for (int i = 1; i < 6; i++)
			fprintf(stderr, "  token op %-17s %llu\n", ops[i],
				(unsigned long long)S.ops[i]);
		for (int i = 1; i < 8; i++)
			fprintf(stderr, "  notice %-19s %llu\n", kinds[i],
				(unsigned long long)S.notices[i]);
		fprintf(stderr,
			"  conflicts %llu, hot tokens %llu, expiry runs %llu (warned %llu, "
			"expired %llu)\n  changelog records %llu, replayed %llu, store "
			"comparisons %llu, wipes %llu\n",
			(unsigned long long)S.conflicts, (unsigned long long)S.hot,
			(unsigned long long)S.expire_runs, (unsigned long long)S.warned,
			(unsigned long long)S.expired, (unsigned long long)S.records,
			(unsigned long long)S.replayed, (unsigned long long)S.compares,
			(unsigned long long)S.wipes);
	}
}

/* ---------------------------------------------------------------- seeds */

static void seed_write(const char *dir, const char *name, const struct sb *b, uint8_t ctrl)
{
	char path[600], errstr[256];
	size_t len;
	uint8_t *buf = sb_pack(b, ctrl, &len);

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK(!deconf_file_write(path, buf, len, 0644, 0, errstr, sizeof(errstr)), "%s", errstr);
	free(buf);
}

#define EXP_MIN (1 << 3)
#define EXP_MID (2 << 3)
#define EXP_ALL (3 << 3)
#define CTL_QUERIED 0x20
#define CTL_SAME 0x40

static void write_seeds(const char *dir)
{
	struct sb b;

	/* an add meeting every kind of holder */
	sb_init(&b, "agency-a", 10);
	sb_op(&b, OP(ADD), "A-1", VIS_NORMAL, K(CAUTION_FLAG__CAUTION_ARMED), 0);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(PHONE), 1, TK_RESTR, 0, 0, 0);
	sb_tok(&b, T(IP), 1, TK_IP, 0, NOW - 9 * DAY_MS - 3600000, NOW - 8 * DAY_MS);
	sb_tok(&b, T(MD5), 1, TK_AOLD, 0, 0, 0);
	sb_tok(&b, T(URL), 1, TK_FRESH, 0, 0, 0);
	sb_tok(&b, T(USERNAME), 1, TK_HOT, 0, 0, 0);
	seed_write(dir, "add", &b, 0);
	seed_write(dir, "add-same-agency", &b, CTL_SAME);
	seed_write(dir, "add-expire-soon", &b, EXP_MIN);

	/* RESTRICTED: told of the others, revealed to nobody */
	sb_init(&b, "agency-a", 11);
	sb_op(&b, OP(ADD), "A-R", VIS_RESTRICTED, K(CAUTION_FLAG__CAUTION_UNDERCOVER), 0);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(PHONE), 1, TK_RESTR, 0, 0, 0);
	sb_tok(&b, T(USERNAME), 1, TK_HOT, 0, 0, 0);
	seed_write(dir, "add-restricted", &b, 0);

	/* renew what A-OLD holds (and one token it does not) */
	sb_init(&b, "agency-a", 12);
	sb_op(&b, OP(RENEW), "A-OLD", VIS_NORMAL, 0, NOW + 30 * DAY_MS);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(MD5), 1, TK_AOLD, 0, 0, 0);
	sb_tok(&b, T(MD5), 1, TK_FRESH + 1, 0, 0, 0);
	seed_write(dir, "renew", &b, 0);
	seed_write(dir, "renew-expire-mid", &b, 4 | EXP_MID);

	/* remove one token, and one never held */
	sb_init(&b, "agency-a", 13);
	sb_op(&b, OP(REMOVE), "A-OLD", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(MD5), 1, TK_AOLD, 1, 0, 0);
	sb_tok(&b, T(PHONE), 1, TK_FRESH + 2, 0, 0, 0);
	seed_write(dir, "remove", &b, 0);

	/* a new entry without contact in a case that has one (kept) */
	sb_init(&b, "agency-a", 27);
	sb_op(&b, OP(ADD), "A-OLD", VIS_NORMAL, 0, 0);
	b.op[0].poc = NULL;
	sb_tok(&b, T(DOMAIN), 1, TK_FRESH + 8, 0, 0, 0);
	sb_tok(&b, T(USERNAME), 1, TK_HOT, 0, 0, 0);
	seed_write(dir, "add-no-contact", &b, 0);

	/* close whole cases: one held, one not */
	sb_init(&b, "agency-a", 14);
	sb_op(&b, OP(CLOSE_CASE), "A-OLD", VIS_NORMAL, 0, 0);
	sb_op(&b, OP(CLOSE_CASE), "A-NONE", VIS_NORMAL, 0, 0);
	seed_write(dir, "close-case", &b, 0);

	/* close by token */
	sb_init(&b, "agency-a", 15);
	sb_op(&b, OP(CLOSE_CASE), "A-OLD", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(MD5), 1, TK_AOLD, 0, 0, 0);
	seed_write(dir, "close-token", &b, 0);

	/* queries: hits, a RESTRICTED holder, a hot token, an IP window */
	sb_init(&b, "agency-a", 16);
	sb_op(&b, OP(QUERY), "A-Q", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(PHONE), 1, TK_RESTR, 0, 0, 0);
	sb_tok(&b, T(USERNAME), 1, TK_HOT, 0, 0, 0);
	sb_tok(&b, T(IP), 1, TK_IP2, 0, NOW - 3600000, NOW);
	seed_write(dir, "query", &b, 0);
	seed_write(dir, "query-notify", &b, CTL_QUERIED);
	b.op[0].visibility = VIS_RESTRICTED;
	seed_write(dir, "query-restricted", &b, CTL_QUERIED);

	/* under the federation's epochs: epoch 2 adds, a remove under
	 * retired epoch 3, then expiry past epoch 1's retirement */
	sb_init(&b, "agency-a", 17);
	sb_op(&b, OP(ADD), "A-2", VIS_NORMAL, K(CAUTION_FLAG__CAUTION_ACTIVE_OPERATION), 0);
	sb_tok(&b, T(MD5), 2, TK_E2, 0, 0, 0);
	sb_tok(&b, T(SHA256), 2, TK_E2D, 0, 0, 0);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_op(&b, OP(REMOVE), "A-2", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(MD5), 3, TK_E2, 0, 0, 0);
	seed_write(dir, "epochs", &b, 4);
	seed_write(dir, "epochs-expire-mid", &b, 4 | EXP_MID);
	seed_write(dir, "epochs-expire-all", &b, 4 | EXP_ALL);

	/* one submission, every op, several cases and flags */
	sb_init(&b, "agency-a", 18);
	sb_op(&b, OP(ADD), "A-3", VIS_NORMAL,
	      K(CAUTION_FLAG__CAUTION_VICTIM_AT_RISK) | K(CAUTION_FLAG__CAUTION_INFORMANT),
	      NOW - 5 * DAY_MS);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(BTC), 1, TK_FRESH + 3, 0, 0, 0);
	sb_op(&b, OP(ADD), "A-4", VIS_NORMAL, SEALED, NOW + 1000 * DAY_MS);
	sb_tok(&b, T(BTC), 1, TK_FRESH + 3, 0, 0, 0);
	sb_tok(&b, T(ETH), 1, TK_FRESH + 4, 0, 0, 0);
	sb_op(&b, OP(RENEW), "A-3", VIS_NORMAL, 0, NOW + 20 * DAY_MS);
	sb_tok(&b, T(BTC), 1, TK_FRESH + 3, 0, 0, 0);
	sb_op(&b, OP(QUERY), "A-5", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(BTC), 1, TK_FRESH + 3, 0, 0, 0);
	sb_op(&b, OP(REMOVE), "A-4", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(ETH), 1, TK_FRESH + 4, 0, 0, 0);
	sb_op(&b, OP(CLOSE_CASE), "A-3", VIS_NORMAL, 0, 0);
	seed_write(dir, "every-op", &b, CTL_QUERIED);
	seed_write(dir, "every-op-expire-all", &b, CTL_QUERIED | EXP_ALL);

	/* tokens sharing their first 8 bytes in one case, one removed */
	sb_init(&b, "agency-a", 19);
	sb_op(&b, OP(ADD), "A-P", VIS_NORMAL, 0, NOW + 12 * DAY_MS);
	sb_tok(&b, T(IMEI), 1, TK_FRESH + 5, 1, 0, 0);
	sb_tok(&b, T(IMEI), 1, TK_FRESH + 5, 2, 0, 0);
	sb_tok(&b, T(IMEI), 1, TK_FRESH + 5, 3, 0, 0);
	sb_op(&b, OP(REMOVE), "A-P", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(IMEI), 1, TK_FRESH + 5, 2, 0, 0);
	seed_write(dir, "prefix", &b, 0);
	seed_write(dir, "prefix-expire-soon", &b, EXP_MIN);

	/* the same token twice, re-added by another op with another contact */
	sb_init(&b, "agency-a", 20);
	sb_op(&b, OP(ADD), "A-1", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(MAC), 1, TK_FRESH + 6, 0, 0, 0);
	sb_tok(&b, T(MAC), 1, TK_FRESH + 6, 0, 0, 0);
	sb_op(&b, OP(ADD), "A-1", VIS_NORMAL, K(CAUTION_FLAG__CAUTION_ARMED), 0);
	sb_long_poc(&b);
	sb_tok(&b, T(MAC), 1, TK_FRESH + 6, 0, 0, 0);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	seed_write(dir, "readd", &b, 0);

	/* IP windows: one beyond the slack, one at its edge */
	sb_init(&b, "agency-a", 21);
	sb_op(&b, OP(ADD), "A-IP", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(IP), 1, TK_IP, 0, NOW - 8 * DAY_MS + 1, NOW - 7 * DAY_MS);
	sb_tok(&b, T(IP), 1, TK_IP2, 0, NOW - 3600000 + 86400000, NOW + 86400000);
	seed_write(dir, "ip-windows", &b, 0);

	/* text at its bounds: the largest notices */
	sb_init(&b, "agency-a", 22);
	sb_op(&b, OP(ADD), long_case, VIS_NORMAL, 0x1f, 0);
	sb_long_poc(&b);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(PHONE), 1, TK_RESTR, 0, 0, 0);
	seed_write(dir, "long-text", &b, CTL_QUERIED);

	/* another agency, its own topic */
	sb_init(&b, "agency-b", 23);
	sb_op(&b, OP(ADD), "B-9", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	sb_tok(&b, T(VEHICLE), 1, TK_FRESH + 7, 0, 0, 0);
	seed_write(dir, "agency-b", &b, 0);
	seed_write(dir, "foreign-topic", &b, 2);
	seed_write(dir, "suspended-topic", &b, 3 | 0x80);

	/* refusals */
	sb_init(&b, "agency-a", 24);
	sb_op(&b, OP(ADD), "A-1", VIS_NORMAL, 0, 0);
	b.poc[0].unit = "Unit\x07";
	sb_tok(&b, T(EMAIL), 1, TK_SHARED, 0, 0, 0);
	seed_write(dir, "bad-text", &b, 0);
	sb_init(&b, "agency-a", 25);
	sb_op(&b, OP(ADD), "A-1", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(EMAIL), 3, TK_SHARED, 0, 0, 0);
	seed_write(dir, "stale-epoch", &b, 4);
	sb_init(&b, "agency-a", 26);
	sb_op(&b, OP(ADD), "A-1", VIS_NORMAL, 0, 0);
	sb_tok(&b, T(IP), 1, TK_IP, 0, 0, 0);
	seed_write(dir, "ip-without-window", &b, 0);
}

/* ------------------------------------------------------------- mutator */

/*
 * Byte mutations of a protobuf mostly break its framing (a run of them left
 * 86% of inputs MALFORMED), so half of the mutations are made on the parsed
 * Submission instead: ops, visibility, flags, expiry, case refs, tokens
 * (from the baseline's and fresh ones), types, epochs, IP windows, contacts
 * (dropped, at their bound, with a control character or broken UTF-8),
 * agency, creation time, and ops or tokens copied or dropped. The other
 * half are libFuzzer's own, for the parser and ingest's refusals.
 */

static unsigned pick(unsigned *r, unsigned n)
{
	*r ^= *r << 13;
	*r ^= *r >> 17;
	*r ^= *r << 5;
	return n ? *r % n : 0;
}

/* Copy a parsed Submission into a builder (its text stays borrowed from
 * sub; at most SB_OPS ops of SB_TOKS tokens). */
static void sb_from(struct sb *b, const Deconf__V1__Submission *sub)
{
	char agency[64];
	size_t al = sub->agency_id.len < sizeof(agency) - 1 ? sub->agency_id.len : sizeof(agency) - 1;

	if (al)
		memcpy(agency, sub->agency_id.data, al);
	agency[al] = '\0';
	sb_init(b, agency, 0);
	b->sub.agency_id.len = al; /* may hold a NUL: kept as is */
	if (al)
		memcpy(b->agency, sub->agency_id.data, al);
	b->sub.submission_id.len = sub->submission_id.len < 16 ? sub->submission_id.len : 16;
	if (b->sub.submission_id.len)
		memcpy(b->sid, sub->submission_id.data, b->sub.submission_id.len);
	b->sub.created_at = sub->created_at;
	for (size_t i = 0; i < sub->n_ops && i < SB_OPS; i++) {
		const Deconf__V1__CaseOp *o = sub->ops[i];
		Deconf__V1__CaseOp *n = sb_op(b, o->op, "x", o->visibility, o->caution_flags,
					      o->expires_at);
		n->case_ref = o->case_ref;
		if (o->poc)
			b->poc[i] = *o->poc;
		else
			n->poc = NULL;
		for (size_t j = 0; j < o->n_tokens && j < SB_TOKS; j++) {
			const Deconf__V1__TokenRef *t = o->tokens[j];
			sb_tok(b, t->type, t->key_epoch, 0, 0, t->valid_from, t->valid_to);
			b->tr[i][j].token.len = t->token.len < 16 ? t->token.len : 16;
			if (b->tr[i][j].token.len)
				memcpy(b->tok[i][j], t->token.data, b->tr[i][j].token.len);
		}
	}
}

static void mutate_one(struct sb *b, uint8_t *ctrl, unsigned *r)
{
	static const char *const cases[] = { "A-1", "A-OLD", "A-R", "A-2", "A-3", "B-1",
					      "C-1", "D-9", "A-1 ", "\xc3\xa9" };
	static const char *const agencies[] = { "agency-a", "agency-b", "agency-c",
						"agency-d", "agency-s", "nobody" };
	static const int64_t expiry[] = { 0,
					  NOW - 5 * DAY_MS,
					  NOW + 1000,
					  NOW + 10 * DAY_MS,
					  NOW + 100 * DAY_MS,
					  NOW + 1000 * DAY_MS,
					  -1,
					  INT64_MAX };
	static const int64_t windows[] = { 0,
					   NOW - 10 * DAY_MS,
					   NOW - 9 * DAY_MS,
					   NOW - 8 * DAY_MS,
					   NOW - 2 * 3600000LL,
					   NOW - 3600000LL,
					   NOW,
					   NOW + DAY_MS,
					   INT64_MAX,
					   -1 };
	static const uint32_t epochs[] = { 1, 1, 2, 3, 4, 0, UINT32_MAX };
	static const uint32_t flags[] = { 1, 2, 4, 8, 16, 32, 64 };
	size_t nops = b->sub.n_ops, i = pick(r, (unsigned)(nops ? nops : 1));
	Deconf__V1__CaseOp *o = nops ? &b->op[i] : NULL;
	Deconf__V1__TokenRef *t = o && o->n_tokens ? &b->tr[i][pick(r, (unsigned)o->n_tokens)] : NULL;

	switch (pick(r, 20)) {
	case 0: *ctrl ^= (uint8_t)(1u << pick(r, 8)); break;
	case 1:
		if (o)
			o->op = 1 + pick(r, 5) + (pick(r, 16) ? 0 : 5);
		break;
	case 2:
		if (o)
			o->visibility = pick(r, 3);
		break;
	case 3:
		if (o)
			o->caution_flags ^= flags[pick(r, 7)];
		break;
	case 4:
		if (o)
			o->expires_at = expiry[pick(r, 8)];
		break;
	case 5:
		if (o) {
			const char *c = pick(r, 8) ? cases[pick(r, 10)] : long_case;
			o->case_ref.data = (uint8_t *)c;
			o->case_ref.len = strlen(c);
		}
		break;
	case 6:
	case 7:
		if (t) {
			tok(b->tok[i][t - b->tr[i]], (uint8_t)(1 + pick(r, TK_FRESH + 8)),
			    (uint8_t)pick(r, 4));
			t->token.len = 16;
		}
		break;
	case 8:
		if (t)
			t->type = pick(r, 16);
		break;
	case 9:
		if (t)
			t->key_epoch = epochs[pick(r, 7)];
		break;
	case 10:
		if (t) {
			t->valid_from = windows[pick(r, 10)];
			/* wraps past INT64_MAX on purpose: a negative end */
			t->valid_to = pick(r, 4) ? (int64_t)((uint64_t)t->valid_from +
							     pick(r, 3) * 3600000ULL)
						 : windows[pick(r, 10)];
			if (t->valid_to < 0 && t->valid_from > 0)
				t->valid_to = INT64_MAX;
		}
		break;
	case 11: /* another case holding the same: towards hot tokens */
		if (o && nops < SB_OPS) {
			size_t k = b->sub.n_ops++;
			b->op[k] = *o;
			b->poc[k] = b->poc[i];
			b->op[k].poc = o->poc ? &b->poc[k] : NULL;
			memcpy(b->tr[k], b->tr[i], sizeof(b->tr[i]));
			memcpy(b->tok[k], b->tok[i], sizeof(b->tok[i]));
			for (size_t j = 0; j < SB_TOKS; j++) {
				b->tr[k][j].token.data = b->tok[k][j];
				b->ptr[k][j] = &b->tr[k][j];
			}
			b->op[k].tokens = b->ptr[k];
			b->pop[k] = &b->op[k];
			b->op[k].case_ref.data = (uint8_t *)cases[pick(r, 10)];
			b->op[k].case_ref.len = strlen((const char *)b->op[k].case_ref.data);
		}
		break;
	case 12:
		if (o && o->n_tokens < SB_TOKS) {
			b->sub.n_ops = i + 1; /* sb_tok appends to the last op */
			sb_tok(b, pick(r, 15), epochs[pick(r, 3)], (uint8_t)(1 + pick(r, TK_FRESH + 8)),
			       (uint8_t)pick(r, 4), windows[pick(r, 8)], 0);
			b->sub.n_ops = nops;
		}
		break;
	case 13:
		if (o && o->n_tokens)
			o->n_tokens--;
		break;
	case 14:
		if (nops > 1) {
			b->sub.n_ops--;
		}
		break;
	case 15:
		if (o) {
			switch (pick(r, 4)) {
			case 0: o->poc = NULL; break;
			case 1:
				o->poc = &b->poc[i];
				b->poc[i].name = b->poc[i].phone = long_text;
				b->poc[i].email = b->poc[i].unit = long_text;
				break;
			case 2:
				o->poc = &b->poc[i];
				b->poc[i].phone = pick(r, 2) ? "+1\x1b[31m" : "+1 \xff\xfe";
				break;
			default:
				o->poc = &b->poc[i];
				b->poc[i].name = "Det. \xe2\x80\xae Noor"; /* U+202E */
			}
		}
		break;
	case 16:
		snprintf(b->agency, sizeof(b->agency), "%s", agencies[pick(r, 6)]);
		b->sub.agency_id.len = strlen(b->agency);
		break;
	case 17:
		b->sub.created_at = pick(r, 3) ? NOW - 1000 : NOW + 2 * DAY_MS;
		break;
	case 18:
		b->sub.submission_id.len = pick(r, 8) ? 16 : pick(r, 16);
		break;
	default:
		if (nops < SB_OPS) {
			sb_op(b, 1 + pick(r, 5), cases[pick(r, 10)], pick(r, 3), 0, 0);
			if (pick(r, 4))
				sb_tok(b, 1 + pick(r, 14), 1, (uint8_t)(1 + pick(r, TK_FRESH + 8)), 0,
				       NOW - DAY_MS, NOW);
		}
	}
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	Deconf__V1__Submission *sub;
	struct sb *b;
	unsigned r = seed | 1;
	uint8_t ctrl, *out;
	size_t len;

	if (size < 1 || pick(&r, 2) ||
	    !(sub = deconf__v1__submission__unpack(NULL, size - 1, data + 1)))
		return LLVMFuzzerMutate(data, size, max_size);
	b = xmalloc(sizeof(*b));
	sb_from(b, sub);
	ctrl = data[0];
	for (unsigned n = 1 + pick(&r, 3); n; n--)
		mutate_one(b, &ctrl, &r);
	out = sb_pack(b, ctrl, &len);
	deconf__v1__submission__free_unpacked(sub, NULL);
	free(b);
	if (len > max_size) {
		free(out);
		return LLVMFuzzerMutate(data, size, max_size);
	}
	memcpy(data, out, len);
	free(out);
	return len;
}

/* ------------------------------------------------------------ libFuzzer */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("DECONF_FUZZ_WRITE_SEEDS"), *base;
	char errstr[256];

	(void)argc;
	(void)argv;
	long_init();
	if (seeds) {
		if (mkdir(seeds, 0755) && errno != EEXIST)
			die("%s: %s", seeds, strerror(errno));
		write_seeds(seeds);
		exit(0);
	}
	CHECK(!deconf_sign_key_generate(&F.fed, NULL, 0) &&
		      !deconf_sign_key_generate(&F.agency, NULL, 0) &&
		      !deconf_sign_key_generate(&F.broker, NULL, 0),
	      "key generation");
	CHECK(!brk_directory_new(&F.dir_plain, F.fed) && !brk_directory_new(&F.dir_epochs, F.fed),
	      "directory");
	add_agency("agency-a", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE),
		   K(AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL), "Agency A");
	add_agency("agency-b", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE),
		   K(AGENCY_LEVEL__AGENCY_LEVEL_STATE), long_name);
	add_agency("agency-c", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE),
		   K(AGENCY_LEVEL__AGENCY_LEVEL_LOCAL), "Agency C");
	add_agency("agency-d", K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE),
		   K(AGENCY_LEVEL__AGENCY_LEVEL_INTERNATIONAL), long_name);
	add_agency("agency-s", K(AGENCY_STATUS__AGENCY_STATUS_SUSPENDED),
		   K(AGENCY_LEVEL__AGENCY_LEVEL_TRIBAL), "Agency S");
	publish_epochs();

	/* tmpfs when there is one: every commit syncs */
	base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	snprintf(F.tmp, sizeof(F.tmp), "%s/deconf-fuzz-XXXXXX", base && *base ? base : "/tmp");
	CHECK(mkdtemp(F.tmp), "mkdtemp %s: %s", F.tmp, strerror(errno));
	snprintf(F.path1, sizeof(F.path1), "%s/matcher", F.tmp);
	snprintf(F.path2, sizeof(F.path2), "%s/restored", F.tmp);
	atexit(cleanup);
	__sanitizer_set_death_callback(remove_tmp); /* ASan's and UBSan's reports */
	CHECK(!brk_store_open(&F.s1, F.path1, MAP_SIZE, errstr, sizeof(errstr)) &&
		      !brk_store_open(&F.s2, F.path2, MAP_SIZE, errstr, sizeof(errstr)),
	      "store: %s", errstr);

	F.m.conf = (struct brk_match_conf){ .ip_slack_ms = DAY_MS,
					    .ttl_ms = 180 * DAY_MS,
					    .ttl_ip_ms = 90 * DAY_MS,
					    .ttl_max_ms = 365 * DAY_MS,
					    .warn_before_ms = 14 * DAY_MS,
					    .hot_cases = 5 };
	F.m.heads = F.heads;
	F.m.out = (struct brk_match_out){ NULL, out_notice, out_state, out_audit, out_ops };
	F.keep = getenv("DECONF_FUZZ_KEEP") && atoi(getenv("DECONF_FUZZ_KEEP"));
	F.now = NOW;
	baseline();
	memset(&S, 0, sizeof(S)); /* count what the inputs reach, not the baseline */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	S.inputs++;
	F.inputs++;
	if (F.keep) {
		uint64_t entries = 0, bytes = 0;

		F.now = NOW + (int64_t)F.inputs * MIN_MS;
		run(data[0], data + 1, size - 1, 1, F.inputs % KEEP_COMPARE_EVERY == 0);
		CHECK(!brk_store_stats(F.s1, &entries, &bytes), "stats");
		if (entries > KEEP_MAX_ENTRIES) {
			wipe_all();
			baseline();
		}
		return 0;
	}
	run(data[0], data + 1, size - 1, 0, 1);
	return 0;
}
