/* directory.c — agencies of the federation, from deconf.directory. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/scope.h"
#include "deconf/util.h"
#include "directory.h"

/* A directory record is small; anything larger is not one. */
#define ENTRY_MAX (64 * 1024)

struct brk_directory {
	pthread_rwlock_t lock;
	const struct deconf_sign_key *federation_key;
	struct brk_agency *v; /* sorted by id */
	size_t n, cap;
	struct brk_epochs epochs;
};

int brk_directory_new(struct brk_directory **out,
		      const struct deconf_sign_key *federation_key)
{
	struct brk_directory *d;

	*out = NULL;
	if (!(d = calloc(1, sizeof(*d))))
		return DECONF_E_NOMEM;
	if (pthread_rwlock_init(&d->lock, NULL)) {
		free(d);
		return DECONF_E_NOMEM;
	}
	d->federation_key = federation_key;
	*out = d;
	return DECONF_OK;
}

void brk_directory_free(struct brk_directory *d)
{
	if (!d)
		return;
	pthread_rwlock_destroy(&d->lock);
	free(d->v);
	free(d);
}

/* Index of id, or where it would go (*found 0). Caller holds the lock. */
static size_t find(const struct brk_directory *d, const char *id, size_t len, int *found)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(d->v[mid].id, id, len);
		if (!c && d->v[mid].id[len])
			c = 1; /* v[mid].id is longer: it sorts after */
		if (!c) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

/* Copy protobuf text into a fixed field, refusing what does not fit or
 * holds control characters. */
static int text(char *dst, size_t size, const char *src, const char *what, char *errstr,
		size_t errstr_size)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "%s longer than %zu bytes", what, size - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "%s holds a control character", what);
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
	return DECONF_OK;
}

static int to_agency(const Deconf__V1__DirectoryEntry *e, struct brk_agency *a,
		     char *errstr, size_t errstr_size)
{
	const Deconf__V1__PointOfContact *poc = e->watch_contact;
	int rc;

	memset(a, 0, sizeof(*a));
	memcpy(a->id, e->agency_id.data, e->agency_id.len);
	if (e->signing_public_key.len != DECONF_PUBKEY_LEN)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "signing_public_key is %zu bytes, not %d",
				      e->signing_public_key.len, DECONF_PUBKEY_LEN);
	memcpy(a->public_key, e->signing_public_key.data, DECONF_PUBKEY_LEN);
	if (e->status < DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE ||
	    e->status > DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_REMOVED)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "status %d is not active, suspended or removed",
				      (int)e->status);
	a->status = e->status;
	a->level = e->level;
	a->updated_at = e->updated_at;
	if ((rc = text(a->name, sizeof(a->name), e->name, "name", errstr, errstr_size)) ||
	    (rc = text(a->country, sizeof(a->country), e->country, "country", errstr,
		       errstr_size)))
		return rc;
	if (poc &&
	    ((rc = text(a->poc_name, sizeof(a->poc_name), poc->name, "watch contact name",
			errstr, errstr_size)) ||
	     (rc = text(a->poc_phone, sizeof(a->poc_phone), poc->phone, "watch contact phone",
			errstr, errstr_size)) ||
	     (rc = text(a->poc_email, sizeof(a->poc_email), poc->email, "watch contact email",
			errstr, errstr_size))))
		return rc;
	if (e->liaison &&
	    ((rc = text(a->liaison_name, sizeof(a->liaison_name), e->liaison->name,
			"liaison name", errstr, errstr_size)) ||
	     (rc = text(a->liaison_phone, sizeof(a->liaison_phone), e->liaison->phone,
			"liaison phone", errstr, errstr_size)) ||
	     (rc = text(a->liaison_email, sizeof(a->liaison_email), e->liaison->email,
			"liaison email", errstr, errstr_size))))
		return rc;
	if (e->scope) {
		char why[200];
		size_t n = deconf__v1__disclosure_scope__get_packed_size(e->scope);
		if (deconf_scope_check(e->scope, why, sizeof(why)))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "scope: %s", why);
		if (n > sizeof(a->scope))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "scope of %zu bytes, more than %zu", n, sizeof(a->scope));
		a->scope_len = deconf__v1__disclosure_scope__pack(e->scope, a->scope);
		a->name_liaison = deconf_scope_names_liaison(e->scope);
	}
	return DECONF_OK;
}

/* A KeyEpochs record: checked whole, then it replaces the one held. */
static int apply_epochs(struct brk_directory *d, const void *value, size_t value_len,
			char *errstr, size_t errstr_size)
{
	Deconf__V1__KeyEpochs *k = NULL;
	struct brk_epochs x;
	int rc;

	if (!value)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "a tombstone cannot remove the key epochs");
	if ((rc = deconf_envelope_open(value, value_len, ENTRY_MAX,
				       DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_KEY_EPOCHS,
				       d->federation_key, &deconf__v1__key_epochs__descriptor,
				       (ProtobufCMessage **)&k, errstr, errstr_size)))
		return rc;
	memset(&x, 0, sizeof(x));
	x.serial = k->serial;
	x.updated_at = k->updated_at;
	if (!k->serial || !k->n_epochs || k->n_epochs > BRK_EPOCHS_MAX) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				    "key epochs record with serial %llu and %zu epochs (1..%d)",
				    (unsigned long long)k->serial, k->n_epochs, BRK_EPOCHS_MAX);
		goto out;
	}
	for (size_t i = 0; i < k->n_epochs; i++) {
		const Deconf__V1__KeyEpoch *ke = k->epochs[i];
		if (!ke->epoch || (i && ke->epoch <= x.v[i - 1].epoch) || ke->retire_at < 0) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "key epochs record: epoch %u out of order or invalid",
					    ke->epoch);
			goto out;
		}
		x.v[i].epoch = ke->epoch;
		x.v[i].activated_at = ke->activated_at;
		x.v[i].retire_at = ke->retire_at;
		x.n++;
	}
	pthread_rwlock_wrlock(&d->lock);
	if (x.serial > d->epochs.serial)
		d->epochs = x;
	else if (x.serial < d->epochs.serial) /* a replay cannot bring an epoch back */
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				    "key epochs serial %llu is older than %llu: ignored",
				    (unsigned long long)x.serial,
				    (unsigned long long)d->epochs.serial);
	/* the same serial again is deconfctl publishing it again: nothing new */
	pthread_rwlock_unlock(&d->lock);
out:
	deconf_msg_free(k);
	return rc;
}

int brk_directory_apply(struct brk_directory *d, const void *key, size_t key_len,
			const void *value, size_t value_len, char *errstr,
			size_t errstr_size)
{
	Deconf__V1__DirectoryEntry *e = NULL;
	struct brk_agency a;
	size_t at;
	int rc, found;

	if (key && key_len == strlen(BRK_EPOCHS_KEY) && !memcmp(key, BRK_EPOCHS_KEY, key_len))
		return apply_epochs(d, value, value_len, errstr, errstr_size);
	if (!key || !deconf_agency_id_valid(key, key_len))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "record key is not an agency id");
	/* an agency named like the broker or a super user would get their
	 * rights on Kafka: deconfctl refuses it, and so does the broker */
	if (deconf_agency_id_reserved(key, key_len))
		return deconf_err_set(errstr, errstr_size, DECONF_E_PERM,
				      "agency id %.*s is reserved for the federation's own "
				      "principals",
				      (int)key_len, (const char *)key);
	if (!value) {
		/* tombstone: the agency left the federation */
		pthread_rwlock_wrlock(&d->lock);
		at = find(d, key, key_len, &found);
		if (found) {
			memmove(&d->v[at], &d->v[at + 1], (d->n - at - 1) * sizeof(*d->v));
			d->n--;
		}
		pthread_rwlock_unlock(&d->lock);
		return DECONF_OK;
	}
	if ((rc = deconf_envelope_open(value, value_len, ENTRY_MAX,
				       DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY,
				       d->federation_key, &deconf__v1__directory_entry__descriptor,
				       (ProtobufCMessage **)&e, errstr, errstr_size)))
		return rc;
	if (e->agency_id.len != key_len || memcmp(e->agency_id.data, key, key_len)) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				    "entry's agency_id differs from the record key");
		goto out;
	}
	if ((rc = to_agency(e, &a, errstr, errstr_size)))
		goto out;
	pthread_rwlock_wrlock(&d->lock);
	at = find(d, key, key_len, &found);
	if (!found) {
		if ((rc = DECONF_GROW(d->v, d->n, d->cap, 32))) {
			pthread_rwlock_unlock(&d->lock);
			goto out;
		}
		memmove(&d->v[at + 1], &d->v[at], (d->n - at) * sizeof(*d->v));
		d->n++;
	}
	d->v[at] = a;
	pthread_rwlock_unlock(&d->lock);
out:
	deconf_msg_free(e);
	return rc;
}

int brk_directory_get(struct brk_directory *d, const void *id, size_t id_len,
		      struct brk_agency *out)
{
	size_t at;
	int found;

	if (!deconf_agency_id_valid(id, id_len))
		return DECONF_E_UNKNOWN;
	pthread_rwlock_rdlock(&d->lock);
	at = find(d, id, id_len, &found);
	if (found)
		*out = d->v[at];
	pthread_rwlock_unlock(&d->lock);
	return found ? DECONF_OK : DECONF_E_UNKNOWN;
}

int brk_directory_key(struct brk_directory *d, const void *id, size_t id_len,
		      struct deconf_sign_key **key)
{
	struct brk_agency a;
	int rc;

	*key = NULL;
	if ((rc = brk_directory_get(d, id, id_len, &a)))
		return rc;
	if (a.status != DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE)
		return DECONF_E_PERM;
	return deconf_sign_key_from_public(key, a.public_key);
}

size_t brk_directory_count(struct brk_directory *d)
{
	size_t n;

	pthread_rwlock_rdlock(&d->lock);
	n = d->n;
	pthread_rwlock_unlock(&d->lock);
	return n;
}

int brk_directory_at(struct brk_directory *d, size_t i, struct brk_agency *out)
{
	int rc = DECONF_E_UNKNOWN;

	pthread_rwlock_rdlock(&d->lock);
	if (i < d->n) {
		*out = d->v[i];
		rc = DECONF_OK;
	}
	pthread_rwlock_unlock(&d->lock);
	return rc;
}

void brk_directory_epochs(struct brk_directory *d, struct brk_epochs *out)
{
	pthread_rwlock_rdlock(&d->lock);
	*out = d->epochs;
	pthread_rwlock_unlock(&d->lock);
}

int brk_epochs_state(const struct brk_epochs *e, uint32_t epoch, int64_t now)
{
	if (!e->serial)
		return epoch == 1 ? 1 : -1;
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].epoch == epoch)
			return !e->v[i].retire_at || e->v[i].retire_at > now ? 1 : 0;
	/* below the oldest listed: retired and swept from the record */
	return e->n && epoch < e->v[0].epoch ? 0 : -1;
}
