/* store.c — the matcher's LMDB state (see store.h). */
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "store.h"

#define VALUE_MAX 96 /* 2 bytes, then 6 varints of at most 10 bytes (9 for an event
		      * cell); ~20 in practice */
#define CASE_KEY_MAX (2 + 64 + 1 + BRK_CASE_MAX)
#define ENTRY_KEY_LEN (2 + BRK_TOKEN_LEN + 4 + 4)
/* bycase holds the first TOKPFX bytes of a token, not all 16: enough to
 * find the entry (its key starts with the token), and 8 bytes less per
 * entry. Tokens sharing a prefix within one case share the dup. */
#define TOKPFX 8
#define BYCASE_DUP_LEN (4 + 4 + TOKPFX)
#define CKPT_LEN (8 + 8 + 32 + 8)
#define NEVER_MIN UINT32_MAX /* due minute of an entry never due */
#define STALE_MAX 1024       /* stale due records removed per walk at most */

struct brk_store {
	MDB_env *env;
	MDB_dbi entries, cases, cids, bycase, due, pairs, hot, meta, life, esc;
};

struct brk_store_txn {
	struct brk_store *s;
	MDB_txn *txn;
	int rdonly;
};

/* LMDB's own codes are below -30000; deconf's are small negatives. */
#define IS_MDB(rc) ((rc) < -30000 || (rc) > 0)

static int map_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return DECONF_OK;
	case MDB_NOTFOUND: return DECONF_E_UNKNOWN;
	case ENOMEM: return DECONF_E_NOMEM;
	case MDB_MAP_FULL: return ENOSPC;
	case EINVAL: return DECONF_E_INVAL;
	default: return rc > 0 ? rc : DECONF_E_IO;
	}
}

static void be16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void be64(uint8_t *p, int64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
}

static int64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

/* The minute an entry is due in (its start: the caller checks the exact
 * time, so nothing is acted on late by up to a minute). */
static uint32_t due_minute(int64_t due_at)
{
	int64_t m;

	if (due_at <= 0)
		return NEVER_MIN;
	m = due_at / 60000;
	return m >= NEVER_MIN ? NEVER_MIN - 1 : (uint32_t)m;
}

int brk_store_open(struct brk_store **out, const char *dir, size_t map_size, char *errstr,
		   size_t errstr_size)
{
	struct brk_store *s;
	MDB_txn *txn = NULL;
	int rc;

	*out = NULL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return deconf_err_set(errstr, errstr_size, errno, "%s: %s", dir, strerror(errno));
	if (!(s = calloc(1, sizeof(*s))))
		return DECONF_E_NOMEM;
	/* MDB_NOSYNC is not used: a commit must be on disk before the next
	 * batch, or a power cut could leave the state behind its checkpoint */
	if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 12)) ||
	    (rc = mdb_env_set_mapsize(s->env, map_size)) ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) ||
	    (rc = mdb_txn_begin(s->env, NULL, 0, &txn)) ||
	    (rc = mdb_dbi_open(txn, "entries", MDB_CREATE, &s->entries)) ||
	    (rc = mdb_dbi_open(txn, "cases", MDB_CREATE, &s->cases)) ||
	    (rc = mdb_dbi_open(txn, "cids", MDB_CREATE, &s->cids)) ||
	    (rc = mdb_dbi_open(txn, "bycase", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
			       &s->bycase)) ||
	    (rc = mdb_dbi_open(txn, "due", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &s->due)) ||
	    (rc = mdb_dbi_open(txn, "pairs", MDB_CREATE, &s->pairs)) ||
	    (rc = mdb_dbi_open(txn, "hot", MDB_CREATE, &s->hot)) ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) ||
	    (rc = mdb_dbi_open(txn, "life", MDB_CREATE, &s->life)) ||
	    (rc = mdb_dbi_open(txn, "esc", MDB_CREATE, &s->esc)) || (rc = mdb_txn_commit(txn))) {
		if (rc == MDB_INCOMPATIBLE || rc == EINVAL)
			deconf_err_set(errstr, errstr_size, map_err(rc),
				       "state store %s: %s (a store written by an older deconf-broker? "
				       "remove the directory: the state is rebuilt from the changelog)",
				       dir, mdb_strerror(rc));
		else
			deconf_err_set(errstr, errstr_size, map_err(rc), "state store %s: %s", dir,
				       mdb_strerror(rc));
		if (txn && rc)
			mdb_txn_abort(txn);
		brk_store_close(s);
		return map_err(rc);
	}
	*out = s;
	return DECONF_OK;
}

void brk_store_close(struct brk_store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	free(s);
}

int brk_store_begin(struct brk_store *s, int rdonly, struct brk_store_txn **out)
{
	struct brk_store_txn *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t)
		return DECONF_E_NOMEM;
	t->s = s;
	t->rdonly = rdonly;
	if ((rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &t->txn))) {
		free(t);
		return map_err(rc);
	}
	*out = t;
	return DECONF_OK;
}

int brk_store_commit(struct brk_store_txn *t)
{
	int rc = mdb_txn_commit(t->txn);

	free(t);
	return map_err(rc);
}

void brk_store_abort(struct brk_store_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

/* ----------------------------------------------------------------- keys */

static void entry_key(uint8_t *k, int partition, const uint8_t *token, uint32_t epoch,
		      uint32_t cid)
{
	be16(k, (unsigned)partition);
	memcpy(k + 2, token, BRK_TOKEN_LEN);
	be32(k + 2 + BRK_TOKEN_LEN, epoch);
	be32(k + 2 + BRK_TOKEN_LEN + 4, cid);
}

static size_t case_key(uint8_t *k, int partition, const char *agency, const uint8_t *case_ref,
		       size_t case_len)
{
	size_t al = strlen(agency);

	be16(k, (unsigned)partition);
	memcpy(k + 2, agency, al);
	k[2 + al] = 0;
	if (case_len) /* an empty case ref may come as NULL */
		memcpy(k + 3 + al, case_ref, case_len);
	return 3 + al + case_len;
}

static void cid_key(uint8_t *k, int partition, uint32_t cid)
{
	be16(k, (unsigned)partition);
	be32(k + 2, cid);
}

static void bycase_dup(uint8_t *d, uint32_t epoch, uint32_t dmin, const uint8_t *token)
{
	be32(d, epoch);
	be32(d + 4, dmin);
	memcpy(d + 8, token, TOKPFX);
}

static void due_key(uint8_t *k, int partition, uint32_t epoch, uint32_t dmin)
{
	be16(k, (unsigned)partition);
	be32(k + 2, epoch);
	be32(k + 6, dmin);
}

/* ---------------------------------------------------------------- values */

/* The value, compact (an entry's bytes are the store's size): a byte of
 * visibility and warned bits, the type, then zigzag varints of the flags,
 * added_at, expires_at - added_at, valid_from, valid_to and the due minute
 * relative to added_at's. */
static uint8_t *put_varint(uint8_t *q, int64_t sv)
{
	uint64_t v = ((uint64_t)sv << 1) ^ (uint64_t)(sv >> 63);

	while (v >= 0x80) {
		*q++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*q++ = (uint8_t)v;
	return q;
}

static const uint8_t *get_varint(const uint8_t *q, const uint8_t *end, int64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; q < end && shift < 64; shift += 7) {
		v |= (uint64_t)(*q & 0x7f) << shift;
		if (!(*q++ & 0x80)) {
			*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
			return q;
		}
	}
	return NULL;
}

static size_t encode_value(uint8_t *q0, const struct brk_entry *e, uint32_t dmin)
{
	uint8_t *q = q0;

	*q++ = (uint8_t)((e->visibility & 3) | (e->warned ? 4 : 0));
	*q++ = (uint8_t)e->type;
	q = put_varint(q, e->flags);
	q = put_varint(q, e->added_at);
	q = put_varint(q, e->expires_at ? e->expires_at - e->added_at : INT64_MIN / 4);
	q = put_varint(q, e->valid_from);
	q = put_varint(q, e->valid_to);
	q = put_varint(q, (int64_t)dmin - e->added_at / 60000);
	if (e->type == DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL) {
		/* only event cells carry these: every other value is as it was */
		q = put_varint(q, e->cell_role);
		q = put_varint(q, e->cell_level);
		q = put_varint(q, e->event_kind);
	}
	return (size_t)(q - q0);
}

/* Decode a value into e's fields; *dmin receives the due minute. */
static int decode_value(const MDB_val *v, struct brk_entry *e, uint32_t *dmin)
{
	const uint8_t *q = v->mv_data, *end = q + v->mv_size;
	int64_t flags, exp, d;

	if (v->mv_size < 8)
		return DECONF_E_IO;
	e->visibility = q[0] & 3;
	e->warned = (q[0] & 4) != 0;
	e->type = q[1];
	q += 2;
	if (!(q = get_varint(q, end, &flags)) || !(q = get_varint(q, end, &e->added_at)) ||
	    !(q = get_varint(q, end, &exp)) || !(q = get_varint(q, end, &e->valid_from)) ||
	    !(q = get_varint(q, end, &e->valid_to)) || !(q = get_varint(q, end, &d)))
		return DECONF_E_IO;
	e->flags = (uint32_t)flags;
	e->cell_role = 0;
	e->cell_level = 0;
	e->event_kind = 0;
	if (q < end) {
		int64_t role, level, kind;
		if (!(q = get_varint(q, end, &role)) || !(q = get_varint(q, end, &level)) ||
		    !(q = get_varint(q, end, &kind)) || role < 0 || role > 2 || level < 0 ||
		    level > 30 || kind < 0 || kind > 255)
			return DECONF_E_IO;
		e->cell_role = (int)role;
		e->cell_level = (uint32_t)level;
		e->event_kind = (int)kind;
	}
	e->expires_at = exp == INT64_MIN / 4 ? 0 : e->added_at + exp;
	d += e->added_at / 60000;
	if (d < 0 || d > NEVER_MIN)
		return DECONF_E_IO;
	*dmin = (uint32_t)d;
	e->due_at = *dmin == NEVER_MIN ? 0 : (int64_t)*dmin * 60000;
	return DECONF_OK;
}

/* ----------------------------------------------------------------- cases */

struct case_rec {
	uint32_t cid, count;
	const void *poc; /* borrowed from the transaction */
	size_t poc_len;
};

static int case_get(struct brk_store_txn *t, int partition, const char *agency,
		    const uint8_t *case_ref, size_t case_len, struct case_rec *c)
{
	uint8_t kb[CASE_KEY_MAX];
	MDB_val k = { case_key(kb, partition, agency, case_ref, case_len), kb }, v;
	int rc;

	if (strlen(agency) >= 64 || case_len > BRK_CASE_MAX)
		return DECONF_E_INVAL;
	if ((rc = mdb_get(t->txn, t->s->cases, &k, &v)))
		return map_err(rc);
	if (v.mv_size < 8)
		return DECONF_E_IO;
	c->cid = rd32(v.mv_data);
	c->count = rd32((const uint8_t *)v.mv_data + 4);
	c->poc = (const uint8_t *)v.mv_data + 8;
	c->poc_len = v.mv_size - 8;
	return DECONF_OK;
}

static int case_put(struct brk_store_txn *t, int partition, const struct brk_entry *e,
		    uint32_t cid, uint32_t count, const void *poc, size_t poc_len)
{
	uint8_t kb[CASE_KEY_MAX], *buf;
	MDB_val k = { case_key(kb, partition, e->agency, e->case_ref, e->case_len), kb }, v;
	int rc;

	if (!(buf = malloc(8 + poc_len)))
		return DECONF_E_NOMEM;
	be32(buf, cid);
	be32(buf + 4, count);
	if (poc_len)
		memcpy(buf + 8, poc, poc_len);
	v.mv_data = buf;
	v.mv_size = 8 + poc_len;
	rc = mdb_put(t->txn, t->s->cases, &k, &v, 0);
	free(buf);
	return map_err(rc);
}

/* A new case id for the partition, and its reverse record. */
static int case_new(struct brk_store_txn *t, int partition, const struct brk_entry *e,
		    uint32_t *cid)
{
	uint8_t mk[6], nb[4], ck[6], cv[64 + 1 + BRK_CASE_MAX];
	MDB_val k = { sizeof(mk), mk }, v;
	size_t al = strlen(e->agency);
	uint32_t next = 1;
	int rc;

	memcpy(mk, "cidn", 4);
	be16(mk + 4, (unsigned)partition);
	rc = mdb_get(t->txn, t->s->meta, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return map_err(rc);
	if (!rc && v.mv_size == 4)
		next = rd32(v.mv_data);
	if (!next || next == UINT32_MAX) /* 4 billion cases in one partition */
		return ENOSPC;
	*cid = next;
	be32(nb, next + 1);
	v.mv_data = nb;
	v.mv_size = 4;
	if ((rc = mdb_put(t->txn, t->s->meta, &k, &v, 0)))
		return map_err(rc);
	cid_key(ck, partition, next);
	memcpy(cv, e->agency, al);
	cv[al] = 0;
	memcpy(cv + al + 1, e->case_ref, e->case_len);
	k.mv_data = ck;
	k.mv_size = sizeof(ck);
	v.mv_data = cv;
	v.mv_size = al + 1 + e->case_len;
	return map_err(mdb_put(t->txn, t->s->cids, &k, &v, 0));
}

/* The agency and case of a case id, into e. */
static int case_name(struct brk_store_txn *t, int partition, uint32_t cid, struct brk_entry *e)
{
	uint8_t ck[6];
	MDB_val k = { sizeof(ck), ck }, v;
	const uint8_t *p, *nul;
	int rc;

	cid_key(ck, partition, cid);
	if ((rc = mdb_get(t->txn, t->s->cids, &k, &v)))
		return rc == MDB_NOTFOUND ? DECONF_E_IO : map_err(rc); /* an entry without its case */
	p = v.mv_data;
	if (!(nul = memchr(p, 0, v.mv_size)) || (size_t)(nul - p) >= sizeof(e->agency) ||
	    v.mv_size - (size_t)(nul - p) - 1 > BRK_CASE_MAX)
		return DECONF_E_IO;
	memcpy(e->agency, p, (size_t)(nul - p));
	e->agency[nul - p] = '\0';
	e->case_len = v.mv_size - (size_t)(nul - p) - 1;
	memcpy(e->case_ref, nul + 1, e->case_len);
	return DECONF_OK;
}

static int case_forget(struct brk_store_txn *t, int partition, const struct brk_entry *e,
		       uint32_t cid)
{
	uint8_t kb[CASE_KEY_MAX], ck[6];
	MDB_val k = { case_key(kb, partition, e->agency, e->case_ref, e->case_len), kb };
	int rc = mdb_del(t->txn, t->s->cases, &k, NULL);

	if (rc && rc != MDB_NOTFOUND)
		return map_err(rc);
	cid_key(ck, partition, cid);
	k.mv_data = ck;
	k.mv_size = sizeof(ck);
	rc = mdb_del(t->txn, t->s->cids, &k, NULL);
	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

/* ------------------------------------------------------------- indexes */

static int index_add(struct brk_store_txn *t, int partition, uint32_t cid, uint32_t epoch,
		     uint32_t dmin, const uint8_t *token)
{
	uint8_t ck[6], dup[BYCASE_DUP_LEN], dk[10], cb[4];
	MDB_val k = { sizeof(ck), ck }, v = { sizeof(dup), dup };
	int rc;

	cid_key(ck, partition, cid);
	bycase_dup(dup, epoch, dmin, token);
	rc = mdb_put(t->txn, t->s->bycase, &k, &v, MDB_NODUPDATA);
	if (rc && rc != MDB_KEYEXIST)
		return map_err(rc);
	due_key(dk, partition, epoch, dmin);
	be32(cb, cid);
	k.mv_data = dk;
	k.mv_size = sizeof(dk);
	v.mv_data = cb;
	v.mv_size = sizeof(cb);
	rc = mdb_put(t->txn, t->s->due, &k, &v, MDB_NODUPDATA);
	return rc == MDB_KEYEXIST ? DECONF_OK : map_err(rc);
}

/* 1 when the case still has an entry of (epoch, dmin). */
static int case_has_due(struct brk_store_txn *t, int partition, uint32_t cid, uint32_t epoch,
			uint32_t dmin, int *has)
{
	uint8_t ck[6], dup[BYCASE_DUP_LEN];
	MDB_val k = { sizeof(ck), ck }, v = { sizeof(dup), dup };
	MDB_cursor *c;
	int rc;

	*has = 0;
	cid_key(ck, partition, cid);
	bycase_dup(dup, epoch, dmin, (const uint8_t[TOKPFX]){ 0 });
	if ((rc = mdb_cursor_open(t->txn, t->s->bycase, &c)))
		return map_err(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE);
	if (!rc)
		*has = v.mv_size == BYCASE_DUP_LEN && !memcmp(v.mv_data, dup, 8);
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

static int due_del(struct brk_store_txn *t, int partition, uint32_t epoch, uint32_t dmin,
		   uint32_t cid)
{
	uint8_t dk[10], cb[4];
	MDB_val k = { sizeof(dk), dk }, v = { sizeof(cb), cb };
	int rc;

	due_key(dk, partition, epoch, dmin);
	be32(cb, cid);
	rc = mdb_del(t->txn, t->s->due, &k, &v);
	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

/*
 * The entries of case cid under epoch whose token starts with pfx and
 * whose due minute is dmin, but for token skip (may be NULL): *n counts
 * them and fn (may be NULL) gets each. e holds the case's agency and case
 * ref; its other fields are filled per entry.
 */
static int entries_at(struct brk_store_txn *t, int partition, uint32_t cid, uint32_t epoch,
		      const uint8_t *pfx, uint32_t dmin, const uint8_t *skip, struct brk_entry *e,
		      brk_entry_fn *fn, void *opaque, size_t *n)
{
	uint8_t k0[2 + TOKPFX];
	MDB_val k = { sizeof(k0), k0 }, v;
	MDB_cursor *c;
	uint32_t d;
	int rc;

	*n = 0;
	be16(k0, (unsigned)partition);
	memcpy(k0 + 2, pfx, TOKPFX);
	if ((rc = mdb_cursor_open(t->txn, t->s->entries, &c)))
		return map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *kp = k.mv_data;

		if (k.mv_size != ENTRY_KEY_LEN || memcmp(kp, k0, sizeof(k0)))
			break;
		if (rd32(kp + 18) != epoch || rd32(kp + 22) != cid ||
		    (skip && !memcmp(kp + 2, skip, BRK_TOKEN_LEN)))
			continue;
		if ((rc = decode_value(&v, e, &d)))
			break;
		if (d != dmin)
			continue;
		memcpy(e->token, kp + 2, BRK_TOKEN_LEN);
		e->epoch = epoch;
		(*n)++;
		if (fn && (rc = fn(opaque, e)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? DECONF_OK : IS_MDB(rc) ? map_err(rc) : rc;
}

static int index_del(struct brk_store_txn *t, int partition, uint32_t cid, uint32_t epoch,
		     uint32_t dmin, const uint8_t *token)
{
	uint8_t ck[6], dup[BYCASE_DUP_LEN];
	MDB_val k = { sizeof(ck), ck }, v = { sizeof(dup), dup };
	struct brk_entry other;
	size_t n;
	int rc, has;

	/* another entry of the case with the same token prefix keeps the dup */
	memset(&other, 0, sizeof(other));
	if ((rc = entries_at(t, partition, cid, epoch, token, dmin, token, &other, NULL, NULL, &n)))
		return rc;
	if (n)
		return DECONF_OK;
	cid_key(ck, partition, cid);
	bycase_dup(dup, epoch, dmin, token);
	rc = mdb_del(t->txn, t->s->bycase, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return map_err(rc);
	/* the due record names the case, not the entry: it goes with the
	 * case's last entry of that minute */
	if ((rc = case_has_due(t, partition, cid, epoch, dmin, &has)) || has)
		return rc;
	return due_del(t, partition, epoch, dmin, cid);
}

/* -------------------------------------------------------------- entries */

/* Read the entry of (token, epoch, cid) into e's value fields. */
static int entry_read(struct brk_store_txn *t, int partition, uint32_t cid, struct brk_entry *e,
		      uint32_t *dmin)
{
	uint8_t kb[ENTRY_KEY_LEN];
	MDB_val k = { sizeof(kb), kb }, v;
	int rc;

	entry_key(kb, partition, e->token, e->epoch, cid);
	if ((rc = mdb_get(t->txn, t->s->entries, &k, &v)))
		return map_err(rc);
	return decode_value(&v, e, dmin);
}

int brk_store_entry_get(struct brk_store_txn *t, int partition, struct brk_entry *e)
{
	struct case_rec c;
	uint32_t dmin;
	int rc;

	if ((rc = case_get(t, partition, e->agency, e->case_ref, e->case_len, &c)))
		return rc;
	return entry_read(t, partition, c.cid, e, &dmin);
}

int brk_store_entry_put(struct brk_store_txn *t, int partition, const struct brk_entry *e,
			const void *poc, size_t poc_len, int *created)
{
	uint8_t kb[ENTRY_KEY_LEN], vb[VALUE_MAX];
	MDB_val k = { sizeof(kb), kb }, v = { 0, vb }, old;
	struct case_rec c = { 0 };
	struct brk_entry prev;
	uint32_t dmin = due_minute(e->due_at), old_dmin = 0;
	int rc, isnew, have_case;

	if (strlen(e->agency) >= sizeof(e->agency) || !e->agency[0] || e->case_len > BRK_CASE_MAX)
		return DECONF_E_INVAL;
	rc = case_get(t, partition, e->agency, e->case_ref, e->case_len, &c);
	if (rc && rc != DECONF_E_UNKNOWN)
		return rc;
	have_case = !rc;
	if (!have_case && (rc = case_new(t, partition, e, &c.cid)))
		return rc;
	entry_key(kb, partition, e->token, e->epoch, c.cid);
	rc = mdb_get(t->txn, t->s->entries, &k, &old);
	if (rc && rc != MDB_NOTFOUND)
		return map_err(rc);
	isnew = rc == MDB_NOTFOUND;
	if (!isnew && (rc = decode_value(&old, &prev, &old_dmin)))
		return rc;
	v.mv_size = encode_value(vb, e, dmin);
	if ((rc = mdb_put(t->txn, t->s->entries, &k, &v, 0)))
		return map_err(rc);
	if (!isnew && old_dmin != dmin &&
	    (rc = index_del(t, partition, c.cid, e->epoch, old_dmin, e->token)))
		return rc;
	if ((isnew || old_dmin != dmin) &&
	    (rc = index_add(t, partition, c.cid, e->epoch, dmin, e->token)))
		return rc;
	if (created)
		*created = isnew;
	if (!isnew && !poc)
		return DECONF_OK;
	if (!poc) { /* keep the stored one (a copy: case_put overwrites it) */
		poc = c.poc;
		poc_len = have_case ? c.poc_len : 0;
	}
	{
		void *copy = NULL;
		if (poc_len && poc == c.poc) {
			if (!(copy = malloc(poc_len)))
				return DECONF_E_NOMEM;
			memcpy(copy, poc, poc_len);
			poc = copy;
		}
		rc = case_put(t, partition, e, c.cid, c.count + (isnew ? 1 : 0), poc, poc_len);
		free(copy);
	}
	return rc;
}

int brk_store_entry_del(struct brk_store_txn *t, int partition, const struct brk_entry *e)
{
	uint8_t kb[ENTRY_KEY_LEN];
	MDB_val k = { sizeof(kb), kb };
	struct case_rec c;
	struct brk_entry cur = *e;
	uint32_t dmin;
	int rc;

	if ((rc = case_get(t, partition, e->agency, e->case_ref, e->case_len, &c)) ||
	    (rc = entry_read(t, partition, c.cid, &cur, &dmin)))
		return rc;
	entry_key(kb, partition, e->token, e->epoch, c.cid);
	if ((rc = mdb_del(t->txn, t->s->entries, &k, NULL)))
		return map_err(rc);
	if ((rc = index_del(t, partition, c.cid, e->epoch, dmin, e->token)))
		return rc;
	if (c.count <= 1)
		return case_forget(t, partition, e, c.cid);
	{
		/* the poc is borrowed from the record being rewritten: copy it */
		void *copy = c.poc_len ? malloc(c.poc_len) : NULL;
		if (c.poc_len && !copy)
			return DECONF_E_NOMEM;
		if (copy)
			memcpy(copy, c.poc, c.poc_len);
		rc = case_put(t, partition, e, c.cid, c.count - 1, copy, c.poc_len);
		free(copy);
	}
	return rc;
}

/* ----------------------------------------------------------------- walks */

int brk_store_entries_of(struct brk_store_txn *t, int partition, const uint8_t *token,
			 uint32_t epoch, brk_entry_fn *fn, void *opaque)
{
	uint8_t prefix[ENTRY_KEY_LEN];
	MDB_val k = { 2 + BRK_TOKEN_LEN + 4, prefix }, v;
	MDB_cursor *c;
	struct brk_entry e;
	uint32_t dmin;
	int rc;

	entry_key(prefix, partition, token, epoch, 0);
	if ((rc = mdb_cursor_open(t->txn, t->s->entries, &c)))
		return map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != ENTRY_KEY_LEN || memcmp(k.mv_data, prefix, 2 + BRK_TOKEN_LEN + 4))
			break;
		memset(&e, 0, sizeof(e));
		memcpy(e.token, token, BRK_TOKEN_LEN);
		e.epoch = epoch;
		if ((rc = case_name(t, partition, rd32((const uint8_t *)k.mv_data + 22), &e)) ||
		    (rc = decode_value(&v, &e, &dmin)) || (rc = fn(opaque, &e)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? DECONF_OK : IS_MDB(rc) ? map_err(rc) : rc;
}

/*
 * Walk case cid's entries whose bycase dup starts with the first plen
 * bytes of from (0: all of them), in dup order; *seen counts them. e holds
 * the case's agency and case ref on entry.
 */
static int walk_case(struct brk_store_txn *t, int partition, uint32_t cid, const uint8_t *from,
		     size_t plen, struct brk_entry *e, brk_entry_fn *fn, void *opaque, int *seen)
{
	uint8_t ck[6], start[BYCASE_DUP_LEN] = { 0 };
	MDB_val k = { sizeof(ck), ck }, v = { sizeof(start), start };
	MDB_cursor *c;
	int rc;

	if (seen)
		*seen = 0;
	cid_key(ck, partition, cid);
	if (plen)
		memcpy(start, from, plen);
	if ((rc = mdb_cursor_open(t->txn, t->s->bycase, &c)))
		return map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, plen ? MDB_GET_BOTH_RANGE : MDB_SET_KEY); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
		const uint8_t *d = v.mv_data;
		size_t n;

		if (v.mv_size != BYCASE_DUP_LEN) {
			rc = DECONF_E_IO;
			break;
		}
		if (plen && memcmp(d, start, plen))
			break;
		if ((rc = entries_at(t, partition, cid, rd32(d), d + 8, rd32(d + 4), NULL, e, fn,
				     opaque, &n)))
			break;
		if (seen)
			*seen += (int)n;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? DECONF_OK : IS_MDB(rc) ? map_err(rc) : rc;
}

int brk_store_case_entries(struct brk_store_txn *t, int partition, const char *agency,
			   const uint8_t *case_ref, size_t case_len, brk_entry_fn *fn,
			   void *opaque)
{
	struct case_rec c;
	struct brk_entry e;
	int rc = case_get(t, partition, agency, case_ref, case_len, &c);

	if (rc == DECONF_E_UNKNOWN)
		return DECONF_OK;
	if (rc)
		return rc;
	memset(&e, 0, sizeof(e));
	memcpy(e.agency, agency, strlen(agency) + 1);
	if (case_len)
		memcpy(e.case_ref, case_ref, case_len);
	e.case_len = case_len;
	return walk_case(t, partition, c.cid, NULL, 0, &e, fn, opaque, NULL);
}

struct stale {
	uint32_t epoch, dmin, cid;
};

/*
 * Walk the due index from (epoch, dmin) = from..: for each key of the
 * partition with epoch in [epoch_lo, epoch_hi] and dmin <= until_min, each
 * case it names, that case's entries of (epoch, dmin). Due records whose
 * case has no such entry any more are removed afterwards (at most
 * STALE_MAX per walk) when the transaction can write.
 */
static int walk_due(struct brk_store_txn *t, int partition, uint32_t epoch_lo, uint32_t epoch_hi,
		    uint32_t until_min, brk_entry_fn *fn, void *opaque)
{
	uint8_t dk[10];
	MDB_val k = { sizeof(dk), dk }, v;
	MDB_cursor *c;
	struct stale *stale = NULL;
	size_t n_stale = 0;
	int rc;

	if ((rc = mdb_cursor_open(t->txn, t->s->due, &c)))
		return map_err(rc);
	due_key(dk, partition, epoch_lo, 0);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (!rc) {
		const uint8_t *kp = k.mv_data;
		uint32_t epoch, dmin;

		if (k.mv_size != 10 || kp[0] != dk[0] || kp[1] != dk[1])
			break; /* past the partition */
		epoch = rd32(kp + 2);
		dmin = rd32(kp + 6);
		if (epoch > epoch_hi)
			break;
		if (dmin > until_min) {
			/* nothing more due in this epoch: on to the next one */
			if (epoch == UINT32_MAX || epoch == epoch_hi)
				break;
			due_key(dk, partition, epoch + 1, 0);
			k.mv_data = dk;
			k.mv_size = sizeof(dk);
			rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
			continue;
		}
		for (; !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
			struct brk_entry e;
			uint8_t from[8];
			uint32_t cid;
			int seen;

			if (v.mv_size != 4) {
				rc = DECONF_E_IO;
				break;
			}
			cid = rd32(v.mv_data);
			memset(&e, 0, sizeof(e));
			if ((rc = case_name(t, partition, cid, &e))) {
				if (rc != DECONF_E_IO)
					break;
				seen = 0; /* the case is gone: the record is stale */
				rc = DECONF_OK;
			} else {
				be32(from, epoch);
				be32(from + 4, dmin);
				if ((rc = walk_case(t, partition, cid, from, 8, &e, fn, opaque, &seen)))
					break;
			}
			if (!seen && !t->rdonly && n_stale < STALE_MAX) {
				if (!stale && !(stale = malloc(STALE_MAX * sizeof(*stale)))) {
					rc = DECONF_E_NOMEM;
					break;
				}
				stale[n_stale++] = (struct stale){ epoch, dmin, cid };
			}
		}
		if (rc != MDB_NOTFOUND)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = DECONF_OK;
	else if (IS_MDB(rc))
		rc = map_err(rc);
	for (size_t i = 0; i < n_stale && !rc; i++)
		rc = due_del(t, partition, stale[i].epoch, stale[i].dmin, stale[i].cid);
	free(stale);
	return rc;
}

int brk_store_due(struct brk_store_txn *t, int partition, int64_t until, brk_entry_fn *fn,
		  void *opaque)
{
	int64_t m = until < 0 ? -1 : until / 60000;

	if (m < 0)
		return DECONF_OK;
	return walk_due(t, partition, 0, UINT32_MAX, m >= NEVER_MIN ? NEVER_MIN - 1 : (uint32_t)m,
			fn, opaque);
}

int brk_store_epoch_entries(struct brk_store_txn *t, int partition, uint32_t epoch,
			    brk_entry_fn *fn, void *opaque)
{
	return walk_due(t, partition, epoch, epoch, NEVER_MIN, fn, opaque);
}

int brk_store_epochs(struct brk_store_txn *t, int partition, uint32_t *out, size_t max,
		     size_t *n)
{
	uint8_t dk[10];
	MDB_val k = { sizeof(dk), dk }, v;
	MDB_cursor *c;
	uint32_t from = 0;
	int rc;

	*n = 0;
	if ((rc = mdb_cursor_open(t->txn, t->s->due, &c)))
		return map_err(rc);
	for (;;) {
		const uint8_t *kp;
		uint32_t epoch;

		due_key(dk, partition, from, 0);
		k.mv_data = dk;
		k.mv_size = sizeof(dk);
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)))
			break;
		kp = k.mv_data;
		if (k.mv_size != 10 || kp[0] != dk[0] || kp[1] != dk[1])
			break;
		epoch = rd32(kp + 2);
		if (*n < max)
			out[*n] = epoch;
		(*n)++;
		if (epoch == UINT32_MAX)
			break;
		from = epoch + 1;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || !rc ? DECONF_OK : map_err(rc);
}

int brk_store_entries_all(struct brk_store_txn *t, int partition, brk_entry_fn *fn,
			  void *opaque)
{
	uint8_t prefix[2];
	MDB_val k = { 2, prefix }, v;
	MDB_cursor *c;
	struct brk_entry e;
	uint32_t dmin;
	int rc;

	be16(prefix, (unsigned)partition);
	if ((rc = mdb_cursor_open(t->txn, t->s->entries, &c)))
		return map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *kp = k.mv_data;

		if (k.mv_size != ENTRY_KEY_LEN || memcmp(kp, prefix, 2))
			break;
		memset(&e, 0, sizeof(e));
		memcpy(e.token, kp + 2, BRK_TOKEN_LEN);
		e.epoch = rd32(kp + 18);
		if ((rc = case_name(t, partition, rd32(kp + 22), &e)) ||
		    (rc = decode_value(&v, &e, &dmin)) || (rc = fn(opaque, &e)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? DECONF_OK : IS_MDB(rc) ? map_err(rc) : rc;
}

int brk_store_case_poc(struct brk_store_txn *t, int partition, const char *agency,
		       const uint8_t *case_ref, size_t case_len, const void **poc,
		       size_t *poc_len)
{
	struct case_rec c;
	int rc = case_get(t, partition, agency, case_ref, case_len, &c);

	if (rc)
		return rc;
	*poc = c.poc;
	*poc_len = c.poc_len;
	return DECONF_OK;
}

/* ------------------------------------------------------ pairs, hot, meta */

static int small_has(struct brk_store_txn *t, MDB_dbi dbi, const uint8_t *k, size_t kl)
{
	MDB_val key = { kl, (void *)k }, v;

	return mdb_get(t->txn, dbi, &key, &v) == 0;
}

static int small_put(struct brk_store_txn *t, MDB_dbi dbi, const uint8_t *k, size_t kl,
		     const void *val, size_t vl)
{
	MDB_val key = { kl, (void *)k }, v = { vl, (void *)val };

	return map_err(mdb_put(t->txn, dbi, &key, &v, 0));
}

static int small_del(struct brk_store_txn *t, MDB_dbi dbi, const uint8_t *k, size_t kl)
{
	MDB_val key = { kl, (void *)k };
	int rc = mdb_del(t->txn, dbi, &key, NULL);

	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

int brk_store_pair_has(struct brk_store_txn *t, int partition, const uint8_t id[16])
{
	uint8_t k[18];

	be16(k, (unsigned)partition);
	memcpy(k + 2, id, 16);
	return small_has(t, t->s->pairs, k, sizeof(k));
}

int brk_store_pair_put(struct brk_store_txn *t, int partition, const uint8_t id[16],
		       int64_t at)
{
	uint8_t k[18], v[8];

	be16(k, (unsigned)partition);
	memcpy(k + 2, id, 16);
	be64(v, at);
	return small_put(t, t->s->pairs, k, sizeof(k), v, sizeof(v));
}

int brk_store_pair_del(struct brk_store_txn *t, int partition, const uint8_t id[16])
{
	uint8_t k[18];

	be16(k, (unsigned)partition);
	memcpy(k + 2, id, 16);
	return small_del(t, t->s->pairs, k, sizeof(k));
}

static void hot_key(uint8_t *k, int partition, const uint8_t *token, uint32_t epoch)
{
	be16(k, (unsigned)partition);
	memcpy(k + 2, token, BRK_TOKEN_LEN);
	be32(k + 2 + BRK_TOKEN_LEN, epoch);
}

int brk_store_hot_has(struct brk_store_txn *t, int partition, const uint8_t *token,
		      uint32_t epoch)
{
	uint8_t k[2 + BRK_TOKEN_LEN + 4];

	hot_key(k, partition, token, epoch);
	return small_has(t, t->s->hot, k, sizeof(k));
}

int brk_store_hot_set(struct brk_store_txn *t, int partition, const uint8_t *token,
		      uint32_t epoch, int hot)
{
	uint8_t k[2 + BRK_TOKEN_LEN + 4];

	hot_key(k, partition, token, epoch);
	return hot ? small_put(t, t->s->hot, k, sizeof(k), "", 0)
		   : small_del(t, t->s->hot, k, sizeof(k));
}

/* ------------------------------------------------------------ lifecycle */

static void life_key(uint8_t *k, int partition, const uint8_t id[16])
{
	be16(k, (unsigned)partition);
	memcpy(k + 2, id, 16);
}

int brk_store_life_get(struct brk_store_txn *t, int partition, const uint8_t id[16],
		       const void **val, size_t *len)
{
	uint8_t kb[18];
	MDB_val k = { sizeof(kb), kb }, v;
	int rc;

	life_key(kb, partition, id);
	if ((rc = mdb_get(t->txn, t->s->life, &k, &v)))
		return map_err(rc);
	*val = v.mv_data;
	*len = v.mv_size;
	return DECONF_OK;
}

int brk_store_life_put(struct brk_store_txn *t, int partition, const uint8_t id[16],
		       const void *val, size_t len)
{
	uint8_t kb[18];

	life_key(kb, partition, id);
	return small_put(t, t->s->life, kb, sizeof(kb), val, len);
}

int brk_store_life_del(struct brk_store_txn *t, int partition, const uint8_t id[16])
{
	uint8_t kb[18];

	life_key(kb, partition, id);
	return small_del(t, t->s->life, kb, sizeof(kb));
}

/* esc keys: p 'D' at(i64be) id (due), p 'O' at(i64be) id (open, by the time
 * it escalated): each kind in time order */
int brk_store_esc_due_set(struct brk_store_txn *t, int partition, const uint8_t id[16],
			  int64_t at, int on)
{
	uint8_t kb[2 + 1 + 8 + 16];

	be16(kb, (unsigned)partition);
	kb[2] = 'D';
	be64(kb + 3, at);
	memcpy(kb + 11, id, 16);
	return on ? small_put(t, t->s->esc, kb, sizeof(kb), "", 0)
		  : small_del(t, t->s->esc, kb, sizeof(kb));
}

int brk_store_esc_open_set(struct brk_store_txn *t, int partition, const uint8_t id[16],
			   int64_t at, int on)
{
	uint8_t kb[2 + 1 + 8 + 16];

	be16(kb, (unsigned)partition);
	kb[2] = 'O';
	be64(kb + 3, at);
	memcpy(kb + 11, id, 16);
	return on ? small_put(t, t->s->esc, kb, sizeof(kb), "", 0)
		  : small_del(t, t->s->esc, kb, sizeof(kb));
}

/* Walk the esc keys of one kind ('D', 'O') of the partition in time order:
 * fn(opaque, at, id) until it returns non-zero (1: stop, else an error). */
static int esc_walk(struct brk_store_txn *t, int partition, char kind,
		    int (*fn)(void *opaque, int64_t at, const uint8_t *id), void *opaque)
{
	uint8_t prefix[3];
	MDB_cursor *c;
	MDB_val k, v;
	int rc, stop = 0;

	be16(prefix, (unsigned)partition);
	prefix[2] = (uint8_t)kind;
	if ((rc = mdb_cursor_open(t->txn, t->s->esc, &c)))
		return map_err(rc);
	k.mv_data = prefix;
	k.mv_size = sizeof(prefix);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc && !stop;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *p = k.mv_data;

		if (k.mv_size < 3 || memcmp(p, prefix, 3))
			break;
		if (k.mv_size == 27) /* anything else is no key of ours: skipped */
			stop = fn(opaque, rd64(p + 3), p + 11);
	}
	mdb_cursor_close(c);
	if (stop)
		return stop == 1 ? DECONF_OK : stop;
	return rc == MDB_NOTFOUND || !rc ? DECONF_OK : map_err(rc);
}

struct esc_list {
	int64_t until;
	size_t max, *n;
	uint8_t (*ids)[16];
	int64_t *ats, *next;
	uint64_t count;
};

static int esc_take(void *opaque, int64_t at, const uint8_t *id)
{
	struct esc_list *l = opaque;

	if (at > l->until || *l->n >= l->max) {
		if (l->next)
			*l->next = at;
		return 1;
	}
	l->ats[*l->n] = at;
	memcpy(l->ids[(*l->n)++], id, 16);
	return 0;
}

int brk_store_esc_due(struct brk_store_txn *t, int partition, int64_t until, size_t max,
		      uint8_t (*ids)[16], int64_t *ats, size_t *n, int64_t *next)
{
	struct esc_list l = { .until = until, .max = max, .n = n, .ids = ids, .ats = ats,
			      .next = next };

	*n = 0;
	*next = 0;
	return esc_walk(t, partition, 'D', esc_take, &l);
}

int brk_store_esc_open(struct brk_store_txn *t, int partition, size_t max, uint8_t (*ids)[16],
		       int64_t *ats, size_t *n)
{
	struct esc_list l = { .until = INT64_MAX, .max = max, .n = n, .ids = ids, .ats = ats };

	*n = 0;
	return esc_walk(t, partition, 'O', esc_take, &l);
}

static int esc_count(void *opaque, int64_t at, const uint8_t *id)
{
	(void)at;
	(void)id;
	(*(uint64_t *)opaque)++;
	return 0;
}

int brk_store_esc_open_count(struct brk_store_txn *t, int partition, uint64_t *n)
{
	*n = 0;
	return esc_walk(t, partition, 'O', esc_count, n);
}

static void meta_key(uint8_t *k, const char *what, int partition)
{
	memcpy(k, what, 4);
	be16(k + 4, (unsigned)partition);
}

int brk_store_ckpt_get(struct brk_store_txn *t, int partition, struct brk_ckpt *c)
{
	uint8_t kb[6];
	MDB_val k = { sizeof(kb), kb }, v;
	const uint8_t *p;
	int rc;

	meta_key(kb, "ckpt", partition);
	if ((rc = mdb_get(t->txn, t->s->meta, &k, &v)))
		return map_err(rc);
	if (v.mv_size != CKPT_LEN)
		return DECONF_E_IO;
	p = v.mv_data;
	c->changelog_next = rd64(p);
	c->audit_seq = (uint64_t)rd64(p + 8);
	memcpy(c->audit_hash, p + 16, 32);
	c->saved_at = rd64(p + 48);
	return DECONF_OK;
}

int brk_store_ckpt_put(struct brk_store_txn *t, int partition, const struct brk_ckpt *c)
{
	uint8_t kb[6], v[CKPT_LEN];

	meta_key(kb, "ckpt", partition);
	be64(v, c->changelog_next);
	be64(v + 8, (int64_t)c->audit_seq);
	memcpy(v + 16, c->audit_hash, 32);
	be64(v + 48, c->saved_at);
	return small_put(t, t->s->meta, kb, sizeof(kb), v, sizeof(v));
}

static int wipe_range(struct brk_store_txn *t, MDB_dbi dbi, int partition, int dupsort)
{
	MDB_cursor *c;
	uint8_t prefix[2];
	MDB_val k, v;
	int rc;

	be16(prefix, (unsigned)partition);
	if ((rc = mdb_cursor_open(t->txn, dbi, &c)))
		return map_err(rc);
	for (;;) {
		k.mv_data = prefix;
		k.mv_size = sizeof(prefix);
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)))
			break;
		if (k.mv_size < 2 || memcmp(k.mv_data, prefix, 2))
			break;
		/* every dup of the key at once in the DUPSORT databases */
		if ((rc = mdb_cursor_del(c, dupsort ? MDB_NODUPDATA : 0)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

int brk_store_wipe(struct brk_store_txn *t, int partition)
{
	static const char *const metas[] = { "ckpt", "cidn", "epch" /* obsolete epoch mark */ };
	MDB_dbi dbis[] = { t->s->entries, t->s->cases, t->s->cids, t->s->pairs, t->s->hot,
			   t->s->life, t->s->esc };
	uint8_t kb[6];
	int rc;

	for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++)
		if ((rc = wipe_range(t, dbis[i], partition, 0)))
			return rc;
	if ((rc = wipe_range(t, t->s->bycase, partition, 1)) ||
	    (rc = wipe_range(t, t->s->due, partition, 1)))
		return rc;
	for (size_t i = 0; i < sizeof(metas) / sizeof(metas[0]); i++) {
		meta_key(kb, metas[i], partition);
		if ((rc = small_del(t, t->s->meta, kb, sizeof(kb))))
			return rc;
	}
	return DECONF_OK;
}

int brk_store_probe(struct brk_store *s, size_t bytes)
{
	static const uint8_t key[] = "probe";
	MDB_val k = { sizeof(key), (void *)key }, v = { bytes, NULL };
	MDB_txn *txn;
	int rc;

	/* MDB_RESERVE: room for the value, written below */
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
		return map_err(rc);
	if ((rc = mdb_put(txn, s->meta, &k, &v, MDB_RESERVE))) {
		mdb_txn_abort(txn);
		return map_err(rc);
	}
	memset(v.mv_data, 0, bytes);
	if ((rc = mdb_txn_commit(txn)))
		return map_err(rc);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
		return map_err(rc);
	if ((rc = mdb_del(txn, s->meta, &k, NULL))) {
		mdb_txn_abort(txn);
		return map_err(rc);
	}
	return map_err(mdb_txn_commit(txn));
}

int brk_store_stats(struct brk_store *s, uint64_t *entries, uint64_t *bytes)
{
	MDB_envinfo info;
	MDB_stat st;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t free_pages = 0;
	int rc;

	*entries = *bytes = 0;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
		return map_err(rc);
	if ((rc = mdb_stat(txn, s->entries, &st)) || (rc = mdb_env_info(s->env, &info)))
		goto out;
	*entries = st.ms_entries;
	/* LMDB's free list (database 0): each record is a page number array
	 * whose first element is its count */
	if ((rc = mdb_cursor_open(txn, 0, &c)))
		goto out;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (v.mv_size >= sizeof(size_t)) {
			size_t n;
			memcpy(&n, v.mv_data, sizeof(n));
			free_pages += n;
		}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	{
		MDB_stat es;
		if (!rc && !(rc = mdb_env_stat(s->env, &es))) {
			uint64_t used = (uint64_t)info.me_last_pgno + 1;
			*bytes = (used > free_pages ? used - free_pages : 0) * es.ms_psize;
		}
	}
out:
	mdb_txn_abort(txn);
	return map_err(rc);
}
