/* phone.cc — libphonenumber shim: phone numbers to E.164, with a fast path. */

/*
 * Why a fast path, and why it is exact.
 *
 * libphonenumber's Parse() runs a dozen ICU regular expressions per number
 * (~15 µs). For input that, once the usual separators (space - . ( )) are
 * dropped, is "+" and digits, or digits only with a default region, Parse()
 * does this (ParseHelper, MaybeExtractCountryCode, libphonenumber 8.12):
 *
 *  "+" digits: the country calling code is the shortest 1-3 digit prefix
 *    that is a known code (ExtractCountryCode). The rest is the national
 *    significant number (NSN), unless the national prefix for parsing of the
 *    code's main region matches at its start (MaybeStripNationalPrefix-
 *    AndCarrierCode; a regular expression, e.g. "1" for +1, "0" for +44).
 *  digits:  when they start with neither the region's international prefix
 *    (e.g. "011" for US) nor its country code, the country code is the
 *    region's and the digits are the NSN, again unless the region's national
 *    prefix for parsing matches at the start.
 *
 * IsPossibleNumberWithReason() then compares the NSN length with the
 * possible lengths of the code's main region (TestNumberLength), and
 * Format(E164) prints "+" code NSN (leading zeros of the NSN are kept).
 *
 * The fast path reads the same metadata libphonenumber compiled in
 * (metadata_get()) once, and keeps per code the possible lengths and per
 * region the two prefixes, when they are plain digit strings. It answers
 * only when no prefix can match and the length is possible; in every other
 * case (a prefix that is a real pattern or that matches, an unknown code,
 * an impossible length, letters, extensions, ...) libphonenumber decides,
 * so refusals and their reasons always come from the library. The unit
 * test compares both paths on many numbers of every calling code.
 */

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

extern "C" {
#include "deconf/err.h"
}
#include "phone.h"

/* libphonenumber's compiled-in metadata (its metadata.h is not installed). */
namespace i18n {
namespace phonenumbers {
int metadata_size();
const void *metadata_get();
} // namespace phonenumbers
} // namespace i18n

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

const size_t kMaxNsn = 17;       /* PhoneNumberUtil::kMaxLengthForNsn */
const size_t kMaxDigits = 3 + 17; /* calling code + NSN */

enum prefix_kind : uint8_t {
	PFX_NONE,    /* no prefix: can never match */
	PFX_LITERAL, /* a plain digit string */
	PFX_PATTERN, /* anything else: ask libphonenumber */
};

struct prefix {
	prefix_kind kind;
	uint8_t len;
	char lit[14];
};

/* Per country calling code: the metadata IsPossibleNumberWithReason() and a
 * "+"-number's Parse() use (the code's main region, or the non-geographic
 * entity "001"). */
struct cc_info {
	bool valid;        /* a calling code libphonenumber knows */
	bool fast;         /* the fields below are usable */
	uint32_t possible; /* bit n set: an NSN of n digits is IS_POSSIBLE */
	prefix npfp;       /* national_prefix_for_parsing */
};

/* Per region ("US"): the metadata Parse() uses for numbers without "+". */
struct region_info {
	bool known;
	bool fast;
	uint16_t cc;
	char cc_str[4];
	prefix idd;  /* international_prefix */
	prefix npfp; /* national_prefix_for_parsing */
};

/* Written once under std::call_once, read-only afterwards. */
struct tables {
	bool fast;
	cc_info cc[1000];
	region_info region[26 * 26];
};

tables g_tab;
std::once_flag g_once;
int g_init_rc = DECONF_E_NOMEM;

int region_index(const char *r)
{
	if (!r || r[0] < 'A' || r[0] > 'Z' || r[1] < 'A' || r[1] > 'Z' || r[2])
		return -1;
	return (r[0] - 'A') * 26 + (r[1] - 'A');
}

void set_prefix(prefix *p, const std::string &s)
{
	memset(p, 0, sizeof(*p));
	if (s.empty())
		p->kind = PFX_NONE;
	else if (s.size() < sizeof(p->lit) && s.find_first_not_of("0123456789") == std::string::npos) {
		p->kind = PFX_LITERAL;
		p->len = (uint8_t)s.size();
		memcpy(p->lit, s.data(), s.size());
	} else
		p->kind = PFX_PATTERN;
}

/* PhoneNumberUtil::TestNumberLength(number, metadata, UNKNOWN) == IS_POSSIBLE,
 * for every length 0..31, written the way the library decides it. */
bool possible_lengths(const PhoneMetadata &m, uint32_t *out)
{
	const auto &pl = m.general_desc().possible_length();
	const auto &lo = m.general_desc().possible_length_local_only();

	if (pl.size() == 0 || pl.Get(0) == -1)
		return false;
	*out = 0;
	for (int n = 0; n < 32; n++) {
		bool local = false, listed = false;
		for (int v : lo)
			local |= v == n;
		for (int i = 1; i < pl.size(); i++)
			listed |= pl.Get(i) == n;
		if (local)
			continue;
		if (pl.Get(0) == n || (pl.Get(0) < n && pl.Get(pl.size() - 1) >= n && listed))
			*out |= 1u << n;
	}
	return true;
}

void build_tables(const PhoneNumberUtil &u)
{
	PhoneMetadataCollection coll;
	std::string main;

	for (int cc = 1; cc < 1000; cc++) {
		main.clear();
		u.GetRegionCodeForCountryCode(cc, &main);
		g_tab.cc[cc].valid = main != "ZZ";
	}
	if (!coll.ParseFromArray(i18n::phonenumbers::metadata_get(),
				 i18n::phonenumbers::metadata_size()))
		return; /* no fast path; the library still works */
	for (const PhoneMetadata &m : coll.metadata()) {
		int cc = m.country_code();
		if (cc <= 0 || cc >= 1000 || !g_tab.cc[cc].valid)
			continue;
		main.clear();
		u.GetRegionCodeForCountryCode(cc, &main);
		if (m.id() == main) {
			cc_info *ci = &g_tab.cc[cc];
			ci->fast = possible_lengths(m, &ci->possible);
			set_prefix(&ci->npfp, m.national_prefix_for_parsing());
		}
		int ri = region_index(m.id().c_str());
		if (ri >= 0) {
			region_info *r = &g_tab.region[ri];
			r->known = true;
			r->cc = (uint16_t)cc;
			snprintf(r->cc_str, sizeof(r->cc_str), "%d", cc);
			set_prefix(&r->idd, m.international_prefix());
			set_prefix(&r->npfp, m.national_prefix_for_parsing());
			/* An empty international prefix is an empty pattern, which
			 * matches every number. */
			r->fast = r->idd.kind == PFX_LITERAL;
		}
	}
	g_tab.fast = true;
}

void init_once()
{
	try {
		const PhoneNumberUtil *u = PhoneNumberUtil::GetInstance();
		if (!u)
			return;
		build_tables(*u);
		g_init_rc = DECONF_OK;
	} catch (...) {
		g_tab.fast = false;
		g_init_rc = DECONF_E_NOMEM;
	}
}

bool starts_with(const char *d, size_t n, const char *lit, size_t len)
{
	return n >= len && !memcmp(d, lit, len);
}

/* True if prefix p cannot match at the start of digits d. */
bool prefix_cannot_match(const prefix &p, const char *d, size_t n)
{
	switch (p.kind) {
	case PFX_NONE:
		return true;
	case PFX_LITERAL:
		return !starts_with(d, n, p.lit, p.len);
	default:
		return false;
	}
}

/*
 * The fast path. Returns true with out filled when the number is surely
 * what libphonenumber would accept with this result; false means "ask
 * libphonenumber" (which also produces every refusal).
 */
bool fast_e164(const char *v, size_t n, const char *region, char *out, size_t *out_len)
{
	char d[kMaxDigits + 1];
	size_t k = 0;
	bool plus = false;

	/* The C-level first pass: digits, one leading '+', the usual separators. */
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c >= '0' && c <= '9') {
			if (k == kMaxDigits)
				return false;
			d[k++] = c;
		} else if (c == '+') {
			if (plus || k)
				return false;
			plus = true;
		} else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')')
			return false;
	}
	if (k < 4)
		return false;

	if (plus) {
		if (d[0] == '0')
			return false;
		int cc = 0;
		size_t cl;
		for (cl = 1; cl <= 3; cl++) {
			cc = cc * 10 + (d[cl - 1] - '0');
			if (g_tab.cc[cc].valid)
				break;
		}
		if (cl > 3)
			return false;
		const cc_info &ci = g_tab.cc[cc];
		size_t nsn = k - cl;
		if (!ci.fast || nsn < 2 || nsn > kMaxNsn ||
		    !prefix_cannot_match(ci.npfp, d + cl, nsn) || !(ci.possible >> nsn & 1))
			return false;
		out[0] = '+';
		memcpy(out + 1, d, k);
		out[k + 1] = '\0';
		*out_len = k + 1;
		return true;
	}

	int ri = region_index(region);
	if (ri < 0)
		return false;
	const region_info &r = g_tab.region[ri];
	if (!r.known || !r.fast || k > kMaxNsn)
		return false;
	if (starts_with(d, k, r.idd.lit, r.idd.len) ||
	    starts_with(d, k, r.cc_str, strlen(r.cc_str)) || !prefix_cannot_match(r.npfp, d, k))
		return false;
	const cc_info &ci = g_tab.cc[r.cc];
	if (!ci.fast || !(ci.possible >> k & 1))
		return false;
	size_t cl = strlen(r.cc_str);
	out[0] = '+';
	memcpy(out + 1, r.cc_str, cl);
	memcpy(out + 1 + cl, d, k);
	out[1 + cl + k] = '\0';
	*out_len = 1 + cl + k;
	return true;
}

bool has_plus(const char *v, size_t n)
{
	/* '+' or the fullwidth plus U+FF0B, which libphonenumber also takes */
	return memchr(v, '+', n) || memmem(v, n, "\xef\xbc\x8b", 3);
}

int slow_e164(const char *v, size_t n, const char *region, char *out, size_t *out_len,
	      char *errstr, size_t errstr_size)
{
	const PhoneNumberUtil *u = PhoneNumberUtil::GetInstance();
	PhoneNumber pn;
	std::string e164;

	switch (u->Parse(std::string(v, n), region ? region : "ZZ", &pn)) {
	case PhoneNumberUtil::NO_PARSING_ERROR:
		break;
	case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
		if (!region && !has_plus(v, n))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "no country code: write the number as +<country code> "
					      "<number>, or configure a default region");
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "unknown country calling code");
	case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
	case PhoneNumberUtil::TOO_SHORT_NSN:
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "too few digits to be a phone number");
	case PhoneNumberUtil::TOO_LONG_NSN:
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "too many digits to be a phone number");
	case PhoneNumberUtil::NOT_A_NUMBER:
	default:
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "not a phone number");
	}
	/* E.164 has no extensions; dropping one would merge everyone behind a
	 * switchboard into one indicator. */
	if (pn.has_extension())
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "the number has an extension: give it without the extension");
	int cc = pn.country_code();
	switch (u->IsPossibleNumberWithReason(pn)) {
	case PhoneNumberUtil::IS_POSSIBLE:
		break;
	case PhoneNumberUtil::IS_POSSIBLE_LOCAL_ONLY:
		/* E.164 of a number without its area code names another number */
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "a local number without its area code: add the area code");
	case PhoneNumberUtil::INVALID_COUNTRY_CODE:
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "unknown country calling code");
	case PhoneNumberUtil::TOO_SHORT:
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "too few digits for a number with country code +%d", cc);
	case PhoneNumberUtil::TOO_LONG:
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "too many digits for a number with country code +%d", cc);
	case PhoneNumberUtil::INVALID_LENGTH:
	default:
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "wrong number of digits for a number with country code +%d",
				      cc);
	}
	u->Format(pn, PhoneNumberUtil::E164, &e164);
	if (e164.size() >= ADP_PHONE_E164_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "too many digits to be a phone number");
	memcpy(out, e164.c_str(), e164.size() + 1);
	*out_len = e164.size();
	return DECONF_OK;
}

/* Fast path if it is sure, else libphonenumber. */
int convert(const char *value, size_t len, const char *region, int flags, char *out,
	    size_t *out_len, char *errstr, size_t errstr_size)
{
	if (!(flags & ADP_PHONE_SLOW_ONLY) && g_tab.fast &&
	    fast_e164(value, len, region, out, out_len))
		return DECONF_OK;
	try {
		return slow_e164(value, len, region, out, out_len, errstr, errstr_size);
	} catch (const std::bad_alloc &) {
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	} catch (...) {
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "the phone number library failed on this value");
	}
}

} // namespace

extern "C" int adp_phone_init(void)
{
	try {
		std::call_once(g_once, init_once);
	} catch (...) {
		return DECONF_E_NOMEM;
	}
	return g_init_rc;
}

extern "C" int adp_phone_fast_enabled(void)
{
	return adp_phone_init() == DECONF_OK && g_tab.fast;
}

extern "C" int adp_phone_region_known(const char *region)
{
	int ri = region_index(region);

	if (ri < 0 || adp_phone_init())
		return 0;
	if (g_tab.fast)
		return g_tab.region[ri].known;
	try {
		return PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(region) != 0;
	} catch (...) {
		return 0;
	}
}

extern "C" int adp_phone_e164(const char *value, size_t len, const char *region, int flags,
			      char out[ADP_PHONE_E164_MAX], size_t *out_len, char *errstr,
			      size_t errstr_size)
{
	char again[ADP_PHONE_E164_MAX];
	size_t again_len = 0;
	int rc;

	if ((rc = adp_phone_init()))
		return deconf_err_set(errstr, errstr_size, rc,
				      "the phone number library could not start");
	if ((rc = convert(value, len, region, flags, out, out_len, errstr, errstr_size)))
		return rc;
	if (*out_len == len && !memcmp(out, value, len))
		return DECONF_OK;
	/*
	 * The canonical form must be a fixed point: an agency that holds the
	 * number in E.164 has to get the same token. libphonenumber's own
	 * output is not always one for odd input (a national number whose
	 * significant part starts with the trunk prefix, e.g. DE "0004887799"
	 * gives +49004887799, which reads back as +4904887799); such numbers
	 * are refused instead of hashed two ways.
	 */
	rc = convert(out, *out_len, NULL, flags, again, &again_len, NULL, 0);
	if (rc == DECONF_E_NOMEM)
		return deconf_err_set(errstr, errstr_size, rc, "out of memory");
	if (rc || again_len != *out_len || memcmp(again, out, again_len))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "ambiguous number: its E.164 form reads back as another "
				      "number; check the digits");
	return DECONF_OK;
}
