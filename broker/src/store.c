/* store.c — the matcher's LMDB state (see store.h). */
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deconf/err.h"
#include "store.h"

#define VALUE_MAX 48 /* 2 bytes, then 5 varints of at most 10 bytes... in practice ~16 */
#define KEY_MAX (2 + BRK_TOKEN_LEN + 4 + 64 + 1 + BRK_CASE_MAX)
#define CKPT_LEN (8 + 8 + 32 + 8)

struct brk_store {
	MDB_env *env;
	MDB_dbi entries, cases, pairs, hot, meta;
};

struct brk_store_txn {
	struct brk_store *s;
	MDB_txn *txn;
};

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
	if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 8)) ||
	    (rc = mdb_env_set_mapsize(s->env, map_size)) ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) ||
	    (rc = mdb_txn_begin(s->env, NULL, 0, &txn)) ||
	    (rc = mdb_dbi_open(txn, "entries", MDB_CREATE, &s->entries)) ||
	    (rc = mdb_dbi_open(txn, "cases", MDB_CREATE, &s->cases)) ||
	    (rc = mdb_dbi_open(txn, "pairs", MDB_CREATE, &s->pairs)) ||
	    (rc = mdb_dbi_open(txn, "hot", MDB_CREATE, &s->hot)) ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) || (rc = mdb_txn_commit(txn))) {
		txn = NULL;
		deconf_err_set(errstr, errstr_size, map_err(rc), "state store %s: %s", dir,
			       mdb_strerror(rc));
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

static size_t entry_key(uint8_t *k, int partition, const struct brk_entry *e)
{
	size_t al = strlen(e->agency), n = 0;

	be16(k, (unsigned)partition);
	memcpy(k + 2, e->token, BRK_TOKEN_LEN);
	be32(k + 2 + BRK_TOKEN_LEN, e->epoch);
	n = 2 + BRK_TOKEN_LEN + 4;
	memcpy(k + n, e->agency, al);
	n += al;
	k[n++] = 0;
	memcpy(k + n, e->case_ref, e->case_len);
	return n + e->case_len;
}

static size_t case_key(uint8_t *k, int partition, const char *agency, const uint8_t *case_ref,
		       size_t case_len)
{
	size_t al = strlen(agency);

	be16(k, (unsigned)partition);
	memcpy(k + 2, agency, al);
	k[2 + al] = 0;
	memcpy(k + 3 + al, case_ref, case_len);
	return 3 + al + case_len;
}

static int decode_value(const MDB_val *v, struct brk_entry *e);

static int decode_entry(const MDB_val *k, const MDB_val *v, struct brk_entry *e)
{
	const uint8_t *p = k->mv_data, *nul;
	size_t rest;

	if (k->mv_size < 2 + BRK_TOKEN_LEN + 4 + 2)
		return DECONF_E_IO;
	memcpy(e->token, p + 2, BRK_TOKEN_LEN);
	e->epoch = rd32(p + 2 + BRK_TOKEN_LEN);
	p += 2 + BRK_TOKEN_LEN + 4;
	rest = k->mv_size - (2 + BRK_TOKEN_LEN + 4);
	if (!(nul = memchr(p, 0, rest)) || (size_t)(nul - p) >= sizeof(e->agency) ||
	    rest - (size_t)(nul - p) - 1 > BRK_CASE_MAX)
		return DECONF_E_IO;
	memcpy(e->agency, p, (size_t)(nul - p));
	e->agency[nul - p] = '\0';
	e->case_len = rest - (size_t)(nul - p) - 1;
	memcpy(e->case_ref, nul + 1, e->case_len);
	return decode_value(v, e);
	return DECONF_OK;
}

/* The value, compact (an entry's bytes are the store's size): a byte of
 * visibility and warned bits, the type, then zigzag varints of the flags,
 * added_at, expires_at - added_at, valid_from and valid_to. */
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

static size_t encode_value(uint8_t *q0, const struct brk_entry *e)
{
	uint8_t *q = q0;

	*q++ = (uint8_t)((e->visibility & 3) | (e->warned ? 4 : 0));
	*q++ = (uint8_t)e->type;
	q = put_varint(q, e->flags);
	q = put_varint(q, e->added_at);
	q = put_varint(q, e->expires_at ? e->expires_at - e->added_at : INT64_MIN / 4);
	q = put_varint(q, e->valid_from);
	q = put_varint(q, e->valid_to);
	return (size_t)(q - q0);
}

static int decode_value(const MDB_val *v, struct brk_entry *e)
{
	const uint8_t *q = v->mv_data, *end = q + v->mv_size;
	int64_t flags, exp;

	if (v->mv_size < 7)
		return DECONF_E_IO;
	e->visibility = q[0] & 3;
	e->warned = (q[0] & 4) != 0;
	e->type = q[1];
	q += 2;
	if (!(q = get_varint(q, end, &flags)) || !(q = get_varint(q, end, &e->added_at)) ||
	    !(q = get_varint(q, end, &exp)) || !(q = get_varint(q, end, &e->valid_from)) ||
	    !(q = get_varint(q, end, &e->valid_to)))
		return DECONF_E_IO;
	e->flags = (uint32_t)flags;
	e->expires_at = exp == INT64_MIN / 4 ? 0 : e->added_at + exp;
	return DECONF_OK;
}

/* -------------------------------------------------------------- entries */

int brk_store_entry_get(struct brk_store_txn *t, int partition, struct brk_entry *e)
{
	uint8_t kb[KEY_MAX];
	MDB_val k = { entry_key(kb, partition, e), kb }, v;
	int rc = mdb_get(t->txn, t->s->entries, &k, &v);

	return rc ? map_err(rc) : decode_entry(&k, &v, e);
}

/* The case's count goes up or down by delta; at 0 the case is forgotten. */
static int case_adjust(struct brk_store_txn *t, int partition, const struct brk_entry *e,
		       int delta, const void *poc, size_t poc_len)
{
	uint8_t kb[KEY_MAX], *buf;
	MDB_val k = { case_key(kb, partition, e->agency, e->case_ref, e->case_len), kb }, v;
	uint32_t count = 0;
	int rc = mdb_get(t->txn, t->s->cases, &k, &v);

	if (rc && rc != MDB_NOTFOUND)
		return map_err(rc);
	if (!rc && v.mv_size >= 4) {
		count = rd32(v.mv_data);
		if (!poc) { /* keep the stored one */
			poc = (const uint8_t *)v.mv_data + 4;
			poc_len = v.mv_size - 4;
		}
	}
	if (delta < 0 && count <= 1) {
		rc = mdb_del(t->txn, t->s->cases, &k, NULL);
		return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
	}
	if (!(buf = malloc(4 + poc_len)))
		return DECONF_E_NOMEM;
	be32(buf, count + (uint32_t)delta);
	if (poc_len)
		memcpy(buf + 4, poc, poc_len);
	v.mv_data = buf;
	v.mv_size = 4 + poc_len;
	rc = mdb_put(t->txn, t->s->cases, &k, &v, 0);
	free(buf);
	return map_err(rc);
}

int brk_store_entry_put(struct brk_store_txn *t, int partition, const struct brk_entry *e,
			const void *poc, size_t poc_len, int *created)
{
	uint8_t kb[KEY_MAX], vb[VALUE_MAX];
	MDB_val k = { entry_key(kb, partition, e), kb }, v = { 0, vb }, old;
	int rc, isnew;

	if (strlen(e->agency) >= sizeof(e->agency) || e->case_len > BRK_CASE_MAX)
		return DECONF_E_INVAL;
	rc = mdb_get(t->txn, t->s->entries, &k, &old);
	if (rc && rc != MDB_NOTFOUND)
		return map_err(rc);
	isnew = rc == MDB_NOTFOUND;
	v.mv_size = encode_value(vb, e);
	if ((rc = mdb_put(t->txn, t->s->entries, &k, &v, 0)))
		return map_err(rc);
	if (created)
		*created = isnew;
	if (!isnew && !poc)
		return DECONF_OK;
	return case_adjust(t, partition, e, isnew ? 1 : 0, poc, poc_len);
}

int brk_store_entry_del(struct brk_store_txn *t, int partition, const struct brk_entry *e)
{
	uint8_t kb[KEY_MAX];
	MDB_val k = { entry_key(kb, partition, e), kb };
	int rc = mdb_del(t->txn, t->s->entries, &k, NULL);

	if (rc)
		return map_err(rc);
	return case_adjust(t, partition, e, -1, NULL, 0);
}

static int walk(struct brk_store_txn *t, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
		brk_entry_fn *fn, void *opaque)
{
	MDB_cursor *c;
	MDB_val k = { plen, (void *)prefix }, v;
	struct brk_entry e;
	int rc = mdb_cursor_open(t->txn, dbi, &c);

	if (rc)
		return map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen))
			break;
		if ((rc = decode_entry(&k, &v, &e)) || (rc = fn(opaque, &e)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? DECONF_OK : rc;
}

int brk_store_entries_of(struct brk_store_txn *t, int partition, const uint8_t *token,
			 uint32_t epoch, brk_entry_fn *fn, void *opaque)
{
	uint8_t prefix[2 + BRK_TOKEN_LEN + 4];

	be16(prefix, (unsigned)partition);
	memcpy(prefix + 2, token, BRK_TOKEN_LEN);
	be32(prefix + 2 + BRK_TOKEN_LEN, epoch);
	return walk(t, t->s->entries, prefix, sizeof(prefix), fn, opaque);
}

int brk_store_entries_all(struct brk_store_txn *t, int partition, brk_entry_fn *fn,
			  void *opaque)
{
	uint8_t prefix[2];

	be16(prefix, (unsigned)partition);
	return walk(t, t->s->entries, prefix, sizeof(prefix), fn, opaque);
}

int brk_store_case_poc(struct brk_store_txn *t, int partition, const char *agency,
		       const uint8_t *case_ref, size_t case_len, const void **poc,
		       size_t *poc_len)
{
	uint8_t kb[KEY_MAX];
	MDB_val k = { case_key(kb, partition, agency, case_ref, case_len), kb }, v;
	int rc = mdb_get(t->txn, t->s->cases, &k, &v);

	if (rc)
		return map_err(rc);
	if (v.mv_size < 4)
		return DECONF_E_IO;
	*poc = (const uint8_t *)v.mv_data + 4;
	*poc_len = v.mv_size - 4;
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

static void ckpt_key(uint8_t *k, int partition)
{
	memcpy(k, "ckpt", 4);
	be16(k + 4, (unsigned)partition);
}

int brk_store_ckpt_get(struct brk_store_txn *t, int partition, struct brk_ckpt *c)
{
	uint8_t kb[6];
	MDB_val k = { sizeof(kb), kb }, v;
	const uint8_t *p;
	int rc;

	ckpt_key(kb, partition);
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

	ckpt_key(kb, partition);
	be64(v, c->changelog_next);
	be64(v + 8, (int64_t)c->audit_seq);
	memcpy(v + 16, c->audit_hash, 32);
	be64(v + 48, c->saved_at);
	return small_put(t, t->s->meta, kb, sizeof(kb), v, sizeof(v));
}

static void epoch_key(uint8_t *k, int partition)
{
	memcpy(k, "epch", 4);
	be16(k + 4, (unsigned)partition);
}

int brk_store_epoch_get(struct brk_store_txn *t, int partition, uint32_t *epoch,
			int64_t *seen_at)
{
	uint8_t kb[6];
	MDB_val k = { sizeof(kb), kb }, v;
	int rc;

	epoch_key(kb, partition);
	if ((rc = mdb_get(t->txn, t->s->meta, &k, &v)))
		return map_err(rc);
	if (v.mv_size != 12)
		return DECONF_E_IO;
	*epoch = rd32(v.mv_data);
	*seen_at = rd64((const uint8_t *)v.mv_data + 4);
	return DECONF_OK;
}

int brk_store_epoch_put(struct brk_store_txn *t, int partition, uint32_t epoch, int64_t seen_at)
{
	uint8_t kb[6], v[12];

	epoch_key(kb, partition);
	be32(v, epoch);
	be64(v + 4, seen_at);
	return small_put(t, t->s->meta, kb, sizeof(kb), v, sizeof(v));
}

static int wipe_range(struct brk_store_txn *t, MDB_dbi dbi, int partition)
{
	MDB_cursor *c;
	uint8_t prefix[2];
	MDB_val k = { 2, prefix }, v;
	int rc;

	be16(prefix, (unsigned)partition);
	if ((rc = mdb_cursor_open(t->txn, dbi, &c)))
		return map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 2 || memcmp(k.mv_data, prefix, 2))
			break;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

int brk_store_wipe(struct brk_store_txn *t, int partition)
{
	uint8_t kb[6];
	int rc;

	epoch_key(kb, partition);
	if ((rc = small_del(t, t->s->meta, kb, sizeof(kb))))
		return rc;
	ckpt_key(kb, partition);
	if ((rc = wipe_range(t, t->s->entries, partition)) ||
	    (rc = wipe_range(t, t->s->cases, partition)) ||
	    (rc = wipe_range(t, t->s->pairs, partition)) ||
	    (rc = wipe_range(t, t->s->hot, partition)))
		return rc;
	return small_del(t, t->s->meta, kb, sizeof(kb));
}

int brk_store_stats(struct brk_store *s, uint64_t *entries, uint64_t *bytes)
{
	MDB_dbi dbis[5] = { s->entries, s->cases, s->pairs, s->hot, s->meta };
	MDB_txn *txn;
	MDB_stat st;
	int rc = 0;

	/* bytes: the pages of every database (free pages, which LMDB reuses,
	 * are not stored data) */
	*bytes = 0;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
		return map_err(rc);
	for (int i = 0; i < 5 && !rc; i++) {
		if ((rc = mdb_stat(txn, dbis[i], &st)))
			break;
		if (i == 0)
			*entries = st.ms_entries;
		*bytes += (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
			  st.ms_psize;
	}
	mdb_txn_abort(txn);
	return map_err(rc);
}
