/* match.c — the matching semantics (see match.h). */
#include <math.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/enum.h"
#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/limits.h"
#include "deconf/scope.h"
#include "deconf/util.h"
#include "audit.h"
#include "match.h"

#define K(x) DECONF__V1__##x
#define MAX_MATCHES 4096 /* more than any sane hot_cases */
#define EVENT_HOT_CASES (MAX_MATCHES - 1) /* an event cell is hot past this */

/* ------------------------------------------------------------- helpers */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Entry changelog key: "E" token epoch agency 0 case. */
static size_t entry_ckey(uint8_t *k, const struct brk_entry *e)
{
	size_t al = strlen(e->agency);

	k[0] = 'E';
	memcpy(k + 1, e->token, BRK_TOKEN_LEN);
	put32(k + 1 + BRK_TOKEN_LEN, e->epoch);
	memcpy(k + 5 + BRK_TOKEN_LEN, e->agency, al);
	k[5 + BRK_TOKEN_LEN + al] = 0;
	memcpy(k + 6 + BRK_TOKEN_LEN + al, e->case_ref, e->case_len);
	return 6 + BRK_TOKEN_LEN + al + e->case_len;
}

static int same_case(const struct brk_entry *a, const struct brk_entry *b)
{
	return !strcmp(a->agency, b->agency) && a->case_len == b->case_len &&
	       !memcmp(a->case_ref, b->case_ref, a->case_len);
}

/* SHA-256 over length-prefixed parts; the first 16 bytes are the id. */
struct idh {
	SHA256_CTX c;
};

/* SHA256_* are marked deprecated in OpenSSL 3 but are exact and fast here;
 * see token.c for the same choice. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void idh_init(struct idh *h, const char *what)
{
	SHA256_Init(&h->c);
	SHA256_Update(&h->c, "deconf:v1:", 10);
	SHA256_Update(&h->c, what, strlen(what) + 1);
}

static void idh_add(struct idh *h, const void *p, size_t len)
{
	uint8_t l[4];

	put32(l, (uint32_t)len);
	SHA256_Update(&h->c, l, 4);
	SHA256_Update(&h->c, p, len);
}

static void idh_add64(struct idh *h, int64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	idh_add(h, b, 8);
}

static void idh_case(struct idh *h, const struct brk_entry *e)
{
	idh_add(h, e->agency, strlen(e->agency));
	idh_add(h, e->case_ref, e->case_len);
}

static void idh_final(struct idh *h, uint8_t out[DECONF_ID_LEN])
{
	uint8_t d[32];

	SHA256_Final(d, &h->c);
	memcpy(out, d, DECONF_ID_LEN);
}

static void sha256(const uint8_t *p, size_t len, uint8_t out[32])
{
	SHA256(p, len, out);
}
#pragma GCC diagnostic pop

#define EVENT_CELL K(INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL)
#define COVER K(CELL_ROLE__CELL_ROLE_COVER)

/* S2 (libs2 0.10, what the adapters' grid is): the Earth's radius in
 * metres, and per level L a cell's least width and largest diagonal in
 * radians times 2^L (quadratic projection: kMinWidth, kMaxDiag) */
#define S2_EARTH_M 6371010.0
#define S2_MIN_W 0.9428090415820634
#define S2_MAX_D 2.438654594434021

int brk_match_event_cell_ok(int role, uint32_t level)
{
	/* a COVER cell is at an event's own level; a PARENT one at any level
	 * from there down to the largest radius's (docs/event-cells.md) */
	return (role == K(CELL_ROLE__CELL_ROLE_COVER) || role == K(CELL_ROLE__CELL_ROLE_PARENT)) &&
	       level >= DECONF_EVENT_LEVEL_MIN && level <= DECONF_EVENT_LEVEL_MAX;
}

static int event_cell_sane(int role, uint32_t level)
{
	return brk_match_event_cell_ok(role, level);
}

/* The largest radius an event of level L can have: its COVER level is the
 * finest whose cells are at least r/2 wide, so r <= 2 * minwidth(L), and
 * never more than the largest radius. */
static double event_rmax_m(uint32_t level)
{
	const double r = 2.0 * S2_MIN_W * ldexp(1.0, -(int)level) * S2_EARTH_M;

	return r < DECONF_EVENT_RADIUS_MAX_M ? r : DECONF_EVENT_RADIUS_MAX_M;
}

uint32_t brk_match_event_band_m(uint32_t level_a, uint32_t level_b)
{
	/* two events sharing a cell at the coarser level Lc have their
	 * centres within r_a + r_b + diag(Lc) */
	uint32_t lc = level_a < level_b ? level_a : level_b;
	double band;

	if (level_a > 30 || level_b > 30)
		return 0;
	band = event_rmax_m(level_a) + event_rmax_m(level_b) +
	       S2_MAX_D * ldexp(1.0, -(int)lc) * S2_EARTH_M;
	return band >= 4e9 ? UINT32_MAX : (uint32_t)ceil(band);
}

/* ----------------------------------------------------------------- audit */

struct audit_args {
	int kind;
	const struct brk_entry *e, *other;
	const uint8_t *notice_id;
	const Deconf__V1__TokenOp *op;
	const char *detail;
	const uint8_t *sig; /* a checkpoint's signature (DECONF_SIG_LEN) */
};

static int audit_ex(struct brk_match *m, int partition, int64_t now,
		    const struct audit_args *a, int with_token)
{
	Deconf__V1__AuditEvent ev = DECONF__V1__AUDIT_EVENT__INIT;
	struct brk_audit_head *h = &m->heads[partition];
	uint8_t *buf;
	size_t len;
	int rc;

	ev.chain = (uint32_t)partition;
	ev.seq = h->seq + 1;
	ev.prev_hash.data = h->hash;
	ev.prev_hash.len = 32;
	ev.at = now;
	ev.kind = a->kind;
	if (a->e) {
		ev.agency_id.data = (uint8_t *)a->e->agency;
		ev.agency_id.len = strlen(a->e->agency);
		ev.case_ref.data = (uint8_t *)a->e->case_ref;
		ev.case_ref.len = a->e->case_len;
		ev.type = a->e->type;
		if (with_token) {
			ev.key_epoch = a->e->epoch;
			ev.token.data = (uint8_t *)a->e->token;
			ev.token.len = BRK_TOKEN_LEN;
		}
	}
	if (a->other) {
		ev.other_agency_id.data = (uint8_t *)a->other->agency;
		ev.other_agency_id.len = strlen(a->other->agency);
		ev.other_case_ref.data = (uint8_t *)a->other->case_ref;
		ev.other_case_ref.len = a->other->case_len;
	}
	if (a->notice_id) {
		ev.notice_id.data = (uint8_t *)a->notice_id;
		ev.notice_id.len = DECONF_ID_LEN;
	}
	if (a->op)
		ev.submission_id = a->op->submission_id;
	ev.detail = (char *)(a->detail ? a->detail : "");
	if (a->sig) {
		ev.checkpoint_signature.data = (uint8_t *)a->sig;
		ev.checkpoint_signature.len = DECONF_SIG_LEN;
	}
	len = deconf__v1__audit_event__get_packed_size(&ev);
	if (!(buf = malloc(len ? len : 1)))
		return DECONF_E_NOMEM;
	deconf__v1__audit_event__pack(&ev, buf);
	rc = m->out.audit(m->out.opaque, partition, buf, len);
	if (!rc) {
		h->seq++;
		sha256(buf, len, h->hash);
		h->dirty = 1;
	}
	free(buf);
	return rc;
}

static const char *op_word(int op)
{
	switch (op) {
	case K(OP__OP_ADD): return "add";
	case K(OP__OP_RENEW): return "renew";
	case K(OP__OP_REMOVE): return "remove";
	case K(OP__OP_CLOSE_CASE): return "close case";
	case K(OP__OP_QUERY): return "query";
	default: return "op";
	}
}

/* Count an accepted op for the flush's audit event. */
static int accepted(struct brk_match *m, int partition, const Deconf__V1__TokenOp *op)
{
	struct brk_match_acc *a;
	size_t i, stop = m->n_acc > 64 ? m->n_acc - 64 : 0;

	for (i = m->n_acc; i > stop; i--) {
		a = &m->acc[i - 1];
		if (a->partition == partition && a->op == (int)op->op &&
		    op->submission_id.len == DECONF_ID_LEN && !memcmp(a->sub, op->submission_id.data, DECONF_ID_LEN) &&
		    a->case_len == op->case_ref.len &&
		    !memcmp(a->case_ref, op->case_ref.data, a->case_len) &&
		    strlen(a->agency) == op->agency_id.len &&
		    !memcmp(a->agency, op->agency_id.data, op->agency_id.len)) {
			a->n++;
			return DECONF_OK;
		}
	}
	if (DECONF_GROW(m->acc, m->n_acc, m->cap_acc, 256))
		return DECONF_E_NOMEM;
	a = &m->acc[m->n_acc++];
	memset(a, 0, sizeof(*a));
	a->partition = partition;
	a->op = (int)op->op;
	a->type = op->type;
	a->n = 1;
	memcpy(a->sub, op->submission_id.data, op->submission_id.len == DECONF_ID_LEN ? DECONF_ID_LEN : 0);
	memcpy(a->agency, op->agency_id.data, op->agency_id.len);
	memcpy(a->case_ref, op->case_ref.data, op->case_ref.len);
	a->case_len = op->case_ref.len;
	return DECONF_OK;
}

void brk_match_reset(struct brk_match *m)
{
	m->n_acc = 0;
}

static int audit(struct brk_match *m, int partition, int64_t now, const struct audit_args *a)
{
	return audit_ex(m, partition, now, a, 1);
}

/* A link that signs the head before it (deconf.proto, AuditEvent): one per
 * chain and checkpoint interval, never per op. */
static int checkpoint(struct brk_match *m, int partition, int64_t now,
		      const struct deconf_sign_key *key)
{
	struct brk_audit_head *h = &m->heads[partition];
	struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_CHECKPOINT) };
	uint8_t sig[DECONF_SIG_LEN];
	int rc;

	if ((rc = brk_audit_checkpoint_sign(key, (uint32_t)partition, h->seq, h->hash, now, sig)))
		return rc;
	a.sig = sig;
	if ((rc = audit_ex(m, partition, now, &a, 0)))
		return rc;
	h->signed_seq = h->seq;
	return DECONF_OK;
}

int brk_match_flush_head(struct brk_match *m, int partition, int64_t now)
{
	return brk_match_flush_head_ckpt(m, partition, now, NULL);
}

int brk_match_flush_head_ckpt(struct brk_match *m, int partition, int64_t now,
			      const struct deconf_sign_key *ckpt_key)
{
	Deconf__V1__StateRecord r = DECONF__V1__STATE_RECORD__INIT;
	Deconf__V1__AuditHead a = DECONF__V1__AUDIT_HEAD__INIT;
	struct brk_audit_head *h = &m->heads[partition];
	size_t keep = 0;
	int rc = DECONF_OK;

	for (size_t i = 0; i < m->n_acc; i++) {
		struct brk_match_acc *x = &m->acc[i];
		if (x->partition != partition) {
			m->acc[keep++] = *x;
			continue;
		}
		if (!rc) {
			struct brk_entry e;
			Deconf__V1__TokenOp op = DECONF__V1__TOKEN_OP__INIT;
			char detail[64];
			struct audit_args aa = { .kind = K(AUDIT_KIND__AUDIT_KIND_OP_ACCEPTED),
						 .op = &op, .detail = detail };
			memset(&e, 0, sizeof(e));
			memcpy(e.agency, x->agency, sizeof(e.agency));
			memcpy(e.case_ref, x->case_ref, x->case_len);
			e.case_len = x->case_len;
			e.type = x->type;
			aa.e = &e;
			op.submission_id.data = x->sub;
			op.submission_id.len = DECONF_ID_LEN;
			snprintf(detail, sizeof(detail), "%s: %u indicator(s)", op_word(x->op), x->n);
			rc = audit_ex(m, partition, now, &aa, 0);
		}
	}
	m->n_acc = keep;
	if (rc)
		return rc;
	if (ckpt_key && h->seq && h->seq != h->signed_seq &&
	    (rc = checkpoint(m, partition, now, ckpt_key)))
		return rc;

	if (!h->dirty)
		return DECONF_OK;
	a.seq = h->seq;
	a.hash.data = h->hash;
	a.hash.len = 32;
	r.audit = &a;
	if (!(rc = m->out.state(m->out.opaque, partition, (const uint8_t *)"A", 1, &r)))
		h->dirty = 0;
	return rc;
}

int brk_match_audit_rebuilt(struct brk_match *m, int partition, int64_t now,
			    const char *detail, int tell_ops)
{
	struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_STATE_REBUILT), .detail = detail };
	Deconf__V1__OpsEvent ev = DECONF__V1__OPS_EVENT__INIT;
	char text[160];
	int rc;

	if ((rc = audit(m, partition, now, &a)) || !tell_ops)
		return rc;
	/* the watch desk hears of it too: a rebuild is a lost or wiped local
	 * state, or a partition moved between instances */
	snprintf(text, sizeof(text), "matcher partition %d: %s", partition, detail);
	ev.kind = K(OPS_KIND__OPS_KIND_STATE_REBUILD);
	ev.at = now;
	ev.detail = text;
	return m->out.ops(m->out.opaque, &ev);
}

/* -------------------------------------------------------------- changelog */

static Deconf__V1__PointOfContact *case_poc(struct brk_store_txn *t, int partition,
					    const struct brk_entry *e);

static Deconf__V1__PointOfContact *case_poc(struct brk_store_txn *t, int partition,
					    const struct brk_entry *e);
static Deconf__V1__DisclosureScope *case_scope(struct brk_store_txn *t, int partition,
					       const struct brk_entry *e);

/* The entry's changelog record; it carries the case's point of contact and
 * scope (poc and scope; poc NULL: the stored ones) so a rebuild from the
 * changelog alone has them. */
static int put_entry_state(struct brk_match *m, struct brk_store_txn *t, int partition,
			   const struct brk_entry *e, const Deconf__V1__PointOfContact *poc,
			   const Deconf__V1__DisclosureScope *scope)
{
	Deconf__V1__PointOfContact *stored = NULL;
	Deconf__V1__DisclosureScope *stored_scope = NULL;
	int rc;

	Deconf__V1__StateRecord r = DECONF__V1__STATE_RECORD__INIT;
	Deconf__V1__StateEntry s = DECONF__V1__STATE_ENTRY__INIT;
	uint8_t key[6 + BRK_TOKEN_LEN + DECONF_AGENCY_ID_MAX + 1 + BRK_CASE_MAX];
	size_t kl = entry_ckey(key, e);

	s.token.data = (uint8_t *)e->token;
	s.token.len = BRK_TOKEN_LEN;
	s.key_epoch = e->epoch;
	s.type = e->type;
	s.agency_id.data = (uint8_t *)e->agency;
	s.agency_id.len = strlen(e->agency);
	s.case_ref.data = (uint8_t *)e->case_ref;
	s.case_ref.len = e->case_len;
	if (!poc) {
		poc = stored = case_poc(t, partition, e);
		scope = stored_scope = case_scope(t, partition, e);
	}
	s.poc = (Deconf__V1__PointOfContact *)poc;
	s.case_scope = (Deconf__V1__DisclosureScope *)scope;
	s.visibility = e->visibility;
	s.caution_flags = e->flags;
	s.added_at = e->added_at;
	s.expires_at = e->expires_at;
	s.valid_from = e->valid_from;
	s.valid_to = e->valid_to;
	s.expiry_warned = e->warned != 0;
	s.cell_role = e->cell_role;
	s.cell_level = e->cell_level;
	s.event_kind = e->event_kind;
	r.entry = &s;
	rc = m->out.state(m->out.opaque, partition, key, kl, &r);
	if (stored)
		deconf__v1__point_of_contact__free_unpacked(stored, NULL);
	if (stored_scope)
		deconf__v1__disclosure_scope__free_unpacked(stored_scope, NULL);
	return rc;
}

static int del_entry_state(struct brk_match *m, int partition, const struct brk_entry *e)
{
	uint8_t key[6 + BRK_TOKEN_LEN + DECONF_AGENCY_ID_MAX + 1 + BRK_CASE_MAX];
	size_t kl = entry_ckey(key, e);

	return m->out.state(m->out.opaque, partition, key, kl, NULL);
}

/* ----------------------------------------------------------------- notices */

/* Cut s to at most max bytes, at a character boundary. */
static void clamp_text(char *s, size_t max)
{
	size_t n;

	if (!s || (n = strlen(s)) <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
}

/* Ingest bounds every contact field; a contact stored before it did is cut
 * to the bound here, so a notice always fits what an adapter accepts
 * (deconf/limits.h). */
static void clamp_poc(Deconf__V1__PointOfContact *poc)
{
	clamp_text(poc->name, DECONF_POC_FIELD_MAX);
	clamp_text(poc->phone, DECONF_POC_FIELD_MAX);
	clamp_text(poc->email, DECONF_POC_FIELD_MAX);
	clamp_text(poc->unit, DECONF_POC_FIELD_MAX);
}

/*
 * A case's stored details, what the store keeps per case: the packed
 * PointOfContact alone (a case that does not narrow its agency's sharing
 * scope: what earlier versions stored), or 0x00, u32be the contact's
 * length, the packed contact, the packed DisclosureScope. A packed
 * PointOfContact never starts with 0x00 (its first byte is a field tag).
 */
static int case_blob(const Deconf__V1__PointOfContact *poc,
		     const Deconf__V1__DisclosureScope *scope, uint8_t **out, size_t *len)
{
	size_t pl = poc ? deconf__v1__point_of_contact__get_packed_size(poc) : 0;
	size_t sl = scope ? deconf__v1__disclosure_scope__get_packed_size(scope) : 0;
	size_t head = scope ? 5 : 0;
	uint8_t *b = malloc(head + pl + sl + 1);

	if (!b)
		return DECONF_E_NOMEM;
	if (scope) {
		b[0] = 0;
		put32(b + 1, (uint32_t)pl);
	}
	if (poc)
		deconf__v1__point_of_contact__pack(poc, b + head);
	if (scope)
		deconf__v1__disclosure_scope__pack(scope, b + head + pl);
	*out = b;
	*len = head + pl + sl;
	return DECONF_OK;
}

/* The stored details of e's case, split (each part borrowed: 0 bytes when
 * absent). 0, or DECONF_E_UNKNOWN when none is stored. */
static int case_parts(struct brk_store_txn *t, int partition, const struct brk_entry *e,
		      const uint8_t **poc, size_t *poc_len, const uint8_t **scope,
		      size_t *scope_len)
{
	const void *v;
	const uint8_t *p;
	size_t len;
	int rc;

	*poc_len = *scope_len = 0;
	if ((rc = brk_store_case_poc(t, partition, e->agency, e->case_ref, e->case_len, &v,
				     &len)))
		return rc;
	p = v;
	if (!len || p[0] != 0) {
		*poc = p;
		*poc_len = len;
		return DECONF_OK;
	}
	if (len < 5 || rd32(p + 1) > len - 5)
		return DECONF_E_MALFORMED;
	*poc = p + 5;
	*poc_len = rd32(p + 1);
	*scope = p + 5 + *poc_len;
	*scope_len = len - 5 - *poc_len;
	return DECONF_OK;
}

/* The stored point of contact of e's case (unpacked; NULL if none). */
static Deconf__V1__PointOfContact *case_poc(struct brk_store_txn *t, int partition,
					    const struct brk_entry *e)
{
	const uint8_t *p = NULL, *sc = NULL;
	size_t len, sl;

	if (case_parts(t, partition, e, &p, &len, &sc, &sl) || !len)
		return NULL;
	return deconf__v1__point_of_contact__unpack(NULL, len, p);
}

/* The stored scope of e's case (unpacked; NULL if it narrows nothing). */
static Deconf__V1__DisclosureScope *case_scope(struct brk_store_txn *t, int partition,
					       const struct brk_entry *e)
{
	const uint8_t *p = NULL, *sc = NULL;
	size_t len, sl;

	if (case_parts(t, partition, e, &p, &len, &sc, &sl) || !sl)
		return NULL;
	return deconf__v1__disclosure_scope__unpack(NULL, sl, sc);
}

/* What a lifecycle notice adds (ACKNOWLEDGED, REMINDER). */
struct notice_more {
	int outcome;
	const uint8_t *about_notice_id; /* DECONF_ID_LEN */
	const uint8_t *pair_ref;        /* DECONF_ID_LEN: a scoped match's */
};

/* Whether the owner of `to` may learn `about`'s contact and case: the
 * sharing scope of about's agency (the directory's) and, when about's case
 * narrows it, the case's, both let to's agency in. An agency the directory
 * does not hold has no scope of its own (open). */
static int discloses(struct brk_match *m, struct brk_store_txn *t, int partition,
		     const struct brk_entry *about, const struct brk_entry *to)
{
	struct brk_agency *ab, *tg;
	struct deconf_scope_partner p = { .agency_id = to->agency, .country = "" };
	Deconf__V1__DisclosureScope *cs;
	int ok = 1;

	if (!(ab = malloc(2 * sizeof(*ab))))
		return 0; /* out of memory: withhold */
	tg = ab + 1;
	if (m->dir && !brk_directory_get(m->dir, to->agency, strlen(to->agency), tg)) {
		p.level = tg->level;
		p.country = tg->country;
	}
	if (m->dir && !brk_directory_get(m->dir, about->agency, strlen(about->agency), ab) &&
	    ab->scope_len)
		ok = deconf_scope_allows_packed(ab->scope, ab->scope_len, &p);
	if (ok && t && (cs = case_scope(t, partition, about))) {
		ok = deconf_scope_allows(cs, &p);
		deconf__v1__disclosure_scope__free_unpacked(cs, NULL);
	}
	free(ab);
	return ok;
}

/*
 * Send `kind` to the owner of `to` about `about` (NULL for expiry kinds).
 * id_extra adds what makes a query or an expiry notice distinct. more (may
 * be NULL) fills the lifecycle fields; id_out (may be NULL) receives the
 * notice's id.
 */
static int notify_ex(struct brk_match *m, struct brk_store_txn *t, int partition, int kind,
		     const struct brk_entry *to, const struct brk_entry *about,
		     const Deconf__V1__TokenOp *op, int64_t now, const void *id_extra,
		     size_t id_extra_len, const struct notice_more *more,
		     uint8_t id_out[DECONF_ID_LEN])
{
	Deconf__V1__ConflictNotice n = DECONF__V1__CONFLICT_NOTICE__INIT;
	Deconf__V1__Counterpart cp = DECONF__V1__COUNTERPART__INIT;
	Deconf__V1__PointOfContact dirpoc = DECONF__V1__POINT_OF_CONTACT__INIT, *poc = NULL;
	struct brk_agency ag;
	uint8_t id[DECONF_ID_LEN];
	struct idh h;
	int rc, withheld = about && !discloses(m, t, partition, about, to);

	/* outside the counterpart's sharing scope: a match, not its details */
	if (withheld && (kind == K(NOTICE_KIND__NOTICE_KIND_CONFLICT) ||
			 kind == K(NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH)))
		kind = K(NOTICE_KIND__NOTICE_KIND_SCOPED_MATCH);
	idh_init(&h, "notice");
	idh_add64(&h, kind);
	idh_add(&h, to->token, BRK_TOKEN_LEN);
	idh_add64(&h, to->epoch);
	idh_case(&h, to);
	if (about)
		idh_case(&h, about);
	if (id_extra)
		idh_add(&h, id_extra, id_extra_len);
	idh_final(&h, id);
	if (id_out)
		memcpy(id_out, id, DECONF_ID_LEN);
	if (more) {
		n.outcome = more->outcome;
		if (more->about_notice_id) {
			n.about_notice_id.data = (uint8_t *)more->about_notice_id;
			n.about_notice_id.len = DECONF_ID_LEN;
		}
		if (more->pair_ref && kind == K(NOTICE_KIND__NOTICE_KIND_SCOPED_MATCH)) {
			n.pair_ref.data = (uint8_t *)more->pair_ref;
			n.pair_ref.len = DECONF_ID_LEN;
		}
	}

	n.notice_id.data = id;
	n.notice_id.len = DECONF_ID_LEN;
	n.kind = kind;
	n.agency_id.data = (uint8_t *)to->agency;
	n.agency_id.len = strlen(to->agency);
	n.case_ref.data = (uint8_t *)to->case_ref;
	n.case_ref.len = to->case_len;
	n.type = to->type;
	n.key_epoch = to->epoch;
	n.token.data = (uint8_t *)to->token;
	n.token.len = BRK_TOKEN_LEN;
	n.created_at = now;
	n.expires_at = to->expires_at;
	if (op) {
		n.submission_id = op->submission_id;
		n.submitted_at = op->submitted_at;
	}
	if (about && withheld) {
		/* nothing of the counterpart but, when its agency lets it be
		 * named, which agency and its liaison desk: never its case
		 * reference, investigator or flags */
		if (m->dir && !brk_directory_get(m->dir, about->agency, strlen(about->agency), &ag) &&
		    ag.name_liaison) {
			cp.agency_id.data = (uint8_t *)about->agency;
			cp.agency_id.len = strlen(about->agency);
			cp.agency_name = ag.name;
			cp.level = ag.level;
			cp.country = ag.country;
			dirpoc.name = ag.liaison_name;
			dirpoc.phone = ag.liaison_phone;
			dirpoc.email = ag.liaison_email;
			dirpoc.unit = "";
			cp.poc = &dirpoc;
		}
		n.counterpart = &cp;
	} else if (about) {
		cp.agency_id.data = (uint8_t *)about->agency;
		cp.agency_id.len = strlen(about->agency);
		if (m->dir && !brk_directory_get(m->dir, about->agency, strlen(about->agency), &ag)) {
			cp.agency_name = ag.name;
			cp.level = ag.level;
			cp.country = ag.country;
			dirpoc.name = ag.poc_name;
			dirpoc.phone = ag.poc_phone;
			dirpoc.email = ag.poc_email;
			dirpoc.unit = "";
		}
		/* the case's own contact, else the agency's watch desk */
		poc = case_poc(t, partition, about);
		if (poc)
			clamp_poc(poc);
		cp.poc = poc ? poc : &dirpoc;
		if (!(about->flags & K(CAUTION_FLAG__CAUTION_COURT_SEALED))) {
			cp.case_ref.data = (uint8_t *)about->case_ref;
			cp.case_ref.len = about->case_len;
		}
		cp.caution_flags = about->flags;
		cp.first_seen = about->added_at;
		cp.visibility = about->visibility ? about->visibility
						  : K(VISIBILITY__VISIBILITY_NORMAL);
		n.counterpart = &cp;
		if (to->type == EVENT_CELL && (kind == K(NOTICE_KIND__NOTICE_KIND_CONFLICT) ||
					       kind == K(NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH))) {
			cp.event_kind = about->event_kind;
			cp.window_from = about->valid_from;
			cp.window_to = about->valid_to;
			n.event_kind = to->event_kind;
			n.distance_band_m = brk_match_event_band_m(to->cell_level, about->cell_level);
			n.urgent = 1;
		}
	}
	rc = m->out.notice(m->out.opaque, partition, &n);
	if (poc)
		deconf__v1__point_of_contact__free_unpacked(poc, NULL);
	if (!rc) {
		struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_NOTICE_SENT),
					.e = to, .other = about, .notice_id = id, .op = op };
		m->notices++;
		rc = audit(m, partition, now, &a);
	}
	return rc;
}

static int notify(struct brk_match *m, struct brk_store_txn *t, int partition, int kind,
		  const struct brk_entry *to, const struct brk_entry *about,
		  const Deconf__V1__TokenOp *op, int64_t now, const void *id_extra,
		  size_t id_extra_len)
{
	return notify_ex(m, t, partition, kind, to, about, op, now, id_extra, id_extra_len, NULL,
			 NULL);
}

static int restricted(const struct brk_entry *e)
{
	return e->visibility == K(VISIBILITY__VISIBILITY_RESTRICTED);
}

/* -------------------------------------------------------------- lifecycle */

static void entry_from_op(struct brk_entry *e, const Deconf__V1__TokenOp *op);

#define CAUTION_ESCALATE                                                                   \
	(K(CAUTION_FLAG__CAUTION_ARMED) | K(CAUTION_FLAG__CAUTION_UNDERCOVER) |            \
	 K(CAUTION_FLAG__CAUTION_ACTIVE_OPERATION) | K(CAUTION_FLAG__CAUTION_VICTIM_AT_RISK))

int brk_match_escalates(uint32_t flags_a, uint32_t flags_b)
{
	return ((flags_a | flags_b) & CAUTION_ESCALATE) != 0;
}

/* Its side's escalation indexes (on 1: as the record says; 0: removed). */
static int life_index(struct brk_store_txn *t, int partition, const Deconf__V1__ConflictLife *l,
		      int on)
{
	int rc = DECONF_OK;

	if (l->notice_id.len != DECONF_ID_LEN)
		return DECONF_E_MALFORMED;
	if (l->escalate_at && (!on || (!l->acked_at && !l->escalated_at)))
		rc = brk_store_esc_due_set(t, partition, l->notice_id.data, l->escalate_at, on);
	if (!rc && l->escalated_at && (!on || !l->acked_at))
		rc = brk_store_esc_open_set(t, partition, l->notice_id.data, l->escalated_at, on);
	return rc;
}

/* Store a side's record (and its indexes) and put it on the changelog. */
static int life_write(struct brk_match *m, struct brk_store_txn *t, int partition,
		      const Deconf__V1__ConflictLife *l)
{
	Deconf__V1__StateRecord r = DECONF__V1__STATE_RECORD__INIT;
	uint8_t key[1 + DECONF_ID_LEN], *buf;
	size_t len;
	int rc;

	if (l->notice_id.len != DECONF_ID_LEN)
		return DECONF_E_MALFORMED;
	len = deconf__v1__conflict_life__get_packed_size(l);
	if (!(buf = malloc(len ? len : 1)))
		return DECONF_E_NOMEM;
	deconf__v1__conflict_life__pack(l, buf);
	rc = brk_store_life_put(t, partition, l->notice_id.data, buf, len);
	free(buf);
	if (rc || (rc = life_index(t, partition, l, 1)))
		return rc;
	key[0] = 'L';
	memcpy(key + 1, l->notice_id.data, DECONF_ID_LEN);
	r.life = (Deconf__V1__ConflictLife *)l;
	return m->out.state(m->out.opaque, partition, key, sizeof(key), &r);
}

/* A side's record (owned: free_unpacked), or NULL when there is none. */
static Deconf__V1__ConflictLife *life_read(struct brk_store_txn *t, int partition,
					   const uint8_t id[DECONF_ID_LEN])
{
	const void *v;
	size_t len;

	if (brk_store_life_get(t, partition, id, &v, &len))
		return NULL;
	return deconf__v1__conflict_life__unpack(NULL, len, v);
}

/* The lifecycle of `to`'s side, told of `about` by notice id (about_id:
 * the notice `about`'s side got, or NULL). */
static int life_begin(struct brk_match *m, struct brk_store_txn *t, int partition,
		      const struct brk_entry *to, const struct brk_entry *about,
		      const uint8_t *id, const uint8_t *about_id, int64_t now)
{
	Deconf__V1__ConflictLife l = DECONF__V1__CONFLICT_LIFE__INIT;
	Deconf__V1__ConflictLife *old;

	if ((old = life_read(t, partition, id))) {
		/* told before (a pair forgotten and found again): kept as it is */
		deconf__v1__conflict_life__free_unpacked(old, NULL);
		return DECONF_OK;
	}
	l.notice_id.data = (uint8_t *)id;
	l.notice_id.len = DECONF_ID_LEN;
	l.agency_id.data = (uint8_t *)to->agency;
	l.agency_id.len = strlen(to->agency);
	l.case_ref.data = (uint8_t *)to->case_ref;
	l.case_ref.len = to->case_len;
	l.caution_flags = to->flags;
	l.visibility = to->visibility;
	l.other_agency_id.data = (uint8_t *)about->agency;
	l.other_agency_id.len = strlen(about->agency);
	l.other_case_ref.data = (uint8_t *)about->case_ref;
	l.other_case_ref.len = about->case_len;
	l.other_caution_flags = about->flags;
	l.other_visibility = about->visibility;
	if (about_id) {
		l.other_notice_id.data = (uint8_t *)about_id;
		l.other_notice_id.len = DECONF_ID_LEN;
	}
	l.type = to->type;
	l.key_epoch = to->epoch;
	l.token.data = (uint8_t *)to->token;
	l.token.len = BRK_TOKEN_LEN;
	l.notified_at = now;
	/* two operations at one place and time always escalate: it is what
	 * the watch desk is for */
	if (m->conf.escalate_after_ms > 0 &&
	    (brk_match_escalates(to->flags, about->flags) || to->type == EVENT_CELL))
		l.escalate_at = now + m->conf.escalate_after_ms;
	/* sooner than the matcher would look (0: it looks at once anyway) */
	if (l.escalate_at && m->esc_soonest && l.escalate_at < m->esc_soonest)
		m->esc_soonest = l.escalate_at;
	return life_write(m, t, partition, &l);
}

/* The entries of a record's two sides, as notify() needs them. */
static void life_entries(const Deconf__V1__ConflictLife *l, struct brk_entry *self,
			 struct brk_entry *other)
{
	memset(self, 0, sizeof(*self));
	memcpy(self->token, l->token.data, BRK_TOKEN_LEN);
	self->epoch = l->key_epoch;
	self->type = l->type;
	*other = *self;
	memcpy(self->agency, l->agency_id.data, l->agency_id.len);
	memcpy(self->case_ref, l->case_ref.data, l->case_ref.len);
	self->case_len = l->case_ref.len;
	self->flags = l->caution_flags;
	self->visibility = l->visibility;
	memcpy(other->agency, l->other_agency_id.data, l->other_agency_id.len);
	memcpy(other->case_ref, l->other_case_ref.data, l->other_case_ref.len);
	other->case_len = l->other_case_ref.len;
	other->flags = l->other_caution_flags;
	other->visibility = l->other_visibility;
}

/* Whether a stored record can be used (it came from our own changelog,
 * but a bound checked is a crash avoided). */
static int life_sane(const Deconf__V1__ConflictLife *l)
{
	return l->notice_id.len == DECONF_ID_LEN && l->token.len == BRK_TOKEN_LEN &&
	       l->agency_id.len >= 1 && l->agency_id.len <= DECONF_AGENCY_ID_MAX &&
	       l->other_agency_id.len >= 1 && l->other_agency_id.len <= DECONF_AGENCY_ID_MAX &&
	       l->case_ref.len <= BRK_CASE_MAX && l->other_case_ref.len <= BRK_CASE_MAX &&
	       (!l->other_notice_id.len || l->other_notice_id.len == DECONF_ID_LEN);
}

static const char *outcome_word(int outcome, char *buf, size_t size)
{
	return deconf_enum_name(buf, size, &deconf__v1__outcome__descriptor, outcome, "unknown");
}

/* An acknowledgment of the notice op->ack_notice_id by op's agency. */
static int do_ack(struct brk_match *m, struct brk_store_txn *t, int partition,
		  const Deconf__V1__TokenOp *op, int64_t now)
{
	Deconf__V1__ConflictLife *l;
	struct brk_entry self, other;
	char detail[160], word[DECONF_ENUM_NAME_SIZE];
	int outcome = op->ack_outcome, first, rc;
	uint32_t bit;

	if (op->ack_notice_id.len != DECONF_ID_LEN || outcome < K(OUTCOME__OUTCOME_SEEN) ||
	    outcome > K(OUTCOME__OUTCOME_DECONFLICTED) || op->token.len != BRK_TOKEN_LEN)
		return DECONF_E_MALFORMED;
	l = life_read(t, partition, op->ack_notice_id.data);
	if (!l || !life_sane(l) || l->agency_id.len != op->agency_id.len ||
	    memcmp(l->agency_id.data, op->agency_id.data, op->agency_id.len)) {
		/* ingest checked that the agency was sent this notice, so this is
		 * a conflict notified before lifecycles were kept (or, never
		 * seen, another agency's record): nothing changes, it is kept
		 * in the audit trail */
		struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_ACKNOWLEDGED),
					.notice_id = op->ack_notice_id.data, .op = op,
					.detail = detail };
		entry_from_op(&self, op);
		a.e = &self;
		snprintf(detail, sizeof(detail), "%s: no lifecycle kept for this notice; nothing "
			 "changed", outcome_word(outcome, word, sizeof(word)));
		if (l)
			deconf__v1__conflict_life__free_unpacked(l, NULL);
		return audit(m, partition, now, &a);
	}
	bit = 1u << outcome;
	if (l->outcomes & bit) {
		/* recorded already (the same acknowledgment again): nothing to
		 * tell anyone */
		deconf__v1__conflict_life__free_unpacked(l, NULL);
		return DECONF_OK;
	}
	first = !l->acked_at;
	/* the indexes go by what the record said: take them down first */
	if ((rc = life_index(t, partition, l, 0)))
		goto out;
	l->outcomes |= bit;
	l->outcome = outcome;
	if (first)
		l->acked_at = now;
	if ((rc = life_write(m, t, partition, l)))
		goto out;
	life_entries(l, &self, &other);
	{
		struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_ACKNOWLEDGED), .e = &self,
					.other = &other, .notice_id = l->notice_id.data, .op = op,
					.detail = detail };
		snprintf(detail, sizeof(detail), "%s%s", outcome_word(outcome, word, sizeof(word)),
			 l->escalated_at && first ? " (after escalation)" : "");
		if ((rc = audit(m, partition, now, &a)))
			goto out;
	}
	if (outcome < (int)(sizeof(m->outcomes) / sizeof(m->outcomes[0])))
		m->outcomes[outcome]++;
	if (first && m->n_ack_obs < BRK_MATCH_ACK_OBS) {
		struct brk_match_ack_obs *o = &m->ack_obs[m->n_ack_obs++];
		struct brk_agency ag;
		o->seconds = (double)(now - l->notified_at) / 1000.0;
		o->caution = brk_match_escalates(l->caution_flags, l->other_caution_flags);
		o->level = m->dir && !brk_directory_get(m->dir, self.agency, strlen(self.agency), &ag)
				   ? ag.level
				   : 0;
	}
	if (l->other_notice_id.len == DECONF_ID_LEN) {
		/* the counterpart is told, once per side and outcome: the id is
		 * derived from the conflict (the two cases, token, epoch), the
		 * side (who is `about`) and the outcome */
		struct notice_more more = { .outcome = outcome,
					    .about_notice_id = l->other_notice_id.data };
		uint8_t extra[4];
		put32(extra, (uint32_t)outcome);
		rc = notify_ex(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_ACKNOWLEDGED), &other,
			       &self, op, now, extra, sizeof(extra), &more, NULL);
	}
out:
	deconf__v1__conflict_life__free_unpacked(l, NULL);
	return rc;
}

/* The case's contact (unpacked), else its agency's watch desk from the
 * directory, into *poc (what the caller frees: the returned pointer). */
static Deconf__V1__PointOfContact *side_poc(struct brk_match *m, struct brk_store_txn *t,
					    int partition, const struct brk_entry *e,
					    Deconf__V1__PointOfContact *dirpoc,
					    struct brk_agency *ag)
{
	Deconf__V1__PointOfContact *poc = case_poc(t, partition, e);

	if (poc) {
		clamp_poc(poc);
		return poc;
	}
	if (m->dir && !brk_directory_get(m->dir, e->agency, strlen(e->agency), ag)) {
		dirpoc->name = ag->poc_name;
		dirpoc->phone = ag->poc_phone;
		dirpoc->email = ag->poc_email;
	}
	return NULL;
}

/* One side due to escalate: the watch desk is told (both contacts, no
 * token), the recipient reminded, once. */
static int escalate(struct brk_match *m, struct brk_store_txn *t, int partition,
		    const uint8_t id[DECONF_ID_LEN], int64_t at, int64_t now)
{
	Deconf__V1__ConflictLife *l = life_read(t, partition, id);
	Deconf__V1__OpsEvent ev = DECONF__V1__OPS_EVENT__INIT;
	Deconf__V1__PointOfContact d1 = DECONF__V1__POINT_OF_CONTACT__INIT;
	Deconf__V1__PointOfContact d2 = DECONF__V1__POINT_OF_CONTACT__INIT;
	Deconf__V1__PointOfContact *p1 = NULL, *p2 = NULL;
	struct brk_agency a1, a2;
	struct brk_entry self, other;
	char detail[256];
	int rc;

	if (!l || !life_sane(l) || l->acked_at || l->escalated_at || l->escalate_at != at) {
		/* nothing (left) to escalate: the index entry alone goes, so it
		 * is not found again (cannot happen: the record's own index
		 * entries change with it) */
		if (l)
			deconf__v1__conflict_life__free_unpacked(l, NULL);
		return brk_store_esc_due_set(t, partition, id, at, 0);
	}
	if ((rc = life_index(t, partition, l, 0)))
		goto out;
	l->escalated_at = now;
	if ((rc = life_write(m, t, partition, l)))
		goto out;
	life_entries(l, &self, &other);
	p1 = side_poc(m, t, partition, &self, &d1, &a1);
	p2 = side_poc(m, t, partition, &other, &d2, &a2);
	snprintf(detail, sizeof(detail),
		 "%s has not acknowledged a conflict with %s (caution flags 0x%x) notified %lld s "
		 "ago",
		 self.agency, other.agency, l->caution_flags | l->other_caution_flags,
		 (long long)((now - l->notified_at) / 1000));
	ev.kind = K(OPS_KIND__OPS_KIND_ESCALATION);
	ev.at = now;
	ev.agency_id = l->agency_id;
	ev.other_agency_id = l->other_agency_id;
	ev.type = l->type;
	ev.poc = p1 ? p1 : &d1;
	ev.other_poc = p2 ? p2 : &d2;
	ev.notice_id = l->notice_id;
	ev.caution_flags = l->caution_flags | l->other_caution_flags;
	ev.notified_at = l->notified_at;
	ev.detail = detail;
	if ((rc = m->out.ops(m->out.opaque, &ev)))
		goto out;
	{
		struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_ESCALATED), .e = &self,
					.other = &other, .notice_id = l->notice_id.data,
					.detail = "not acknowledged within matcher.escalate_after" };
		struct notice_more more = { .about_notice_id = l->notice_id.data };
		if ((rc = audit(m, partition, now, &a)) ||
		    (rc = notify_ex(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_REMINDER), &self,
				    &other, NULL, now, NULL, 0, &more, NULL)))
			goto out;
	}
	m->escalated++;
out:
	if (p1)
		deconf__v1__point_of_contact__free_unpacked(p1, NULL);
	if (p2)
		deconf__v1__point_of_contact__free_unpacked(p2, NULL);
	deconf__v1__conflict_life__free_unpacked(l, NULL);
	return rc;
}

int brk_match_escalate(struct brk_match *m, struct brk_store_txn *t, int partition, int64_t now,
		       size_t max, size_t *done, int64_t *next)
{
	uint8_t ids[64][16];
	int64_t ats[64];
	size_t n = 0;
	int rc;

	*done = 0;
	if (max > 64)
		max = 64;
	if ((rc = brk_store_esc_due(t, partition, now, max, ids, ats, &n, next)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++, (*done)++)
		rc = escalate(m, t, partition, ids[i], ats[i], now);
	return rc;
}

static void view_poc(char (*out)[DECONF_DIR_TEXT_MAX + 1], const Deconf__V1__PointOfContact *p)
{
	const char *f[3] = { p->name, p->phone, p->email };

	for (int i = 0; i < 3; i++)
		snprintf(out[i], sizeof(out[i]), "%s", f[i] ? f[i] : "");
}

int brk_match_open_escalations(struct brk_match *m, struct brk_store_txn *t, int partition,
			       size_t max, struct brk_esc_view *out, size_t *n)
{
	uint8_t ids[BRK_ESC_VIEW_MAX][16];
	int64_t ats[BRK_ESC_VIEW_MAX];
	size_t k = 0;
	int rc;

	*n = 0;
	if (max > BRK_ESC_VIEW_MAX)
		max = BRK_ESC_VIEW_MAX;
	if ((rc = brk_store_esc_open(t, partition, max, ids, ats, &k)))
		return rc;
	for (size_t i = 0; i < k; i++) {
		Deconf__V1__ConflictLife *l = life_read(t, partition, ids[i]);
		Deconf__V1__PointOfContact d1 = DECONF__V1__POINT_OF_CONTACT__INIT;
		Deconf__V1__PointOfContact d2 = DECONF__V1__POINT_OF_CONTACT__INIT;
		Deconf__V1__PointOfContact *p1, *p2;
		struct brk_esc_view *v = &out[*n];
		struct brk_agency a1, a2;
		struct brk_entry self, other;

		if (!l || !life_sane(l)) {
			if (l)
				deconf__v1__conflict_life__free_unpacked(l, NULL);
			continue;
		}
		life_entries(l, &self, &other);
		p1 = side_poc(m, t, partition, &self, &d1, &a1);
		p2 = side_poc(m, t, partition, &other, &d2, &a2);
		memset(v, 0, sizeof(*v));
		memcpy(v->agency, self.agency, sizeof(v->agency));
		memcpy(v->other_agency, other.agency, sizeof(v->other_agency));
		view_poc(v->poc, p1 ? p1 : &d1);
		view_poc(v->other_poc, p2 ? p2 : &d2);
		v->caution_flags = l->caution_flags | l->other_caution_flags;
		v->type = l->type;
		v->notified_at = l->notified_at;
		v->escalated_at = l->escalated_at;
		(*n)++;
		if (p1)
			deconf__v1__point_of_contact__free_unpacked(p1, NULL);
		if (p2)
			deconf__v1__point_of_contact__free_unpacked(p2, NULL);
		deconf__v1__conflict_life__free_unpacked(l, NULL);
	}
	return DECONF_OK;
}

/* A conflict between the new entry n and the stored x: once per pair. */
static int conflict(struct brk_match *m, struct brk_store_txn *t, int partition,
		    const struct brk_entry *n, const struct brk_entry *x,
		    const Deconf__V1__TokenOp *op, int64_t now)
{
	Deconf__V1__StateRecord r = DECONF__V1__STATE_RECORD__INIT;
	Deconf__V1__NotifiedPair pr = DECONF__V1__NOTIFIED_PAIR__INIT;
	const struct brk_entry *lo = n, *hi = x;
	uint8_t id[DECONF_ID_LEN], key[1 + DECONF_ID_LEN];
	uint8_t idn[DECONF_ID_LEN], idx[DECONF_ID_LEN];
	struct idh h;
	struct notice_more pair = { .pair_ref = id };
	int rc, c, told_n = 0, told_x = 0;

	/* the pair id does not depend on which side came first */
	c = strcmp(n->agency, x->agency);
	if (!c)
		c = n->case_len != x->case_len ? (n->case_len < x->case_len ? -1 : 1)
					       : memcmp(n->case_ref, x->case_ref, n->case_len);
	if (c > 0) {
		lo = x;
		hi = n;
	}
	if (n->type == EVENT_CELL) {
		/* one conflict per pair of events, however many cells they
		 * share (all event cells are on one partition: ingest) */
		idh_init(&h, "event-pair");
	} else {
		idh_init(&h, "pair");
		idh_add(&h, n->token, BRK_TOKEN_LEN);
		idh_add64(&h, n->epoch);
	}
	idh_case(&h, lo);
	idh_case(&h, hi);
	idh_final(&h, id);
	if (brk_store_pair_has(t, partition, id))
		return DECONF_OK;
	if ((rc = brk_store_pair_put(t, partition, id, now)))
		return rc;
	key[0] = 'P';
	memcpy(key + 1, id, DECONF_ID_LEN);
	pr.notice_id.data = id;
	pr.notice_id.len = DECONF_ID_LEN;
	pr.at = now;
	r.pair = &pr;
	if ((rc = m->out.state(m->out.opaque, partition, key, sizeof(key), &r)))
		return rc;
	m->conflicts++;
	{
		struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_CONFLICT), .e = n,
					.other = x, .notice_id = id, .op = op };
		if ((rc = audit(m, partition, now, &a)))
			return rc;
	}
	if (!restricted(n) && !restricted(x)) {
		if ((rc = notify_ex(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_CONFLICT), n, x, op,
				    now, NULL, 0, &pair, idn)) ||
		    (rc = notify_ex(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_CONFLICT), x, n, op,
				    now, NULL, 0, &pair, idx)))
			return rc;
		told_n = told_x = 1;
	} else {
		/* a RESTRICTED side is told; the other side is told only if it is
		 * RESTRICTED too (each asked to be the one who decides) */
		if (restricted(x)) {
			if ((rc = notify_ex(m, t, partition,
					    K(NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH), x, n, op,
					    now, NULL, 0, &pair, idx)))
				return rc;
			told_x = 1;
		}
		if (restricted(n)) {
			if ((rc = notify_ex(m, t, partition,
					    K(NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH), n, x, op,
					    now, NULL, 0, &pair, idn)))
				return rc;
			told_n = 1;
		}
	}
	/* across a sharing scope: the watch desk brokers contact */
	if ((told_n && !discloses(m, t, partition, x, n)) ||
	    (told_x && !discloses(m, t, partition, n, x))) {
		Deconf__V1__OpsEvent ev = DECONF__V1__OPS_EVENT__INIT;
		ev.kind = K(OPS_KIND__OPS_KIND_LIAISON);
		ev.at = now;
		ev.agency_id.data = (uint8_t *)n->agency;
		ev.agency_id.len = strlen(n->agency);
		ev.other_agency_id.data = (uint8_t *)x->agency;
		ev.other_agency_id.len = strlen(x->agency);
		ev.type = n->type;
		ev.notice_id.data = id;
		ev.notice_id.len = DECONF_ID_LEN;
		ev.detail = "a conflict across a sharing scope: at least one side was told only "
			    "that a partner outside its scope holds the indicator";
		if ((rc = m->out.ops(m->out.opaque, &ev)))
			return rc;
		m->liaisons++;
		if (m->n_liaison_v < BRK_LIAISON_VIEW_MAX) {
			struct brk_liaison_view *lv = &m->liaison_v[m->n_liaison_v++];
			memset(lv, 0, sizeof(*lv));
			memcpy(lv->agency, n->agency, sizeof(lv->agency));
			memcpy(lv->other_agency, x->agency, sizeof(lv->other_agency));
			memcpy(lv->ref, id, sizeof(lv->ref));
			lv->at = now;
		}
	}
	/* each side told begins its lifecycle; it names the other side's
	 * notice only when that side was told too (a side told nothing is
	 * never told of an acknowledgment either) */
	if (told_n && (rc = life_begin(m, t, partition, n, x, idn, told_x ? idx : NULL, now)))
		return rc;
	if (told_x && (rc = life_begin(m, t, partition, x, n, idx, told_n ? idn : NULL, now)))
		return rc;
	return DECONF_OK;
}

/* ------------------------------------------------------------------ ops */

static int64_t clamp_expiry(const struct brk_match_conf *c, int type, int64_t asked, int64_t now)
{
	int64_t ttl = type == K(INDICATOR_TYPE__INDICATOR_TYPE_IP) ? c->ttl_ip_ms : c->ttl_ms;

	if (asked <= now)
		return now + ttl;
	return asked > now + c->ttl_max_ms ? now + c->ttl_max_ms : asked;
}

/* When housekeeping must next look at e: its expiry warning, or once
 * warned its expiry (a time already past is due at the next pass). */
static int64_t next_due(const struct brk_match_conf *c, const struct brk_entry *e)
{
	int64_t due;

	if (!e->expires_at)
		return 0;
	due = !e->warned && c->warn_before_ms > 0 ? e->expires_at - c->warn_before_ms
						  : e->expires_at;
	return due > 0 ? due : 1;
}

static int overlap(const struct brk_match_conf *c, const struct brk_entry *a,
		   const struct brk_entry *b)
{
	/* two operations: their windows must truly overlap (one ending as the
	 * other starts is no conflict), and two cells only their parents
	 * share are not near enough (docs/event-cells.md) */
	if (a->type == EVENT_CELL)
		return a->valid_from < b->valid_to && b->valid_from < a->valid_to &&
		       (a->cell_role == COVER || b->cell_role == COVER);
	int64_t slack = a->type == K(INDICATOR_TYPE__INDICATOR_TYPE_IP) ? c->ip_slack_ms : 0;
	int64_t af = a->valid_from, at = a->valid_to ? a->valid_to : INT64_MAX;
	int64_t bf = b->valid_from, bt = b->valid_to ? b->valid_to : INT64_MAX;

	/* a's window widened by the slack on each side meets b's */
	if (at != INT64_MAX && at <= INT64_MAX - slack)
		at += slack;
	af = af > INT64_MIN + slack ? af - slack : af;
	return af <= bt && bf <= at;
}

#define SCAN_AGENCIES 64

struct scan {
	struct brk_match *m;
	const struct brk_entry *self;
	int64_t now;
	/* other live cases holding the token, each agency's counted up to
	 * hot_cases_per_agency: one agency alone cannot make a token hot */
	size_t cases;
	size_t own;                   /* the adder's agency's other cases */
	size_t stop_at;               /* stop walking at this many: hot */
	struct {
		const char *agency;   /* into seen_v */
		uint32_t n;
	} per[SCAN_AGENCIES];
	char seen_v[SCAN_AGENCIES][DECONF_AGENCY_ID_MAX + 1];
	size_t n_per;
	struct brk_entry *hits;       /* the ones that conflict */
	size_t n_hits, cap;
};

/* Count x's case toward hot; 0 when its agency has counted enough. */
static int count_case(struct scan *s, const struct brk_entry *x)
{
	uint32_t cap = s->m->conf.hot_cases_per_agency;
	size_t i;

	if (!cap)
		return 1;
	for (i = 0; i < s->n_per; i++)
		if (!strcmp(s->per[i].agency, x->agency))
			break;
	if (i == s->n_per) {
		if (i == SCAN_AGENCIES)
			return 1; /* more agencies than tracked: hot long before */
		snprintf(s->seen_v[i], sizeof(s->seen_v[i]), "%s", x->agency);
		s->per[i].agency = s->seen_v[i];
		s->per[i].n = 0;
		s->n_per++;
	}
	return ++s->per[i].n <= cap;
}

static int scan_fn(void *opaque, const struct brk_entry *x)
{
	struct scan *s = opaque;

	if (same_case(x, s->self) || (x->expires_at && x->expires_at <= s->now))
		return 0;
	if (!strcmp(x->agency, s->self->agency))
		s->own++;
	/* past the hot threshold nothing more is notified: stop walking, so
	 * an add costs a bounded walk however many hold the token */
	if (count_case(s, x) && ++s->cases >= s->stop_at)
		return 1;
	if (!s->m->conf.match_same_agency && !strcmp(x->agency, s->self->agency))
		return 0;
	if (!overlap(&s->m->conf, s->self, x))
		return 0;
	if (s->n_hits == s->cap && s->cap >= MAX_MATCHES)
		return 0; /* hot long before: counted, not kept */
	if (DECONF_GROW(s->hits, s->n_hits, s->cap, 8))
		return DECONF_E_NOMEM;
	s->hits[s->n_hits++] = *x;
	return 0;
}

static void entry_from_op(struct brk_entry *e, const Deconf__V1__TokenOp *op)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->token, op->token.data, BRK_TOKEN_LEN);
	e->epoch = op->key_epoch;
	memcpy(e->agency, op->agency_id.data, op->agency_id.len);
	memcpy(e->case_ref, op->case_ref.data, op->case_ref.len);
	e->case_len = op->case_ref.len;
	e->type = op->type;
	e->visibility = op->visibility ? op->visibility : K(VISIBILITY__VISIBILITY_NORMAL);
	e->flags = op->caution_flags;
	e->valid_from = op->valid_from;
	e->valid_to = op->valid_to;
	if (e->type == EVENT_CELL) {
		e->cell_role = op->cell_role;
		e->cell_level = op->cell_level;
		e->event_kind = op->event_kind;
	}
}

/* Store e with its case's contact and scope (poc NULL: keep the stored). */
static int put_entry(struct brk_match *m, struct brk_store_txn *t, int partition,
		     const struct brk_entry *e, const Deconf__V1__PointOfContact *poc,
		     const Deconf__V1__DisclosureScope *scope, int *created)
{
	uint8_t *pb = NULL;
	size_t pl = 0;
	int rc;

	if (poc && (rc = case_blob(poc, scope, &pb, &pl)))
		return rc;
	rc = brk_store_entry_put(t, partition, e, pb, pl, created);
	free(pb);
	if (!rc)
		rc = put_entry_state(m, t, partition, e, poc, poc ? scope : NULL);
	return rc;
}

/* The token became hot, or was: tell ops once, and the adder. */
static int hot_token(struct brk_match *m, struct brk_store_txn *t, int partition,
		     const struct brk_entry *e, const Deconf__V1__TokenOp *op, size_t cases,
		     int64_t now)
{
	int rc;

	if (!brk_store_hot_has(t, partition, e->token, e->epoch)) {
		Deconf__V1__StateRecord r = DECONF__V1__STATE_RECORD__INIT;
		Deconf__V1__OpsEvent ev = DECONF__V1__OPS_EVENT__INIT;
		uint8_t key[1 + BRK_TOKEN_LEN + 4];
		char detail[160];
		struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_HOT_TOKEN), .e = e,
					.op = op, .detail = detail };

		if ((rc = brk_store_hot_set(t, partition, e->token, e->epoch, 1)))
			return rc;
		key[0] = 'H';
		memcpy(key + 1, e->token, BRK_TOKEN_LEN);
		put32(key + 1 + BRK_TOKEN_LEN, e->epoch);
		r.hot = 1;
		if ((rc = m->out.state(m->out.opaque, partition, key, sizeof(key), &r)))
			return rc;
		snprintf(detail, sizeof(detail),
			 "held by %s%zu cases (more than %u): conflicts on it are no longer sent",
			 cases > m->conf.hot_cases ? "at least " : "", cases, m->conf.hot_cases);
		ev.kind = K(OPS_KIND__OPS_KIND_HOT_TOKEN);
		ev.at = now;
		ev.agency_id.data = (uint8_t *)e->agency;
		ev.agency_id.len = strlen(e->agency);
		ev.type = e->type;
		ev.key_epoch = e->epoch;
		ev.token.data = (uint8_t *)e->token;
		ev.token.len = BRK_TOKEN_LEN;
		ev.count = cases;
		ev.detail = detail;
		m->hot++;
		if ((rc = m->out.ops(m->out.opaque, &ev)) || (rc = audit(m, partition, now, &a)))
			return rc;
	}
	return notify(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_HOT_TOKEN), e, NULL, op, now,
		      NULL, 0);
}

static int do_add(struct brk_match *m, struct brk_store_txn *t, int partition,
		  const Deconf__V1__TokenOp *op, int64_t now, int renew)
{
	struct brk_entry e, old;
	struct scan s = { .m = m, .self = &e, .now = now };
	size_t hot_cases;
	int created = 0, rc, hot;

	entry_from_op(&e, op);
	/* hot once the new entry makes more than hot_cases cases. Not event
	 * cells, unless absurdly many: a parent cell of a city district is
	 * held by every small event there, and a large event must still meet
	 * them on it; two operations at one place are never noise. */
	hot_cases = e.type == EVENT_CELL ? EVENT_HOT_CASES : m->conf.hot_cases;
	s.stop_at = hot_cases;
	e.added_at = now;
	e.expires_at = clamp_expiry(&m->conf, e.type, op->expires_at, now);
	old = e;
	if (!brk_store_entry_get(t, partition, &old)) {
		/* stored already: an update (or renewal), never a new notice */
		e.added_at = old.added_at;
		e.warned = old.warned && e.expires_at <= old.expires_at;
		if (renew) { /* a renewal keeps what the entry says */
			int64_t exp = e.expires_at;
			e = old;
			e.expires_at = exp > old.expires_at ? exp : old.expires_at;
			e.warned = exp > old.expires_at ? 0 : old.warned;
		}
		e.due_at = next_due(&m->conf, &e);
		if ((rc = put_entry(m, t, partition, &e, renew ? NULL : op->poc,
				    renew ? NULL : op->scope, &created)))
			return rc;
		return accepted(m, partition, op);
	}
	e.due_at = next_due(&m->conf, &e);
	hot = brk_store_hot_has(t, partition, e.token, e.epoch);
	if (!hot && (rc = brk_store_entries_of(t, partition, e.token, e.epoch, scan_fn, &s))) {
		if (rc != 1)
			goto out;
		hot = 1; /* the walk stopped at the threshold */
	}
	if (!hot && m->conf.token_cases_per_agency &&
	    s.own >= m->conf.token_cases_per_agency) {
		/* one agency piling a token into case after case would make every
		 * add of it walk them all: past the cap the entry is not stored,
		 * and the agency is told its case will not be matched on it */
		char detail[128];
		struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_HOT_TOKEN), .e = &e,
					.op = op, .detail = detail };
		snprintf(detail, sizeof(detail),
			 "not stored: the agency holds the token in %zu other cases (at most %u)",
			 s.own, m->conf.token_cases_per_agency);
		if ((rc = accepted(m, partition, op)) || (rc = audit(m, partition, now, &a)))
			goto out;
		rc = notify(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_HOT_TOKEN), &e, NULL, op, now,
			    NULL, 0);
		goto out;
	}
	if ((rc = put_entry(m, t, partition, &e, op->poc, op->scope, &created)) ||
	    (rc = accepted(m, partition, op)))
		goto out;
	if (hot || s.cases + 1 > hot_cases) {
		rc = hot_token(m, t, partition, &e, op, s.cases + 1, now);
		goto out;
	}
	for (size_t i = 0; i < s.n_hits && !rc; i++)
		rc = conflict(m, t, partition, &e, &s.hits[i], op, now);
out:
	free(s.hits);
	return rc;
}

static int do_remove(struct brk_match *m, struct brk_store_txn *t, int partition,
		     struct brk_entry *e, const Deconf__V1__TokenOp *op, int64_t now)
{
	int rc = brk_store_entry_del(t, partition, e);

	(void)now;
	if (rc == DECONF_E_UNKNOWN)
		return accepted(m, partition, op); /* nothing held: still accepted */
	if (rc || (rc = del_entry_state(m, partition, e)))
		return rc;
	return accepted(m, partition, op);
}

struct case_scan {
	const Deconf__V1__TokenOp *op;
	struct brk_entry *v;
	size_t n, cap;
};

static int case_fn(void *opaque, const struct brk_entry *x);

static int case_fn(void *opaque, const struct brk_entry *x)
{
	struct case_scan *c = opaque;

	if (DECONF_GROW(c->v, c->n, c->cap, 64))
		return DECONF_E_NOMEM;
	c->v[c->n++] = *x;
	return 0;
}

static int do_query(struct brk_match *m, struct brk_store_txn *t, int partition,
		    const Deconf__V1__TokenOp *op, int64_t now)
{
	struct brk_entry e;
	/* a query adds no case: hot when more than hot_cases hold it */
	struct scan s = { .m = m, .self = &e, .now = now, .stop_at = m->conf.hot_cases + 1 };
	uint8_t extra[DECONF_ID_LEN + 4];
	int rc;

	entry_from_op(&e, op);
	e.added_at = now;
	memcpy(extra, op->submission_id.data,
	       op->submission_id.len < DECONF_ID_LEN ? op->submission_id.len : DECONF_ID_LEN);
	put32(extra + DECONF_ID_LEN, op->op_index);
	if (!brk_store_hot_has(t, partition, e.token, e.epoch) &&
	    (rc = brk_store_entries_of(t, partition, e.token, e.epoch, scan_fn, &s)) && rc != 1)
		goto out;
	rc = DECONF_OK;
	if ((rc = accepted(m, partition, op)))
		goto out;
	if (brk_store_hot_has(t, partition, e.token, e.epoch) || s.cases > m->conf.hot_cases) {
		rc = notify(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_HOT_TOKEN), &e, NULL, op, now,
			    extra, sizeof(extra));
		goto out;
	}
	for (size_t i = 0; i < s.n_hits && !rc; i++) {
		const struct brk_entry *x = &s.hits[i];
		if (!restricted(x))
			rc = notify(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_QUERY_HIT), &e, x, op,
				    now, extra, sizeof(extra));
		/* a RESTRICTED asker is never revealed, as a RESTRICTED entry is not */
		if (!rc && !restricted(&e) && (restricted(x) || m->conf.notify_queried))
			rc = notify(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_QUERIED), x, &e, op,
				    now, extra, sizeof(extra));
	}
out:
	free(s.hits);
	return rc;
}

/* A close without tokens: the case's own entries, through the case index. */
static int close_case(struct brk_match *m, struct brk_store_txn *t, int partition,
		      const Deconf__V1__TokenOp *op, int64_t now)
{
	struct case_scan c = { .op = op };
	char agency[DECONF_AGENCY_ID_MAX + 1];
	int rc;

	if (!op->case_ref.len || op->case_ref.len > BRK_CASE_MAX)
		return DECONF_E_MALFORMED;
	memcpy(agency, op->agency_id.data, op->agency_id.len);
	agency[op->agency_id.len] = '\0';
	rc = brk_store_case_entries(t, partition, agency, op->case_ref.data, op->case_ref.len,
				    case_fn, &c);
	for (size_t i = 0; i < c.n && !rc; i++)
		rc = do_remove(m, t, partition, &c.v[i], op, now);
	free(c.v);
	return rc;
}

int brk_match_op(struct brk_match *m, struct brk_store_txn *t, int partition,
		 const Deconf__V1__TokenOp *op, int64_t now)
{
	struct brk_entry e;
	int rc;

	if (op->ack_notice_id.len) {
		if (op->agency_id.len < 2 || op->agency_id.len >= sizeof(e.agency) ||
		    op->case_ref.len > BRK_CASE_MAX)
			return DECONF_E_MALFORMED;
		return do_ack(m, t, partition, op, now);
	}
	/* ingest checked all of this; the store's keys depend on it */
	if (op->agency_id.len < 2 || op->agency_id.len >= sizeof(e.agency) ||
	    op->case_ref.len > BRK_CASE_MAX ||
	    (!op->case_ref.len && !(op->n_close_cases && op->op == K(OP__OP_CLOSE_CASE))) ||
	    (op->token.len != BRK_TOKEN_LEN &&
	     !(op->op == K(OP__OP_CLOSE_CASE) && !op->token.len)) ||
	    (op->n_close_cases && (op->token.len || op->case_ref.len)))
		return DECONF_E_MALFORMED;
	switch (op->op) {
	case K(OP__OP_ADD): return do_add(m, t, partition, op, now, 0);
	case K(OP__OP_RENEW): return do_add(m, t, partition, op, now, 1);
	case K(OP__OP_QUERY): return do_query(m, t, partition, op, now);
	case K(OP__OP_REMOVE):
	case K(OP__OP_CLOSE_CASE):
		if (op->token.len) {
			entry_from_op(&e, op);
			return do_remove(m, t, partition, &e, op, now);
		}
		if (!op->n_close_cases)
			return close_case(m, t, partition, op, now);
		{
			/* several cases closed at once: each as if alone */
			Deconf__V1__TokenOp one = *op;
			rc = DECONF_OK;
			one.close_cases = NULL;
			one.n_close_cases = 0;
			for (size_t i = 0; i < op->n_close_cases && !rc; i++) {
				one.case_ref = op->close_cases[i];
				rc = close_case(m, t, partition, &one, now);
			}
			return rc;
		}
	default: return DECONF_E_MALFORMED;
	}
}

/* ----------------------------------------------------------------- expiry */

struct collect {
	size_t max;
	struct brk_entry *v;
	size_t n, cap;
	/* set: only entries whose exact due time has come (the index knows
	 * the minute) */
	const struct brk_match_conf *conf;
	int64_t now;
};

static int collect_fn(void *opaque, const struct brk_entry *x)
{
	struct collect *c = opaque;

	if (c->n >= c->max)
		return 1;
	/* not due yet: left, unless filed under a past minute (the warning
	 * time changed since), to be filed again */
	if (c->conf && next_due(c->conf, x) > c->now && x->due_at / 60000 >= c->now / 60000)
		return 0;
	if (DECONF_GROW(c->v, c->n, c->cap, 64))
		return DECONF_E_NOMEM;
	c->v[c->n++] = *x;
	return c->n >= c->max ? 1 : 0;
}

/* Remove an entry of a key epoch the federation retired: audited, no
 * notice (its owner resubmitted under the new key). */
static int retire(struct brk_match *m, struct brk_store_txn *t, int partition,
		  const struct brk_entry *e, int64_t now)
{
	struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_EXPIRED), .e = e,
				.detail = "key epoch retired by the federation" };
	int rc;

	if ((rc = brk_store_entry_del(t, partition, e)) || (rc = del_entry_state(m, partition, e)) ||
	    (rc = audit(m, partition, now, &a)))
		return rc;
	m->expired++;
	return DECONF_OK;
}

/* One due entry: expire it, warn its owner, or move it to its next due
 * time (each leaves it due later than now, or gone). */
static int due(struct brk_match *m, struct brk_store_txn *t, int partition, struct brk_entry *e,
	       int64_t now)
{
	uint8_t extra[8];
	int rc;

	for (int j = 0; j < 8; j++)
		extra[j] = (uint8_t)((uint64_t)e->expires_at >> (56 - 8 * j));
	if (e->expires_at && e->expires_at <= now) {
		struct audit_args a = { .kind = K(AUDIT_KIND__AUDIT_KIND_EXPIRED), .e = e };
		/* the notice first: it reads the case's contact */
		if ((rc = notify(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_EXPIRED), e, NULL, NULL,
				 now, extra, sizeof(extra))) ||
		    (rc = brk_store_entry_del(t, partition, e)) ||
		    (rc = del_entry_state(m, partition, e)) || (rc = audit(m, partition, now, &a)))
			return rc;
		m->expired++;
		return DECONF_OK;
	}
	if (!e->warned && e->expires_at && e->expires_at - m->conf.warn_before_ms <= now) {
		e->warned = 1;
		e->due_at = next_due(&m->conf, e);
		if ((rc = brk_store_entry_put(t, partition, e, NULL, 0, NULL)) ||
		    (rc = put_entry_state(m, t, partition, e, NULL, NULL)) ||
		    (rc = notify(m, t, partition, K(NOTICE_KIND__NOTICE_KIND_EXPIRY_WARNING), e, NULL,
				 NULL, now, extra, sizeof(extra))))
			return rc;
		m->warned++;
		return DECONF_OK;
	}
	/* not due after all (matcher.expiry_warning was lowered since it was
	 * stored): at its time, or its expiry */
	e->due_at = next_due(&m->conf, e);
	if (e->due_at && e->due_at <= now)
		e->due_at = e->expires_at;
	return brk_store_entry_put(t, partition, e, NULL, 0, NULL);
}

int brk_match_expire(struct brk_match *m, struct brk_store_txn *t, int partition,
		     int64_t now, size_t max, size_t *done)
{
	struct collect c = { .max = max ? max : 1 };
	int rc = DECONF_OK;

	*done = 0;
	/* key epochs the federation's record does not hold live: their entries
	 * go, a bounded number per pass (no record at all: nothing is retired) */
	if (m->dir) {
		struct brk_epochs ep;
		uint32_t have[16];
		size_t nh = 0;

		brk_directory_epochs(m->dir, &ep);
		if (ep.serial && !(rc = brk_store_epochs(t, partition, have, 16, &nh))) {
			for (size_t i = 0; i < nh && i < 16 && c.n < c.max && !rc; i++)
				if (brk_epochs_state(&ep, have[i], now) != 1) {
					rc = brk_store_epoch_entries(t, partition, have[i], collect_fn,
								     &c);
					if (rc == 1)
						rc = DECONF_OK;
				}
			for (size_t i = 0; i < c.n && !rc; i++, (*done)++)
				rc = retire(m, t, partition, &c.v[i], now);
		}
	}
	if (!rc && c.n < c.max) {
		size_t retired = c.n;
		c.n = 0;
		c.max -= retired;
		c.conf = &m->conf;
		c.now = now;
		if ((rc = brk_store_due(t, partition, now, collect_fn, &c)) == 1)
			rc = DECONF_OK;
		for (size_t i = 0; i < c.n && !rc; i++, (*done)++)
			rc = due(m, t, partition, &c.v[i], now);
	}
	free(c.v);
	return rc;
}

/* ----------------------------------------------------------------- restore */

int brk_match_restore(const struct brk_match_conf *conf, struct brk_store_txn *t, int partition,
		      const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
		      struct brk_audit_head *head)
{
	Deconf__V1__StateRecord *r = NULL;
	struct brk_entry e;
	int rc = DECONF_OK;

	if (!key_len)
		return DECONF_E_MALFORMED;
	if (value && !(r = deconf__v1__state_record__unpack(NULL, value_len, value)))
		return DECONF_E_MALFORMED;
	switch (key[0]) {
	case 'E': {
		const uint8_t *nul;
		size_t al;

		if (key_len < 1 + BRK_TOKEN_LEN + 4 + 2 ||
		    !(nul = memchr(key + 5 + BRK_TOKEN_LEN, 0, key_len - 5 - BRK_TOKEN_LEN)) ||
		    (al = (size_t)(nul - (key + 5 + BRK_TOKEN_LEN))) >= sizeof(e.agency) ||
		    key_len - (size_t)(nul + 1 - key) > BRK_CASE_MAX) {
			rc = DECONF_E_MALFORMED;
			break;
		}
		memset(&e, 0, sizeof(e));
		memcpy(e.token, key + 1, BRK_TOKEN_LEN);
		e.epoch = (uint32_t)key[17] << 24 | (uint32_t)key[18] << 16 |
			  (uint32_t)key[19] << 8 | key[20];
		memcpy(e.agency, key + 5 + BRK_TOKEN_LEN, al);
		e.case_len = key_len - (size_t)(nul + 1 - key);
		memcpy(e.case_ref, nul + 1, e.case_len);
		if (!r) {
			rc = brk_store_entry_del(t, partition, &e);
			if (rc == DECONF_E_UNKNOWN)
				rc = DECONF_OK;
			break;
		}
		if (!r->entry) {
			rc = DECONF_E_MALFORMED;
			break;
		}
		e.type = r->entry->type;
		e.visibility = r->entry->visibility;
		e.warned = r->entry->expiry_warned;
		e.flags = r->entry->caution_flags;
		e.added_at = r->entry->added_at;
		e.expires_at = r->entry->expires_at;
		e.valid_from = r->entry->valid_from;
		e.valid_to = r->entry->valid_to;
		if (e.type == EVENT_CELL) {
			if (!event_cell_sane(r->entry->cell_role, r->entry->cell_level)) {
				rc = DECONF_E_MALFORMED;
				break;
			}
			e.cell_role = r->entry->cell_role;
			e.cell_level = r->entry->cell_level;
			e.event_kind = r->entry->event_kind & 0xff;
		}
		e.due_at = next_due(conf, &e);
		if (r->entry->poc) {
			uint8_t *pb;
			size_t pl;
			if ((rc = case_blob(r->entry->poc, r->entry->case_scope, &pb, &pl)))
				break;
			rc = brk_store_entry_put(t, partition, &e, pb, pl, NULL);
			free(pb);
		} else {
			rc = brk_store_entry_put(t, partition, &e, NULL, 0, NULL);
		}
		break;
	}
	case 'P':
		if (key_len != 17) {
			rc = DECONF_E_MALFORMED;
			break;
		}
		rc = r ? brk_store_pair_put(t, partition, key + 1, r->pair ? r->pair->at : 0)
		       : brk_store_pair_del(t, partition, key + 1);
		break;
	case 'H':
		if (key_len != 1 + BRK_TOKEN_LEN + 4) {
			rc = DECONF_E_MALFORMED;
			break;
		}
		rc = brk_store_hot_set(t, partition, key + 1,
				       (uint32_t)key[17] << 24 | (uint32_t)key[18] << 16 |
					       (uint32_t)key[19] << 8 | key[20],
				       r && r->hot);
		break;
	case 'X': /* an obsolete epoch mark: epochs come from the federation's record */
		break;
	case 'L': {
		Deconf__V1__ConflictLife *old;

		if (key_len != 1 + DECONF_ID_LEN || (r && (!r->life || !life_sane(r->life) ||
							   memcmp(r->life->notice_id.data, key + 1,
								  DECONF_ID_LEN)))) {
			rc = DECONF_E_MALFORMED;
			break;
		}
		/* what the indexes said before goes with the old record */
		if ((old = life_read(t, partition, key + 1))) {
			rc = life_index(t, partition, old, 0);
			deconf__v1__conflict_life__free_unpacked(old, NULL);
			if (rc)
				break;
		}
		if (!r) {
			rc = brk_store_life_del(t, partition, key + 1);
			break;
		}
		{
			size_t ll = deconf__v1__conflict_life__get_packed_size(r->life);
			uint8_t *lb = malloc(ll ? ll : 1);
			if (!lb) {
				rc = DECONF_E_NOMEM;
				break;
			}
			deconf__v1__conflict_life__pack(r->life, lb);
			rc = brk_store_life_put(t, partition, key + 1, lb, ll);
			free(lb);
		}
		if (!rc)
			rc = life_index(t, partition, r->life, 1);
		break;
	}
	case 'A':
		if (r && r->audit && r->audit->hash.len == 32) {
			head->seq = r->audit->seq;
			memcpy(head->hash, r->audit->hash.data, 32);
		}
		break;
	default: rc = DECONF_E_MALFORMED;
	}
	if (r)
		deconf__v1__state_record__free_unpacked(r, NULL);
	return rc;
}
