/* nfilter.c — notice filters and what was shown (see nfilter.h). */
#include <string.h>

#include "deconf/enum.h"
#include "deconf/err.h"
#include "deconf/util.h"
#include "nfilter.h"
#include "when.h"

#define SHOWN_ID_MAX 64 /* notice ids are 16 bytes; anything longer is cut */

int adp_nfilter_match(const struct adp_nfilter *f, const Deconf__V1__ConflictNotice *n)
{
	if (f->case_ref && *f->case_ref &&
	    (n->case_ref.len != strlen(f->case_ref) ||
	     memcmp(n->case_ref.data, f->case_ref, n->case_ref.len)))
		return 0;
	if (f->kind && (int)n->kind != f->kind)
		return 0;
	if (f->caution && !(n->counterpart && (n->counterpart->caution_flags & f->caution)))
		return 0;
	if (f->since && n->created_at < f->since)
		return 0;
	if (f->until && n->created_at > f->until)
		return 0;
	return 1;
}

int adp_nfilter_date(const char *s, int end, int64_t *ms, char *errstr, size_t errstr_size)
{
	char why[128] = "";
	size_t len = strlen(s);

	if (adp_when_parse(s, len, ms, why, sizeof(why)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "'%.40s' is not a date (YYYY-MM-DD) or time (RFC 3339): %s",
				      s, why);
	/* "2026-11-01" alone: as an end, the whole of that day */
	if (end && len == 10 && s[4] == '-' && s[7] == '-')
		*ms += 86400000 - 1;
	return DECONF_OK;
}

int adp_nfilter_kind(const char *name)
{
	return deconf_enum_value(&deconf__v1__notice_kind__descriptor, name);
}

uint32_t adp_nfilter_caution(const char *name)
{
	int v = deconf_enum_value(&deconf__v1__caution_flag__descriptor, name);

	return v > 0 ? (uint32_t)v : 0;
}

static void shown_key(char *key, const uint8_t *id, size_t len)
{
	memcpy(key, "shown.", 6);
	deconf_hex_encode(key + 6, id, len > SHOWN_ID_MAX ? SHOWN_ID_MAX : len);
}

int adp_nfilter_shown(struct adp_ledger_txn *t, const uint8_t *id, size_t len)
{
	char key[6 + 2 * SHOWN_ID_MAX + 1];
	int64_t v;

	if (!len)
		return 0;
	shown_key(key, id, len);
	return adp_ledger_meta_get(t, key, &v) == DECONF_OK;
}

int adp_nfilter_mark_shown(struct adp_ledger_txn *t, const uint8_t *id, size_t len, int64_t ms)
{
	char key[6 + 2 * SHOWN_ID_MAX + 1];

	if (!len)
		return DECONF_E_INVAL;
	shown_key(key, id, len);
	return adp_ledger_meta_put(t, key, ms);
}
