/* ledger.c — the agency's local LMDB ledger. */
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deconf/err.h"
#include "ledger.h"

#define ENTRY_KEY_MAX (1 + ADP_LEDGER_CASE_MAX + DECONF_TOKEN_LEN + 4)
/* value: version u8, type u8, state u8, qualifier len u8, epoch u32,
 * valid_from i64, valid_to i64, published_at i64, submission id[16],
 * value len u32, case digest[8], then (version 3) reason u8 and
 * decided_at i64; qualifier bytes + NUL (when set), value bytes.
 * Version 2 (before receipts) is read as version 3 with reason and
 * decided_at 0; every write is version 3. */
#define ENTRY_FIXED_V2 (4 + 4 + 8 + 8 + 8 + ADP_SUBMISSION_ID_LEN + 4 + 8)
#define ENTRY_FIXED (ENTRY_FIXED_V2 + 1 + 8)
#define ENTRY_VERSION 3

struct adp_ledger {
	MDB_env *env;
	MDB_dbi entries, cases, caseinfo, outbox, subs, notices, webhook, meta, acks;
};

struct adp_ledger_txn {
	struct adp_ledger *l;
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
	default: return rc > 0 ? rc : DECONF_E_IO; /* MDB_CORRUPTED, MDB_BAD_TXN... */
	}
}

int adp_ledger_open(struct adp_ledger **out, const char *dir, size_t map_size,
		    char *errstr, size_t errstr_size)
{
	struct adp_ledger *l;
	MDB_txn *txn = NULL;
	int rc;

	*out = NULL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return deconf_err_set(errstr, errstr_size, errno, "%s: %s", dir,
				      strerror(errno));
	if (!(l = calloc(1, sizeof(*l))))
		return DECONF_E_NOMEM;
	if ((rc = mdb_env_create(&l->env)) || (rc = mdb_env_set_maxdbs(l->env, 16)) ||
	    (rc = mdb_env_set_mapsize(l->env, map_size)) ||
	    (rc = mdb_env_open(l->env, dir, MDB_NOTLS, 0600))) {
		deconf_err_set(errstr, errstr_size, map_err(rc), "ledger %s: %s", dir,
			       mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn))) {
		txn = NULL;
		goto fail_lmdb;
	}
	if ((rc = mdb_dbi_open(txn, "entries", MDB_CREATE, &l->entries)) ||
	    (rc = mdb_dbi_open(txn, "cases", MDB_CREATE, &l->cases)) ||
	    (rc = mdb_dbi_open(txn, "caseinfo", MDB_CREATE, &l->caseinfo)) ||
	    (rc = mdb_dbi_open(txn, "outbox", MDB_CREATE, &l->outbox)) ||
	    (rc = mdb_dbi_open(txn, "submissions", MDB_CREATE, &l->subs)) ||
	    (rc = mdb_dbi_open(txn, "notices", MDB_CREATE, &l->notices)) ||
	    (rc = mdb_dbi_open(txn, "webhook", MDB_CREATE, &l->webhook)) ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &l->meta)) ||
	    (rc = mdb_dbi_open(txn, "acks", MDB_CREATE, &l->acks)))
		goto fail_lmdb;
	rc = mdb_txn_commit(txn); /* frees txn, whatever the outcome */
	txn = NULL;
	if (rc)
		goto fail_lmdb;
	*out = l;
	return DECONF_OK;
fail_lmdb:
	deconf_err_set(errstr, errstr_size, map_err(rc), "ledger %s: %s", dir,
		       mdb_strerror(rc));
fail:
	if (txn)
		mdb_txn_abort(txn);
	adp_ledger_close(l);
	return map_err(rc);
}

void adp_ledger_close(struct adp_ledger *l)
{
	if (!l)
		return;
	if (l->env)
		mdb_env_close(l->env);
	free(l);
}

int adp_ledger_begin(struct adp_ledger *l, int rdonly, struct adp_ledger_txn **out)
{
	struct adp_ledger_txn *t;
	int rc;

	*out = NULL;
	if (!(t = calloc(1, sizeof(*t))))
		return DECONF_E_NOMEM;
	t->l = l;
	if ((rc = mdb_txn_begin(l->env, NULL, rdonly ? MDB_RDONLY : 0, &t->txn))) {
		free(t);
		return map_err(rc);
	}
	*out = t;
	return DECONF_OK;
}

int adp_ledger_commit(struct adp_ledger_txn *t)
{
	int rc = mdb_txn_commit(t->txn);

	free(t);
	return map_err(rc);
}

void adp_ledger_abort(struct adp_ledger_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

/* ---------------------------------------------------------------- entries */

/* Case refs are 1..ADP_LEDGER_CASE_MAX bytes: never cut (two long refs
 * sharing a prefix must not share entries). */
static int case_ok(const char *case_ref, size_t *n)
{
	*n = strlen(case_ref);
	return *n >= 1 && *n <= ADP_LEDGER_CASE_MAX ? DECONF_OK : DECONF_E_INVAL;
}

static int entry_key(uint8_t *k, const char *case_ref, const uint8_t token[DECONF_TOKEN_LEN],
		     uint32_t epoch, size_t *len)
{
	size_t n;

	if (case_ok(case_ref, &n))
		return DECONF_E_INVAL;
	k[0] = (uint8_t)n;
	memcpy(k + 1, case_ref, n);
	memcpy(k + 1 + n, token, DECONF_TOKEN_LEN);
	k[1 + n + 16] = (uint8_t)(epoch >> 24);
	k[1 + n + 17] = (uint8_t)(epoch >> 16);
	k[1 + n + 18] = (uint8_t)(epoch >> 8);
	k[1 + n + 19] = (uint8_t)epoch;
	*len = 1 + n + DECONF_TOKEN_LEN + 4;
	return DECONF_OK;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_i64(uint8_t *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(u >> (56 - 8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t get_i64(const uint8_t *p)
{
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u = u << 8 | p[i];
	return (int64_t)u;
}

/* Decode an entries key+value into e (strings borrowed from LMDB). */
static int decode_entry(const MDB_val *k, const MDB_val *v, struct adp_entry *e,
			char case_ref[ADP_LEDGER_CASE_MAX + 1])
{
	const uint8_t *kp = k->mv_data, *p = v->mv_data;
	size_t n, qlen, vlen, fixed;

	if (k->mv_size < 1 + DECONF_TOKEN_LEN + 4 || (n = kp[0]) > ADP_LEDGER_CASE_MAX ||
	    n + 1 + DECONF_TOKEN_LEN + 4 != k->mv_size || v->mv_size < 1)
		return DECONF_E_MALFORMED;
	switch (p[0]) {
	case 2: fixed = ENTRY_FIXED_V2; break;
	case ENTRY_VERSION: fixed = ENTRY_FIXED; break;
	default: return DECONF_E_MALFORMED;
	}
	if (v->mv_size < fixed)
		return DECONF_E_MALFORMED;
	if (case_ref) {
		memcpy(case_ref, kp + 1, n);
		case_ref[n] = '\0';
	}
	memset(e, 0, sizeof(*e));
	memcpy(e->token, kp + 1 + n, DECONF_TOKEN_LEN);
	e->epoch = get_u32(kp + 1 + n + DECONF_TOKEN_LEN);
	e->type = p[1];
	e->state = p[2];
	qlen = p[3];
	/* p + 4: epoch copy (kept for the value to stand alone) */
	e->valid_from = get_i64(p + 8);
	e->valid_to = get_i64(p + 16);
	e->published_at = get_i64(p + 24);
	memcpy(e->submission_id, p + 32, ADP_SUBMISSION_ID_LEN);
	vlen = get_u32(p + 32 + ADP_SUBMISSION_ID_LEN);
	memcpy(e->case_digest, p + 36 + ADP_SUBMISSION_ID_LEN, 8);
	if (fixed == ENTRY_FIXED) {
		e->reason = p[ENTRY_FIXED_V2];
		e->decided_at = get_i64(p + ENTRY_FIXED_V2 + 1);
	}
	if (fixed + (qlen ? qlen + 1 : 0) + vlen != v->mv_size ||
	    (qlen && p[fixed + qlen] != '\0'))
		return DECONF_E_MALFORMED;
	e->qualifier = qlen ? (const char *)p + fixed : NULL;
	e->value = (const char *)p + fixed + (qlen ? qlen + 1 : 0);
	e->value_len = vlen;
	return DECONF_OK;
}

int adp_ledger_get(struct adp_ledger_txn *t, const char *case_ref, const uint8_t token[DECONF_TOKEN_LEN],
		   uint32_t epoch, struct adp_entry *e)
{
	uint8_t key[ENTRY_KEY_MAX];
	MDB_val k = { .mv_data = key }, v;
	int rc;

	if ((rc = entry_key(key, case_ref, token, epoch, &k.mv_size)))
		return rc;
	if ((rc = mdb_get(t->txn, t->l->entries, &k, &v)))
		return map_err(rc);
	return decode_entry(&k, &v, e, NULL);
}

int adp_ledger_put(struct adp_ledger_txn *t, const char *case_ref,
		   const struct adp_entry *e)
{
	uint8_t key[ENTRY_KEY_MAX], small[512], *p;
	size_t qlen = e->qualifier ? strlen(e->qualifier) : 0, qstore = qlen ? qlen + 1 : 0;
	MDB_val k = { .mv_data = key }, v;
	int rc;

	if (qlen > 255 || e->value_len > UINT32_MAX)
		return DECONF_E_INVAL;
	if ((rc = entry_key(key, case_ref, e->token, e->epoch, &k.mv_size)))
		return rc;
	/*
	 * Serialize first, then hand LMDB a finished record: e's strings may
	 * point into this very transaction's pages (get, modify, put), and a
	 * write may move those pages before it copies.
	 */
	v.mv_size = ENTRY_FIXED + qstore + e->value_len;
	if (!(p = v.mv_size <= sizeof(small) ? small : malloc(v.mv_size)))
		return DECONF_E_NOMEM;
	v.mv_data = p;
	p[0] = ENTRY_VERSION;
	p[1] = (uint8_t)e->type;
	p[2] = e->state;
	p[3] = (uint8_t)qlen;
	put_u32(p + 4, e->epoch);
	put_i64(p + 8, e->valid_from);
	put_i64(p + 16, e->valid_to);
	put_i64(p + 24, e->published_at);
	memcpy(p + 32, e->submission_id, ADP_SUBMISSION_ID_LEN);
	put_u32(p + 32 + ADP_SUBMISSION_ID_LEN, (uint32_t)e->value_len);
	memcpy(p + 36 + ADP_SUBMISSION_ID_LEN, e->case_digest, 8);
	p[ENTRY_FIXED_V2] = e->reason;
	put_i64(p + ENTRY_FIXED_V2 + 1, e->decided_at);
	if (qlen) {
		memcpy(p + ENTRY_FIXED, e->qualifier, qlen);
		p[ENTRY_FIXED + qlen] = '\0'; /* read back as a C string */
	}
	if (e->value_len)
		memcpy(p + ENTRY_FIXED + qstore, e->value, e->value_len);
	rc = map_err(mdb_put(t->txn, t->l->entries, &k, &v, 0));
	if (p != small)
		free(p);
	return rc;
}

int adp_ledger_del(struct adp_ledger_txn *t, const char *case_ref, const uint8_t token[DECONF_TOKEN_LEN],
		   uint32_t epoch)
{
	uint8_t key[ENTRY_KEY_MAX];
	MDB_val k = { .mv_data = key };
	int rc;

	if ((rc = entry_key(key, case_ref, token, epoch, &k.mv_size)))
		return rc;
	return map_err(mdb_del(t->txn, t->l->entries, &k, NULL));
}

int adp_ledger_foreach(struct adp_ledger_txn *t, const char *case_ref, adp_entry_fn *fn,
		       void *opaque)
{
	uint8_t prefix[1 + ADP_LEDGER_CASE_MAX];
	size_t plen = 0;
	char ref[ADP_LEDGER_CASE_MAX + 1];
	MDB_cursor *cur;
	MDB_val k, v;
	struct adp_entry e;
	int rc, op;

	if (case_ref) {
		if (case_ok(case_ref, &plen))
			return DECONF_E_INVAL;
		prefix[0] = (uint8_t)plen;
		memcpy(prefix + 1, case_ref, plen);
		plen += 1;
	}
	if ((rc = mdb_cursor_open(t->txn, t->l->entries, &cur)))
		return map_err(rc);
	k.mv_data = prefix;
	k.mv_size = plen;
	op = plen ? MDB_SET_RANGE : MDB_FIRST;
	/* rc: LMDB's; stop: decode's or the callback's, returned as is */
	while (!(rc = mdb_cursor_get(cur, &k, &v, op))) {
		int stop;

		op = MDB_NEXT;
		if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen)))
			break;
		if ((stop = decode_entry(&k, &v, &e, ref)) || (stop = fn(opaque, ref, &e))) {
			mdb_cursor_close(cur);
			return stop;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? DECONF_OK : map_err(rc);
}

size_t adp_ledger_entry_count(struct adp_ledger_txn *t)
{
	MDB_stat st;

	return mdb_stat(t->txn, t->l->entries, &st) ? 0 : st.ms_entries;
}

/* ------------------------------------------------------------------ cases */

static MDB_val case_key(const char *case_ref)
{
	size_t n;
	MDB_val k = { .mv_size = 0, .mv_data = (void *)case_ref };

	/* an invalid ref gives an empty key, which LMDB refuses (EINVAL) */
	if (!case_ok(case_ref, &n))
		k.mv_size = n;
	return k;
}

int adp_ledger_case_get(struct adp_ledger_txn *t, const char *case_ref,
			uint8_t digest[32])
{
	MDB_val k = case_key(case_ref), v;
	int rc;

	if ((rc = mdb_get(t->txn, t->l->cases, &k, &v)))
		return map_err(rc);
	if (v.mv_size != 32)
		return DECONF_E_MALFORMED;
	memcpy(digest, v.mv_data, 32);
	return DECONF_OK;
}

int adp_ledger_case_put(struct adp_ledger_txn *t, const char *case_ref,
			const uint8_t digest[32])
{
	MDB_val k = case_key(case_ref), v = { .mv_size = 32, .mv_data = (void *)digest };

	return map_err(mdb_put(t->txn, t->l->cases, &k, &v, 0));
}

int adp_ledger_case_del(struct adp_ledger_txn *t, const char *case_ref)
{
	MDB_val k = case_key(case_ref);
	int rc = mdb_del(t->txn, t->l->cases, &k, NULL);

	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

/* value: u8 visibility, u32 caution, i64 expires_at, then four strings,
 * each u16 length + bytes + NUL */
int adp_ledger_case_info_put(struct adp_ledger_txn *t, const char *case_ref,
			     const struct adp_case_info *ci)
{
	const char *f[4] = { ci->poc_name, ci->poc_phone, ci->poc_email, ci->poc_unit };
	uint8_t buf[13 + 4 * (2 + 1024 + 1) + 2 + 3 + 1024 + 1], *p = buf;
	MDB_val k = case_key(case_ref), v;

	*p++ = (uint8_t)ci->visibility;
	put_u32(p, ci->caution_flags);
	put_i64(p + 4, ci->expires_at);
	p += 12;
	for (int i = 0; i < 4; i++) {
		size_t n = f[i] ? strlen(f[i]) : 0;
		if (n > 1024)
			return DECONF_E_INVAL;
		*p++ = (uint8_t)(n >> 8);
		*p++ = (uint8_t)n;
		memcpy(p, f[i] ? f[i] : "", n);
		p[n] = '\0';
		p += n + 1;
	}
	/* then optional tagged fields, only when set (every other case's
	 * record is as earlier versions wrote it): 'E' kind, 'S' u16 len text */
	if (ci->event_kind) {
		*p++ = 'E';
		*p++ = (uint8_t)ci->event_kind;
	}
	if (ci->disclose_to) {
		size_t n = strlen(ci->disclose_to);
		if (n > 1024)
			return DECONF_E_INVAL;
		*p++ = 'S';
		*p++ = (uint8_t)(n >> 8);
		*p++ = (uint8_t)n;
		memcpy(p, ci->disclose_to, n);
		p[n] = '\0';
		p += n + 1;
	}
	v.mv_data = buf;
	v.mv_size = (size_t)(p - buf);
	return map_err(mdb_put(t->txn, t->l->caseinfo, &k, &v, 0));
}

int adp_ledger_case_info_get(struct adp_ledger_txn *t, const char *case_ref,
			     struct adp_case_info *ci)
{
	MDB_val k = case_key(case_ref), v;
	const char **f[4] = { &ci->poc_name, &ci->poc_phone, &ci->poc_email, &ci->poc_unit };
	const uint8_t *p, *end;
	int rc;

	if ((rc = mdb_get(t->txn, t->l->caseinfo, &k, &v)))
		return map_err(rc);
	p = v.mv_data;
	end = p + v.mv_size;
	if (v.mv_size < 13)
		return DECONF_E_MALFORMED;
	ci->visibility = p[0];
	ci->caution_flags = get_u32(p + 1);
	ci->expires_at = get_i64(p + 5);
	p += 13;
	for (int i = 0; i < 4; i++) {
		size_t n;
		if (end - p < 3 || (size_t)(end - p) < 3 + (n = (size_t)p[0] << 8 | p[1]) ||
		    p[2 + n] != '\0')
			return DECONF_E_MALFORMED;
		*f[i] = n ? (const char *)p + 2 : NULL;
		p += n + 3;
	}
	ci->event_kind = 0;
	ci->disclose_to = NULL;
	while (p < end) {
		size_t n;
		if (*p == 'E' && end - p >= 2) {
			ci->event_kind = p[1];
			p += 2;
		} else if (*p == 'S' && end - p >= 4 &&
			   (size_t)(end - p) >= 4 + (n = (size_t)p[1] << 8 | p[2]) && !p[3 + n]) {
			ci->disclose_to = (const char *)p + 3;
			p += n + 4;
		} else {
			return DECONF_E_MALFORMED;
		}
	}
	return DECONF_OK;
}

/* ----------------------------------------------------------------- outbox */

int adp_ledger_outbox_put(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
			  const uint8_t *envelope, size_t len)
{
	MDB_val k = { .mv_size = ADP_SUBMISSION_ID_LEN, .mv_data = (void *)id };
	MDB_val v = { .mv_size = len, .mv_data = (void *)envelope };

	return map_err(mdb_put(t->txn, t->l->outbox, &k, &v, 0));
}

int adp_ledger_outbox_get(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
			  const uint8_t **envelope, size_t *len)
{
	MDB_val k = { .mv_size = ADP_SUBMISSION_ID_LEN, .mv_data = (void *)id }, v;
	int rc;

	if ((rc = mdb_get(t->txn, t->l->outbox, &k, &v)))
		return map_err(rc);
	*envelope = v.mv_data;
	*len = v.mv_size;
	return DECONF_OK;
}

int adp_ledger_outbox_del(struct adp_ledger_txn *t,
			  const uint8_t id[ADP_SUBMISSION_ID_LEN])
{
	MDB_val k = { .mv_size = ADP_SUBMISSION_ID_LEN, .mv_data = (void *)id };
	int rc = mdb_del(t->txn, t->l->outbox, &k, NULL);

	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

/* Walk every record of dbi; fn gets key and value. */
static int walk(struct adp_ledger_txn *t, MDB_dbi dbi,
		int (*fn)(void *, const MDB_val *, const MDB_val *), void *opaque)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	if ((rc = mdb_cursor_open(t->txn, dbi, &cur)))
		return map_err(rc);
	while (!(rc = mdb_cursor_get(cur, &k, &v, op))) {
		int stop;

		op = MDB_NEXT;
		if ((stop = fn(opaque, &k, &v))) {
			mdb_cursor_close(cur);
			return stop;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

struct outbox_walk {
	adp_outbox_fn *fn;
	void *opaque;
};

static int outbox_cb(void *opaque, const MDB_val *k, const MDB_val *v)
{
	struct outbox_walk *w = opaque;

	if (k->mv_size != ADP_SUBMISSION_ID_LEN)
		return DECONF_E_MALFORMED;
	return w->fn(w->opaque, k->mv_data, v->mv_data, v->mv_size);
}

int adp_ledger_outbox_foreach(struct adp_ledger_txn *t, adp_outbox_fn *fn, void *opaque)
{
	struct outbox_walk w = { fn, opaque };

	return walk(t, t->l->outbox, outbox_cb, &w);
}

size_t adp_ledger_outbox_count(struct adp_ledger_txn *t)
{
	MDB_stat st;

	return mdb_stat(t->txn, t->l->outbox, &st) ? 0 : st.ms_entries;
}

/* ------------------------------------------------------------ submissions */

/* value: version u8 (1), status u8, reason u8, detail len u8, op_index
 * i32, partition i32, offset i64, sent_at i64, decided_at i64, detail
 * bytes, envelope bytes (the rest) */
#define SUB_FIXED (4 + 4 + 4 + 8 + 8 + 8)
#define SUB_VERSION 1

static int decode_sub(const MDB_val *v, struct adp_sub *s)
{
	const uint8_t *p = v->mv_data;
	size_t dlen;

	if (v->mv_size < SUB_FIXED || p[0] != SUB_VERSION ||
	    v->mv_size < SUB_FIXED + (dlen = p[3]))
		return DECONF_E_MALFORMED;
	memset(s, 0, sizeof(*s));
	s->status = p[1];
	s->reason = p[2];
	s->op_index = (int32_t)get_u32(p + 4);
	s->partition = (int32_t)get_u32(p + 8);
	s->offset = get_i64(p + 12);
	s->sent_at = get_i64(p + 20);
	s->decided_at = get_i64(p + 28);
	s->detail = (const char *)p + SUB_FIXED;
	s->detail_len = dlen;
	s->envelope = p + SUB_FIXED + dlen;
	s->envelope_len = v->mv_size - SUB_FIXED - dlen;
	return DECONF_OK;
}

int adp_ledger_sub_get(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
		       struct adp_sub *s)
{
	MDB_val k = { .mv_size = ADP_SUBMISSION_ID_LEN, .mv_data = (void *)id }, v;
	int rc;

	if ((rc = mdb_get(t->txn, t->l->subs, &k, &v)))
		return map_err(rc);
	return decode_sub(&v, s);
}

int adp_ledger_sub_put(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN],
		       const struct adp_sub *s)
{
	MDB_val k = { .mv_size = ADP_SUBMISSION_ID_LEN, .mv_data = (void *)id }, v;
	size_t dlen = s->detail_len > ADP_SUB_DETAIL_MAX ? ADP_SUB_DETAIL_MAX : s->detail_len;
	uint8_t *p;
	int rc;

	if (s->envelope_len > SIZE_MAX - SUB_FIXED - dlen)
		return DECONF_E_INVAL;
	/* built whole first: s's pointers may point into this transaction's
	 * pages (get, change, put) */
	v.mv_size = SUB_FIXED + dlen + s->envelope_len;
	if (!(p = malloc(v.mv_size)))
		return DECONF_E_NOMEM;
	p[0] = SUB_VERSION;
	p[1] = s->status;
	p[2] = s->reason;
	p[3] = (uint8_t)dlen;
	put_u32(p + 4, (uint32_t)s->op_index);
	put_u32(p + 8, (uint32_t)s->partition);
	put_i64(p + 12, s->offset);
	put_i64(p + 20, s->sent_at);
	put_i64(p + 28, s->decided_at);
	if (dlen)
		memcpy(p + SUB_FIXED, s->detail, dlen);
	if (s->envelope_len)
		memcpy(p + SUB_FIXED + dlen, s->envelope, s->envelope_len);
	v.mv_data = p;
	rc = map_err(mdb_put(t->txn, t->l->subs, &k, &v, 0));
	free(p);
	return rc;
}

int adp_ledger_sub_del(struct adp_ledger_txn *t, const uint8_t id[ADP_SUBMISSION_ID_LEN])
{
	MDB_val k = { .mv_size = ADP_SUBMISSION_ID_LEN, .mv_data = (void *)id };
	int rc = mdb_del(t->txn, t->l->subs, &k, NULL);

	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

struct sub_walk {
	adp_sub_fn *fn;
	void *opaque;
	int status;
	size_t n;
};

static int sub_cb(void *opaque, const MDB_val *k, const MDB_val *v)
{
	struct sub_walk *w = opaque;
	struct adp_sub s;
	int rc;

	if (k->mv_size != ADP_SUBMISSION_ID_LEN)
		return DECONF_E_MALFORMED;
	if ((rc = decode_sub(v, &s)))
		return rc;
	if (w->status && s.status != w->status)
		return 0;
	w->n++;
	return w->fn ? w->fn(w->opaque, k->mv_data, &s) : 0;
}

int adp_ledger_sub_foreach(struct adp_ledger_txn *t, adp_sub_fn *fn, void *opaque)
{
	struct sub_walk w = { fn, opaque, 0, 0 };

	return walk(t, t->l->subs, sub_cb, &w);
}

size_t adp_ledger_sub_count(struct adp_ledger_txn *t, int status)
{
	struct sub_walk w = { NULL, NULL, status, 0 };
	MDB_stat st;

	if (!status)
		return mdb_stat(t->txn, t->l->subs, &st) ? 0 : st.ms_entries;
	return walk(t, t->l->subs, sub_cb, &w) ? 0 : w.n;
}

/* ---------------------------------------------------------------- notices */

int adp_ledger_notice_seen(struct adp_ledger_txn *t, const uint8_t *id, size_t len)
{
	MDB_val k = { .mv_size = len, .mv_data = (void *)id }, v;

	if (!len || len > 511)
		return 0;
	return mdb_get(t->txn, t->l->notices, &k, &v) == MDB_SUCCESS;
}

int adp_ledger_notice_put(struct adp_ledger_txn *t, const uint8_t *id, size_t len,
			  const uint8_t *envelope, size_t env_len)
{
	MDB_val k = { .mv_size = len, .mv_data = (void *)id };
	MDB_val v = { .mv_size = env_len, .mv_data = (void *)envelope };

	if (!len || len > 511)
		return DECONF_E_INVAL;
	return map_err(mdb_put(t->txn, t->l->notices, &k, &v, 0));
}

struct notice_walk {
	adp_notice_fn *fn;
	void *opaque;
};

static int notice_cb(void *opaque, const MDB_val *k, const MDB_val *v)
{
	struct notice_walk *w = opaque;

	return w->fn(w->opaque, v->mv_data, v->mv_size);
}

int adp_ledger_notice_foreach(struct adp_ledger_txn *t, adp_notice_fn *fn, void *opaque)
{
	struct notice_walk w = { fn, opaque };

	return walk(t, t->l->notices, notice_cb, &w);
}

int adp_ledger_notice_get(struct adp_ledger_txn *t, const uint8_t *id, size_t len,
			  const uint8_t **envelope, size_t *env_len)
{
	MDB_val k = { .mv_size = len, .mv_data = (void *)id }, v;
	int rc;

	if (!len || len > 511)
		return DECONF_E_UNKNOWN;
	if ((rc = mdb_get(t->txn, t->l->notices, &k, &v)))
		return rc == MDB_NOTFOUND ? DECONF_E_UNKNOWN : map_err(rc);
	*envelope = v.mv_data;
	*env_len = v.mv_size;
	return DECONF_OK;
}

/* ------------------------------------------------------------------- acks */

/* value: u32be outcomes | u8 last | u8 state | i64be at | submission id */
#define ACK_LEN (4 + 1 + 1 + 8 + ADP_SUBMISSION_ID_LEN)

int adp_ledger_ack_get(struct adp_ledger_txn *t, const uint8_t id[DECONF_ID_LEN],
		       struct adp_ack *a)
{
	MDB_val k = { .mv_size = DECONF_ID_LEN, .mv_data = (void *)id }, v;
	const uint8_t *p;
	int rc;

	if ((rc = mdb_get(t->txn, t->l->acks, &k, &v)))
		return rc == MDB_NOTFOUND ? DECONF_E_UNKNOWN : map_err(rc);
	if (v.mv_size != ACK_LEN)
		return DECONF_E_MALFORMED;
	p = v.mv_data;
	a->outcomes = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	a->last = p[4];
	a->state = p[5];
	a->at = 0;
	for (int i = 0; i < 8; i++)
		a->at = (int64_t)((uint64_t)a->at << 8 | p[6 + i]);
	memcpy(a->submission_id, p + 14, ADP_SUBMISSION_ID_LEN);
	return DECONF_OK;
}

int adp_ledger_ack_put(struct adp_ledger_txn *t, const uint8_t id[DECONF_ID_LEN],
		       const struct adp_ack *a)
{
	uint8_t b[ACK_LEN];
	MDB_val k = { .mv_size = DECONF_ID_LEN, .mv_data = (void *)id };
	MDB_val v = { .mv_size = sizeof(b), .mv_data = b };

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(a->outcomes >> (24 - 8 * i));
	b[4] = a->last;
	b[5] = a->state;
	for (int i = 0; i < 8; i++)
		b[6 + i] = (uint8_t)((uint64_t)a->at >> (56 - 8 * i));
	memcpy(b + 14, a->submission_id, ADP_SUBMISSION_ID_LEN);
	return map_err(mdb_put(t->txn, t->l->acks, &k, &v, 0));
}

/* ---------------------------------------------------------------- webhook */

int adp_ledger_hook_put(struct adp_ledger_txn *t, const uint8_t *id, size_t len,
			const char *body, size_t body_len)
{
	MDB_val k = { .mv_size = len, .mv_data = (void *)id };
	MDB_val v = { .mv_size = body_len, .mv_data = (void *)body };

	if (!len || len > 511)
		return DECONF_E_INVAL;
	return map_err(mdb_put(t->txn, t->l->webhook, &k, &v, 0));
}

int adp_ledger_hook_del(struct adp_ledger_txn *t, const uint8_t *id, size_t len)
{
	MDB_val k = { .mv_size = len, .mv_data = (void *)id };
	int rc;

	if (!len || len > 511)
		return DECONF_E_INVAL;
	rc = mdb_del(t->txn, t->l->webhook, &k, NULL);
	return rc == MDB_NOTFOUND ? DECONF_OK : map_err(rc);
}

struct hook_walk {
	adp_hook_fn *fn;
	void *opaque;
};

static int hook_cb(void *opaque, const MDB_val *k, const MDB_val *v)
{
	struct hook_walk *w = opaque;

	return w->fn(w->opaque, k->mv_data, k->mv_size, v->mv_data, v->mv_size);
}

int adp_ledger_hook_foreach(struct adp_ledger_txn *t, adp_hook_fn *fn, void *opaque)
{
	struct hook_walk w = { fn, opaque };

	return walk(t, t->l->webhook, hook_cb, &w);
}

size_t adp_ledger_hook_count(struct adp_ledger_txn *t)
{
	MDB_stat st;

	return mdb_stat(t->txn, t->l->webhook, &st) ? 0 : st.ms_entries;
}

/* ------------------------------------------------------------------- meta */

int adp_ledger_meta_get(struct adp_ledger_txn *t, const char *name, int64_t *v)
{
	MDB_val k = { .mv_size = strlen(name), .mv_data = (void *)name }, d;
	int rc;

	if ((rc = mdb_get(t->txn, t->l->meta, &k, &d)))
		return map_err(rc);
	if (d.mv_size != 8)
		return DECONF_E_MALFORMED;
	*v = get_i64(d.mv_data);
	return DECONF_OK;
}

int adp_ledger_meta_put(struct adp_ledger_txn *t, const char *name, int64_t v)
{
	uint8_t buf[8];
	MDB_val k = { .mv_size = strlen(name), .mv_data = (void *)name };
	MDB_val d = { .mv_size = 8, .mv_data = buf };

	put_i64(buf, v);
	return map_err(mdb_put(t->txn, t->l->meta, &k, &d, 0));
}
