/* audit.c — audit checkpoints and the audit trail's verifier (see audit.h). */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "deconf.pb-c.h"
#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/log.h"
#include "deconf/util.h"

#define K(x) DECONF__V1__##x
#define CKPT_CONTEXT "deconf.v1.AuditCheckpoint"
#define MAX_RECORD (1 << 20)
#define IDLE_MS 30000 /* nothing at all from Kafka this long: give up */

/* ----------------------------------------------------------- checkpoints */

/* context 0x00 u32be(chain) u64be(seq) hash[32] i64be(at) */
#define CKPT_MSG_LEN (sizeof(CKPT_CONTEXT) + 4 + 8 + 32 + 8)

static void ckpt_msg(uint8_t *m, uint32_t chain, uint64_t seq, const uint8_t hash[32],
		     int64_t at)
{
	size_t o = sizeof(CKPT_CONTEXT); /* the context and its NUL */

	memcpy(m, CKPT_CONTEXT, o);
	for (int i = 0; i < 4; i++)
		m[o++] = (uint8_t)(chain >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		m[o++] = (uint8_t)(seq >> (56 - 8 * i));
	memcpy(m + o, hash, 32);
	o += 32;
	for (int i = 0; i < 8; i++)
		m[o++] = (uint8_t)((uint64_t)at >> (56 - 8 * i));
}

int brk_audit_checkpoint_sign(const struct deconf_sign_key *key, uint32_t chain, uint64_t seq,
			      const uint8_t hash[32], int64_t at, uint8_t sig[DECONF_SIG_LEN])
{
	uint8_t m[CKPT_MSG_LEN];

	ckpt_msg(m, chain, seq, hash, at);
	return deconf_sign(key, m, sizeof(m), sig);
}

int brk_audit_checkpoint_verify(const struct deconf_sign_key *key, uint32_t chain, uint64_t seq,
				const uint8_t hash[32], int64_t at, const uint8_t *sig,
				size_t sig_len)
{
	uint8_t m[CKPT_MSG_LEN];

	if (!key || !sig || sig_len != DECONF_SIG_LEN)
		return DECONF_E_BADSIG;
	ckpt_msg(m, chain, seq, hash, at);
	return deconf_verify(key, m, sizeof(m), sig, sig_len) ? DECONF_E_BADSIG : DECONF_OK;
}

/* ---------------------------------------------------------------- runs */

/*
 * A run: records of one chain in one partition, each linked to the one
 * before (seq + 1, prev_hash = its hash). A record that does not link to
 * its chain's open run in its partition begins a new run; at the end runs
 * are linked to each other by (seq, hash), and whatever does not link is a
 * break. That follows a chain across partitions, in any order they are read.
 */
struct run {
	uint32_t chain;
	int32_t partition;
	uint64_t first_seq, last_seq;
	uint8_t first_prev[32], last_hash[32];
	int64_t first_offset, last_offset;
	uint64_t records, checkpoints;
	int has_ckpt;
	uint64_t ckpt_head_seq; /* the head the run's last good checkpoint signed */
	uint64_t after_ckpt;    /* records after it (all records without one) */
	int start;              /* begins at seq 1, prev_hash zeros */
	int first_here;         /* the chain's first run in its partition */
	int next, prev;         /* linked runs; -1: none */
};

struct open_run {
	int32_t partition;
	int run;
};

struct chain_state {
	int seen;
	struct open_run *open; /* the chain's last run in each partition */
	size_t n_open, cap_open;
	int *runs;             /* its runs, in the order they began */
	size_t n_runs, cap_runs;
	struct brk_audit_chain c;
};

struct brk_audit_verifier {
	const struct deconf_sign_key *key;
	struct run *runs;
	size_t n_runs, cap_runs;
	struct chain_state *chains; /* BRK_AUDIT_MAX_CHAINS */
	int32_t *trusted;           /* partitions read from a --from */
	size_t n_trusted, cap_trusted;
	uint64_t records, stray;
	struct brk_audit_break first_stray;
};

static const char *const break_names[] = { "ok", "gap", "altered", "duplicate",
					   "bad signature", "malformed", "no start" };

const char *brk_audit_break_name(int kind)
{
	if (kind < 0 || (size_t)kind >= sizeof(break_names) / sizeof(break_names[0]))
		return "unknown";
	return break_names[kind];
}

/* Keep the break if it is the first (lowest partition, then offset). */
static void note_break(struct brk_audit_break *first, uint64_t *count, int kind,
		       int32_t partition, int64_t offset, uint64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static void note_break(struct brk_audit_break *first, uint64_t *count, int kind,
		       int32_t partition, int64_t offset, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	(*count)++;
	if (first->kind != BRK_AUDIT_OK &&
	    (first->partition < partition ||
	     (first->partition == partition && first->offset <= offset)))
		return;
	first->kind = kind;
	first->partition = partition;
	first->offset = offset;
	first->seq = seq;
	va_start(ap, fmt);
	vsnprintf(first->what, sizeof(first->what), fmt, ap);
	va_end(ap);
}

int brk_audit_verifier_new(struct brk_audit_verifier **out, const struct deconf_sign_key *key)
{
	struct brk_audit_verifier *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (!v || !(v->chains = calloc(BRK_AUDIT_MAX_CHAINS, sizeof(*v->chains)))) {
		free(v);
		return DECONF_E_NOMEM;
	}
	v->key = key;
	*out = v;
	return DECONF_OK;
}

int brk_audit_verifier_trust_start(struct brk_audit_verifier *v, int32_t partition)
{
	if (DECONF_GROW(v->trusted, v->n_trusted, v->cap_trusted, 16))
		return DECONF_E_NOMEM;
	v->trusted[v->n_trusted++] = partition;
	return DECONF_OK;
}

void brk_audit_verifier_free(struct brk_audit_verifier *v)
{
	if (!v)
		return;
	for (int i = 0; i < BRK_AUDIT_MAX_CHAINS; i++) {
		free(v->chains[i].open);
		free(v->chains[i].runs);
	}
	free(v->chains);
	free(v->runs);
	free(v->trusted);
	free(v);
}

static int chain_break(struct chain_state *cs, int kind, int32_t p, int64_t o, uint64_t seq,
		       const char *what)
{
	note_break(&cs->c.first_break, &cs->c.breaks, kind, p, o, seq, "%s", what);
	return DECONF_OK;
}

/* A record that is no audit event: its chain's break when its key names
 * one (the matcher keys each record u32be(chain)), else a stray record. */
static void malformed(struct brk_audit_verifier *v, int32_t p, int64_t o, const uint8_t *key,
		      size_t key_len, const char *why)
{
	uint32_t chain = UINT32_MAX;
	char what[200];

	if (key && key_len == 4)
		chain = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 |
			key[3];
	snprintf(what, sizeof(what), "not an audit event (%s)", why);
	if (chain < BRK_AUDIT_MAX_CHAINS) {
		struct chain_state *cs = &v->chains[chain];
		if (!cs->seen) {
			cs->seen = 1;
			cs->c.chain = chain;
		}
		cs->c.records++;
		chain_break(cs, BRK_AUDIT_MALFORMED, p, o, 0, what);
		return;
	}
	v->stray++;
	if (v->first_stray.kind == BRK_AUDIT_OK) {
		uint64_t n = 0;
		note_break(&v->first_stray, &n, BRK_AUDIT_MALFORMED, p, o, 0, "%s", what);
	}
}

static int new_run(struct brk_audit_verifier *v, struct chain_state *cs, int32_t p, int *out)
{
	struct open_run *o = NULL;
	struct run *r;

	if (v->n_runs >= BRK_AUDIT_MAX_RUNS)
		return DECONF_E_TOOBIG;
	for (size_t i = 0; i < cs->n_open; i++)
		if (cs->open[i].partition == p)
			o = &cs->open[i];
	if (DECONF_GROW(v->runs, v->n_runs, v->cap_runs, 64) ||
	    DECONF_GROW(cs->runs, cs->n_runs, cs->cap_runs, 4) ||
	    (!o && DECONF_GROW(cs->open, cs->n_open, cs->cap_open, 4)))
		return DECONF_E_NOMEM;
	r = &v->runs[v->n_runs];
	memset(r, 0, sizeof(*r));
	r->partition = p;
	r->first_here = !o;
	r->next = r->prev = -1;
	if (!o) {
		o = &cs->open[cs->n_open++];
		o->partition = p;
	}
	o->run = (int)v->n_runs;
	cs->runs[cs->n_runs++] = (int)v->n_runs;
	*out = (int)v->n_runs++;
	return DECONF_OK;
}

int brk_audit_verifier_add(struct brk_audit_verifier *v, int32_t p, int64_t offset,
			   const void *keyp, size_t key_len, const void *value, size_t len)
{
	static const uint8_t zeros[32];
	Deconf__V1__Envelope *env = NULL;
	Deconf__V1__AuditEvent *ev = NULL;
	struct chain_state *cs;
	struct run *r = NULL;
	uint8_t hash[32];
	char why[200] = "";
	int rc = DECONF_OK, ri = -1;

	v->records++;
	if (!value) {
		malformed(v, p, offset, keyp, key_len, "an empty record");
		return DECONF_OK;
	}
	if (deconf_envelope_unpack(value, len, MAX_RECORD, &env, why, sizeof(why)) ||
	    (env->type != K(MESSAGE_TYPE__MESSAGE_TYPE_AUDIT_EVENT) &&
	     snprintf(why, sizeof(why), "an Envelope of type %d", (int)env->type)) ||
	    deconf_envelope_payload(env, &deconf__v1__audit_event__descriptor,
				    (ProtobufCMessage **)&ev, why, sizeof(why))) {
		malformed(v, p, offset, keyp, key_len, why);
		goto out;
	}
	if (ev->chain >= BRK_AUDIT_MAX_CHAINS || ev->seq == 0 || ev->prev_hash.len != 32) {
		snprintf(why, sizeof(why), "chain %" PRIu32 ", seq %" PRIu64 ", %zu-byte prev_hash",
			 ev->chain, ev->seq, ev->prev_hash.len);
		malformed(v, p, offset, keyp, key_len, why);
		goto out;
	}
	EVP_Digest(env->payload.data, env->payload.len, hash, NULL, EVP_sha256(), NULL);
	cs = &v->chains[ev->chain];
	if (!cs->seen) {
		cs->seen = 1;
		cs->c.chain = ev->chain;
	}
	cs->c.records++;
	for (size_t i = 0; i < cs->n_open; i++)
		if (cs->open[i].partition == p)
			r = &v->runs[cs->open[i].run];
	if (!r || ev->seq != r->last_seq + 1 || memcmp(ev->prev_hash.data, r->last_hash, 32)) {
		if ((rc = new_run(v, cs, p, &ri)))
			goto out;
		r = &v->runs[ri];
		r->chain = ev->chain;
		r->first_seq = ev->seq;
		memcpy(r->first_prev, ev->prev_hash.data, 32);
		r->first_offset = offset;
		r->start = ev->seq == 1 && !memcmp(ev->prev_hash.data, zeros, 32);
	}
	r->last_seq = ev->seq;
	memcpy(r->last_hash, hash, 32);
	r->last_offset = offset;
	r->records++;
	if (ev->kind == K(AUDIT_KIND__AUDIT_KIND_CHECKPOINT)) {
		/* the signature is over the checkpoint's own fields: checked here;
		 * that they are the chain's (seq, hash) is the links' check */
		if (brk_audit_checkpoint_verify(v->key, ev->chain, ev->seq - 1,
						ev->prev_hash.data, ev->at,
						ev->checkpoint_signature.data,
						ev->checkpoint_signature.len)) {
			snprintf(why, sizeof(why),
				 "checkpoint of seq %" PRIu64 " is not signed by the broker's key%s",
				 ev->seq - 1,
				 ev->checkpoint_signature.len ? "" : " (no signature)");
			chain_break(cs, BRK_AUDIT_BAD_SIGNATURE, p, offset, ev->seq, why);
			r->after_ckpt++;
		} else {
			r->checkpoints++;
			r->has_ckpt = 1;
			r->ckpt_head_seq = ev->seq - 1;
			r->after_ckpt = 0;
		}
	} else {
		r->after_ckpt++;
	}
out:
	deconf_msg_free(ev);
	deconf_msg_free(env);
	return rc;
}

static int trusted(const struct brk_audit_verifier *v, int32_t p)
{
	for (size_t i = 0; i < v->n_trusted; i++)
		if (v->trusted[i] == p)
			return 1;
	return 0;
}

/* Run ri of cs links to nothing: why, as a break. */
static void unlinked(struct brk_audit_verifier *v, struct chain_state *cs, int ri)
{
	struct run *r = &v->runs[ri], *below = NULL, *at = NULL, *above = NULL;
	char what[256];

	for (size_t i = 0; i < cs->n_runs; i++) {
		struct run *q = &v->runs[cs->runs[i]];
		if (cs->runs[i] == ri)
			continue;
		if (q->last_seq + 1 == r->first_seq)
			at = q;
		else if (q->last_seq + 1 < r->first_seq && (!below || q->last_seq > below->last_seq))
			below = q;
		else if (q->last_seq >= r->first_seq && !above)
			above = q;
	}
	if (at) {
		/* the record before does not hash to what this one links to: it
		 * was altered (or this one's prev_hash was) */
		snprintf(what, sizeof(what),
			 "seq %" PRIu64 " does not hash to what seq %" PRIu64
			 " (partition %" PRId32 " offset %" PRId64 ") links to: altered",
			 at->last_seq, r->first_seq, r->partition, r->first_offset);
		chain_break(cs, BRK_AUDIT_ALTERED, at->partition, at->last_offset, at->last_seq,
			    what);
	} else if (below) {
		snprintf(what, sizeof(what),
			 "seq %" PRIu64 " follows seq %" PRIu64 " (partition %" PRId32
			 " offset %" PRId64 "): %" PRIu64 " record(s) removed",
			 r->first_seq, below->last_seq, below->partition, below->last_offset,
			 r->first_seq - below->last_seq - 1);
		chain_break(cs, BRK_AUDIT_GAP, r->partition, r->first_offset, r->first_seq, what);
	} else if (above) {
		snprintf(what, sizeof(what),
			 "seq %" PRIu64 " again: the chain already reached seq %" PRIu64
			 " (partition %" PRId32 " offset %" PRId64 ")",
			 r->first_seq, above->last_seq, above->partition, above->last_offset);
		chain_break(cs, BRK_AUDIT_DUPLICATE, r->partition, r->first_offset, r->first_seq,
			    what);
	} else if (r->first_seq == 1) {
		chain_break(cs, BRK_AUDIT_ALTERED, r->partition, r->first_offset, 1,
			    "seq 1 links to a previous record (prev_hash not zeros)");
	} else {
		snprintf(what, sizeof(what),
			 "the chain starts at seq %" PRIu64 ": seq 1..%" PRIu64
			 " are not on the topic",
			 r->first_seq, r->first_seq - 1);
		chain_break(cs, BRK_AUDIT_NO_START, r->partition, r->first_offset, r->first_seq,
			    what);
	}
}

static void finish_chain(struct brk_audit_verifier *v, struct chain_state *cs)
{
	int starts = 0, first_root = -1, last_root;

	for (size_t i = 0; i < cs->n_runs; i++) {
		int ri = cs->runs[i], pred = -1, taken = -1;
		struct run *r = &v->runs[ri];

		if (r->start) {
			starts++;
			goto root;
		}
		for (size_t j = 0; j < cs->n_runs; j++) {
			struct run *q = &v->runs[cs->runs[j]];
			if (cs->runs[j] == ri || q->last_seq + 1 != r->first_seq ||
			    memcmp(q->last_hash, r->first_prev, 32))
				continue;
			if (q->next < 0) {
				pred = cs->runs[j];
				break;
			}
			taken = cs->runs[j];
		}
		if (pred >= 0) {
			v->runs[pred].next = ri;
			r->prev = pred;
			continue;
		}
		if (taken >= 0) {
			char what[200];
			snprintf(what, sizeof(what),
				 "seq %" PRIu64 " again: a second record links to seq %" PRIu64
				 " (partition %" PRId32 " offset %" PRId64 ")",
				 r->first_seq, v->runs[taken].last_seq, v->runs[taken].partition,
				 v->runs[taken].last_offset);
			chain_break(cs, BRK_AUDIT_DUPLICATE, r->partition, r->first_offset,
				    r->first_seq, what);
		} else if (r->first_here && trusted(v, r->partition) && !cs->c.trusted_start) {
			/* where --from began: its first record on trust */
			cs->c.trusted_start = 1;
			cs->c.start_partition = r->partition;
			cs->c.start_offset = r->first_offset;
		} else {
			unlinked(v, cs, ri);
		}
root:
		if (first_root < 0)
			first_root = ri;
		last_root = ri;
	}
	/* one start is the chain's; any other (or any, when the chain was
	 * already going where the check began) is a restart */
	cs->c.restarts = (uint64_t)(starts - (starts && !cs->c.trusted_start ? 1 : 0));
	if (first_root < 0) /* every run linked (a cycle cannot be: seq grows) */
		return;
	/* the chain as it stands: the lineage of its last record read (after a
	 * restart the new one; after a break, what follows it) */
	for (last_root = cs->runs[cs->n_runs - 1]; v->runs[last_root].prev >= 0;)
		last_root = v->runs[last_root].prev;
	if (!cs->c.trusted_start) {
		cs->c.start_partition = v->runs[first_root].partition;
		cs->c.start_offset = v->runs[first_root].first_offset;
	}
	cs->c.first_seq = v->runs[first_root].first_seq;
	/* every lineage from a root: the records no checkpoint covers */
	for (size_t i = 0; i < cs->n_runs; i++) {
		struct run *r = &v->runs[cs->runs[i]];
		uint64_t tail = 0, ck = 0;
		int has = 0;

		if (r->prev >= 0)
			continue;
		for (int ri = cs->runs[i]; ri >= 0; ri = v->runs[ri].next) {
			struct run *q = &v->runs[ri];
			cs->c.checkpoints += q->checkpoints;
			if (q->has_ckpt) {
				tail = q->after_ckpt;
				ck = q->ckpt_head_seq;
				has = 1;
			} else {
				tail += q->records;
			}
			if (cs->runs[i] == last_root) {
				cs->c.last_seq = q->last_seq;
				cs->c.checkpointed_seq = has ? ck : 0;
			}
		}
		cs->c.unprotected += tail;
	}
}

int brk_audit_verifier_finish(struct brk_audit_verifier *v, struct brk_audit_report *r)
{
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	for (int i = 0; i < BRK_AUDIT_MAX_CHAINS; i++)
		n += v->chains[i].seen;
	if (n && !(r->chains = calloc(n, sizeof(*r->chains))))
		return DECONF_E_NOMEM;
	for (int i = 0; i < BRK_AUDIT_MAX_CHAINS; i++) {
		struct chain_state *cs = &v->chains[i];
		if (!cs->seen)
			continue;
		finish_chain(v, cs);
		r->chains[r->n_chains++] = cs->c;
		r->breaks += cs->c.breaks;
	}
	r->records = v->records;
	r->stray = v->stray;
	r->first_stray = v->first_stray;
	r->breaks += v->stray;
	r->from_given = v->n_trusted > 0;
	return DECONF_OK;
}

void brk_audit_report_clear(struct brk_audit_report *r)
{
	if (!r)
		return;
	free(r->chains);
	memset(r, 0, sizeof(*r));
}

void brk_audit_report_print(const struct brk_audit_report *r, FILE *out)
{
	uint64_t broken = 0;

	fprintf(out, "audit %s: %zu chain(s), %" PRIu64 " record(s), %s\n", r->topic, r->n_chains,
		r->records, r->from_given ? "from --from" : "from the beginning");
	for (size_t i = 0; i < r->n_chains; i++) {
		const struct brk_audit_chain *c = &r->chains[i];
		const struct brk_audit_break *b = &c->first_break;

		fprintf(out, "chain %" PRIu32 ": %" PRIu64 " records (seq %" PRIu64 "..%" PRIu64
			"), %" PRIu64 " checkpoints verified, last checkpointed seq ",
			c->chain, c->records, c->first_seq, c->last_seq, c->checkpoints);
		if (c->checkpointed_seq)
			fprintf(out, "%" PRIu64, c->checkpointed_seq);
		else
			fputs("none", out);
		fprintf(out, ", unprotected tail %" PRIu64, c->unprotected);
		if (c->restarts)
			fprintf(out, ", %" PRIu64 " restart(s)", c->restarts);
		if (c->trusted_start)
			fprintf(out,
				", started mid-way at partition %" PRId32 " offset %" PRId64
				" (seq %" PRIu64 "), taken on trust",
				c->start_partition, c->start_offset, c->first_seq);
		if (b->kind == BRK_AUDIT_OK) {
			fputs(": ok\n", out);
			continue;
		}
		broken++;
		fprintf(out, ": BREAK %s at partition %" PRId32 " offset %" PRId64 " (seq %" PRIu64
			"): %s",
			brk_audit_break_name(b->kind), b->partition, b->offset, b->seq, b->what);
		if (c->breaks > 1)
			fprintf(out, " (+%" PRIu64 " more)", c->breaks - 1);
		fputc('\n', out);
	}
	if (r->stray)
		fprintf(out, "records of no chain: %" PRIu64 ", first at partition %" PRId32
			" offset %" PRId64 ": %s\n",
			r->stray, r->first_stray.partition, r->first_stray.offset,
			r->first_stray.what);
	if (!r->breaks)
		fputs("result: ok\n", out);
	else
		fprintf(out, "result: BROKEN: %" PRIu64 " break(s) in %" PRIu64 " chain(s)%s\n",
			r->breaks, broken, r->stray ? " and records of no chain" : "");
}

/* ------------------------------------------------------------ with Kafka */

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int brk_audit_from_parse(const char *s, struct brk_audit_from *from, char *errstr,
			 size_t errstr_size)
{
	int y, mo, d, h, mi, sec, used = 0;

	memset(from, 0, sizeof(*from));
	if (!s || !*s)
		return DECONF_OK;
	if (s[0] == '@') {
		char *end;
		long long ms = strtoll(s + 1, &end, 10);
		if (end == s + 1 || *end || ms <= 0)
			goto bad;
		from->time_ms = ms;
		return DECONF_OK;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &used) == 6 &&
	    !s[used]) {
		if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
		    sec > 60 || h < 0 || mi < 0 || sec < 0)
			goto bad;
		from->time_ms = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) *
					60000LL +
				sec * 1000LL;
		return from->time_ms > 0 ? DECONF_OK : DECONF_E_INVAL;
	}
	for (const char *p = s; *p;) {
		char *end;
		long part, off;

		if (from->n == (int)(sizeof(from->partitions) / sizeof(from->partitions[0])))
			goto bad;
		part = strtol(p, &end, 10);
		if (end == p || *end != ':' || part < 0 || part > INT32_MAX)
			goto bad;
		p = end + 1;
		off = strtol(p, &end, 10);
		if (end == p || off < 0 || (*end && *end != ','))
			goto bad;
		for (int i = 0; i < from->n; i++)
			if (from->partitions[i] == (int32_t)part)
				goto bad;
		from->partitions[from->n] = (int32_t)part;
		from->offsets[from->n++] = off;
		p = *end ? end + 1 : end;
		if (*end && !*p)
			goto bad;
	}
	return DECONF_OK;
bad:
	memset(from, 0, sizeof(*from));
	return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
			      "--from %s: expected PARTITION:OFFSET[,PARTITION:OFFSET...], @UNIX_MS "
			      "or YYYY-MM-DDTHH:MM:SSZ",
			      s);
}

/* Where each partition's check begins (start[p]; a value >= hi[p]: nothing
 * to read). */
static int start_offsets(rd_kafka_t *rk, const char *topic, int np, const int64_t *lo,
			 const int64_t *hi, const struct brk_audit_from *from, int64_t *start,
			 char *errstr, size_t errstr_size)
{
	for (int p = 0; p < np; p++)
		start[p] = lo[p];
	if (!from)
		return DECONF_OK;
	for (int i = 0; i < from->n; i++) {
		int32_t p = from->partitions[i];
		if (p >= np)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "--from: %s has no partition %" PRId32, topic, p);
		if (from->offsets[i] < lo[p] || from->offsets[i] > hi[p])
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "--from: %s [%" PRId32 "] holds offsets %" PRId64
					      "..%" PRId64 ", not %" PRId64,
					      topic, p, lo[p], hi[p], from->offsets[i]);
		start[p] = from->offsets[i];
	}
	if (from->time_ms > 0) {
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
		rd_kafka_resp_err_t err;

		for (int p = 0; p < np; p++)
			rd_kafka_topic_partition_list_add(l, topic, p)->offset = from->time_ms;
		if ((err = rd_kafka_offsets_for_times(rk, l, 15000))) {
			rd_kafka_topic_partition_list_destroy(l);
			return deconf_err_set(errstr, errstr_size, deconf_kafka_err(err),
					      "--from: offsets of %s at %" PRId64 ": %s", topic,
					      from->time_ms, rd_kafka_err2str(err));
		}
		for (int i = 0; i < l->cnt; i++) {
			int32_t p = l->elems[i].partition;
			if (p < 0 || p >= np)
				continue;
			/* -1: nothing at or after that time */
			start[p] = l->elems[i].offset < 0 ? hi[p] : l->elems[i].offset;
		}
		rd_kafka_topic_partition_list_destroy(l);
	}
	return DECONF_OK;
}

static int topic_partitions(rd_kafka_t *rk, const char *topic, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	int np = -1;

	if (!rkt)
		return deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s: %s", topic,
				      rd_kafka_err2str(rd_kafka_last_error()));
	err = rd_kafka_metadata(rk, 0, rkt, &md, 15000);
	if (err)
		deconf_err_set(errstr, errstr_size, deconf_kafka_err(err), "metadata of %s: %s",
			       topic, rd_kafka_err2str(err));
	else if (md->topic_cnt != 1 || md->topics[0].err)
		deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s: %s", topic,
			       rd_kafka_err2str(md->topic_cnt ? md->topics[0].err
							      : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
	else
		np = md->topics[0].partition_cnt;
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	if (np == 0)
		deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s has no partitions", topic);
	return np;
}

int brk_audit_verify(rd_kafka_conf_t *kc, const char *topic, const struct deconf_sign_key *key,
		     const struct brk_audit_from *from, struct brk_audit_report *r, char *errstr,
		     size_t errstr_size)
{
	struct brk_audit_verifier *v = NULL;
	rd_kafka_topic_t *rkt = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_t *rk = NULL;
	int64_t *lo = NULL, *hi = NULL, *start = NULL, idle_since;
	uint8_t *done = NULL;
	int np, left = 0, started = 0, rc;
	rd_kafka_resp_err_t err;

	memset(r, 0, sizeof(*r));
	if ((rc = deconf_kafka_conf_set(kc, "isolation.level", "read_committed", "audit", errstr,
					errstr_size)) ||
	    (rc = deconf_kafka_conf_set(kc, "enable.partition.eof", "true", "audit", errstr,
					errstr_size)) ||
	    (rc = deconf_kafka_conf_set(kc, "enable.auto.commit", "false", "audit", errstr,
					errstr_size)) ||
	    /* an offset that is gone is an error, never a silent jump */
	    (rc = deconf_kafka_conf_set(kc, "auto.offset.reset", "error", "audit", errstr,
					errstr_size))) {
		rd_kafka_conf_destroy(kc);
		return rc;
	}
	if (!(rk = deconf_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size)))
		return DECONF_E_KAFKA;
	if ((np = topic_partitions(rk, topic, errstr, errstr_size)) <= 0) {
		rc = DECONF_E_KAFKA;
		goto out;
	}
	if (!(lo = calloc((size_t)np, sizeof(*lo))) || !(hi = calloc((size_t)np, sizeof(*hi))) ||
	    !(start = calloc((size_t)np, sizeof(*start))) || !(done = calloc((size_t)np, 1)) ||
	    (rc = brk_audit_verifier_new(&v, key))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	if ((err = deconf_kafka_topic_bounds(rk, topic, np, lo, hi, 15000))) {
		rc = deconf_err_set(errstr, errstr_size, deconf_kafka_err(err), "ends of %s: %s",
				    topic, rd_kafka_err2str(err));
		goto out;
	}
	if ((rc = start_offsets(rk, topic, np, lo, hi, from, start, errstr, errstr_size)))
		goto out;
	/* partitions started by hand (no consumer group: an auditor needs
	 * read rights on the topic, nothing else) */
	if (!(q = rd_kafka_queue_new(rk)) || !(rkt = rd_kafka_topic_new(rk, topic, NULL))) {
		rc = DECONF_E_NOMEM;
		goto out;
	}
	for (int p = 0; p < np; p++) {
		if (start[p] > lo[p] && (rc = brk_audit_verifier_trust_start(v, p)))
			goto out;
		if (start[p] >= hi[p]) {
			done[p] = 1;
			started = p + 1;
			continue;
		}
		if (rd_kafka_consume_start_queue(rkt, p, start[p], q) < 0) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA,
					    "%s [%d]: %s", topic, p,
					    rd_kafka_err2str(rd_kafka_last_error()));
			goto out;
		}
		started = p + 1;
		left++;
	}
	idle_since = deconf_mono_us();
	while (left > 0) {
		rd_kafka_message_t *m = rd_kafka_consume_queue(q, 500);
		int32_t p;

		if (!m) {
			if (deconf_mono_us() - idle_since > IDLE_MS * 1000LL) {
				rc = deconf_err_set(errstr, errstr_size, DECONF_E_TIMEOUT,
						    "%s: nothing read for %d s, %d partition(s) "
						    "not read to their end",
						    topic, IDLE_MS / 1000, left);
				goto out;
			}
			continue;
		}
		idle_since = deconf_mono_us();
		p = m->partition;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (p >= 0 && p < np && !done[p]) {
				done[p] = 1;
				left--;
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err) {
			rc = deconf_err_set(errstr, errstr_size, deconf_kafka_err(m->err),
					    "%s [%" PRId32 "]: %s", topic, p,
					    rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			goto out;
		}
		if (p >= 0 && p < np && !done[p] && m->offset < hi[p]) {
			rc = brk_audit_verifier_add(v, p, m->offset, m->key, m->key_len, m->payload,
						    m->len);
			if (m->offset + 1 >= hi[p]) {
				done[p] = 1;
				left--;
			}
		}
		rd_kafka_message_destroy(m);
		if (rc == DECONF_E_TOOBIG) {
			deconf_err_set(errstr, errstr_size, rc,
				       "%s: more than %d runs of unlinked records: not an audit "
				       "trail, the check stops",
				       topic, BRK_AUDIT_MAX_RUNS);
			goto out;
		}
		if (rc)
			goto out;
	}
	if ((rc = brk_audit_verifier_finish(v, r)))
		goto out;
	snprintf(r->topic, sizeof(r->topic), "%s", topic);
out:
	if (rc)
		brk_audit_report_clear(r);
	for (int p = 0; rkt && p < started; p++)
		if (start[p] < hi[p])
			rd_kafka_consume_stop(rkt, p);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	if (q)
		rd_kafka_queue_destroy(q);
	if (rk)
		rd_kafka_destroy(rk);
	brk_audit_verifier_free(v);
	free(lo);
	free(hi);
	free(start);
	free(done);
	return rc;
}

int brk_audit_verify_main(rd_kafka_conf_t *kc, const char *topic,
			  const struct deconf_sign_key *key, const char *from_arg, FILE *out,
			  FILE *err)
{
	struct brk_audit_report r;
	struct brk_audit_from from;
	char errstr[512] = "";
	int rc;

	if (brk_audit_from_parse(from_arg, &from, errstr, sizeof(errstr))) {
		rd_kafka_conf_destroy(kc);
		fprintf(err, "audit verify: %s\n", errstr);
		return 2;
	}
	if ((rc = brk_audit_verify(kc, topic, key, &from, &r, errstr, sizeof(errstr)))) {
		fprintf(err, "audit verify: %s\n", errstr[0] ? errstr : deconf_strerror(rc));
		return 2;
	}
	brk_audit_report_print(&r, out);
	rc = r.breaks ? 1 : 0;
	brk_audit_report_clear(&r);
	return rc;
}
