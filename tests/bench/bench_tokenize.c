/* bench_tokenize.c — how fast the adapter turns raw indicators into tokens.
 *
 * A benchmark program, not a test: it prints figures and exits 0 (1 on a
 * usage error or if the generated data is refused, which is a bug here).
 * docs/design.md "Performance goals": normalize + HMAC >= 1M indicators/s per
 * core, against OpenSSL's raw HMAC-SHA256 measured in the same run.
 *
 *     bench_tokenize [-n N] [-r R]
 *
 * It generates N (default 2,000,000) raw indicators, deterministically, in
 * roughly an agency's mix (mostly phones, e-mails, usernames, hashes and
 * IPs, in the formats people type them), then, on one thread, R times
 * (default 5) in turn:
 *   (a) adp_normalize + deconf_token   — the adapter's real path
 *   (b) deconf_token only              — over the canonical values
 *   (c) HMAC(EVP_sha256()) one-shot    — the limit, over the same
 *       "deconf:v1:" type ":" canonical messages, built beforehand
 *   (d) adp_normalize alone, per kind of indicator (ns/op)
 * and, for context, (c2): the same HMAC through one EVP_MAC_CTX keyed once
 * and re-initialized per message (no per-call fetch or key set-up: the
 * fastest way to use OpenSSL's HMAC API, and what (b) should be close to).
 * It prints the median, min and max of each (indicators/s), the ratios
 * (a)/(c) and (b)/(c) (and against (c2)) of the medians, and whether the
 * goal is met.
 *
 * Every token is xor-ed into a sink printed at the end, so nothing is
 * optimized away; (a), (b), (c) and (c2) must give the same tokens (a
 * check that deconf_token is the HMAC the token spec says).
 */
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "deconf/token.h"
#include "normalize.h"

#define N_DEFAULT 2000000L
#define R_DEFAULT 5
#define GOAL_PER_S 1e6
#define TOKEN_DOMAIN "deconf:v1:"
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

#define T(x) DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_##x

/* ------------------------------------------------------------- the mix */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* splitmix64: deterministic, the same data on every run and machine. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void rnd_hex(char *out, size_t n, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	for (size_t i = 0; i < n; i++)
		out[i] = digits[rnd() & 15];
	out[n] = '\0';
}

/* Some letters of s upper-cased, as people type e-mails and domains. */
static void mixed_case(char *s)
{
	uint64_t bits = rnd();

	for (size_t i = 0; s[i]; i++, bits = bits >> 1 | bits << 63)
		if ((bits & 3) == 0 && s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 'a' + 'A');
}

static const char *const first_names[] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
};
static const char *const mail_domains[] = {
	"example.com", "mail.example.org", "example.net", "corp.example.co.uk",
	"gmail.example", "proton.example", "outlook.example", "yahoo.example",
};
static const char *const web_domains[] = {
	"example.com", "shop.example.org", "cdn.example.net", "login-secure.example",
	"files.example.co.uk", "pay.example.info",
};

typedef void(gen_fn)(char *out, size_t size);

static void gen_phone_paren(char *o, size_t n)
{
	snprintf(o, n, "(555) 01%u-%04u", rnd_below(10), rnd_below(10000));
}

static void gen_phone_plus1(char *o, size_t n)
{
	snprintf(o, n, "+1 555 01%u %04u", rnd_below(10), rnd_below(10000));
}

static void gen_phone_dash(char *o, size_t n)
{
	snprintf(o, n, rnd() & 1 ? "555-01%u-%04u" : "555.01%u.%04u", rnd_below(10),
		 rnd_below(10000));
}

static void gen_phone_e164(char *o, size_t n)
{
	snprintf(o, n, "+155501%u%04u", rnd_below(10), rnd_below(10000));
}

static void gen_phone_intl(char *o, size_t n)
{
	switch (rnd_below(3)) {
	case 0: snprintf(o, n, "+44 20 7946 0%03u", rnd_below(1000)); break;
	case 1: snprintf(o, n, "+49 30 12%04u", rnd_below(10000)); break;
	default: snprintf(o, n, "+33 6 12 %02u %02u %02u", rnd_below(100), rnd_below(100),
			  rnd_below(100)); break;
	}
}

static void gen_email(char *o, size_t n)
{
	const char *f = first_names[rnd_below(N_OF(first_names))];
	const char *l = first_names[rnd_below(N_OF(first_names))];

	switch (rnd_below(3)) {
	case 0: snprintf(o, n, "%s.%s%u@%s", f, l, rnd_below(1000),
			 mail_domains[rnd_below(N_OF(mail_domains))]); break;
	case 1: snprintf(o, n, "%s%u@%s", f, rnd_below(100000),
			 mail_domains[rnd_below(N_OF(mail_domains))]); break;
	default: snprintf(o, n, "%s_%s+tag%u@%s", f, l, rnd_below(10),
			  mail_domains[rnd_below(N_OF(mail_domains))]); break;
	}
	mixed_case(o);
}

static void gen_email_idn(char *o, size_t n)
{
	static const char *const d[] = { "bücher.example", "münchen.example", "例え.テスト" };

	snprintf(o, n, "%s%u@%s", first_names[rnd_below(N_OF(first_names))],
		 rnd_below(1000), d[rnd_below(N_OF(d))]);
}

static void gen_username(char *o, size_t n)
{
	char name[32];
	unsigned num = rnd_below(100000);

	snprintf(name, sizeof(name), "%s", first_names[rnd_below(N_OF(first_names))]);
	mixed_case(name);
	switch (rnd_below(4)) {
	case 0: snprintf(o, n, "@%s_%u", name, num); break;
	case 1: snprintf(o, n, "%s%u", name, num); break;
	case 2: snprintf(o, n, "@%s.%u", name, num); break;
	default: snprintf(o, n, "%s-%u", name, num); break;
	}
}

/* Fediverse handles: an '@' inside the name too. */
static void gen_username_at(char *o, size_t n)
{
	snprintf(o, n, "@%s%u@Mastodon.Social", first_names[rnd_below(N_OF(first_names))],
		 rnd_below(10000));
}

static void gen_ipv4(char *o, size_t n)
{
	static const char *const nets[] = { "203.0.113", "198.51.100", "192.0.2", "10.20" };
	unsigned k = rnd_below(N_OF(nets));

	if (k == 3)
		snprintf(o, n, "%s.%u.%u", nets[k], rnd_below(256), rnd_below(256));
	else
		snprintf(o, n, "%s.%u", nets[k], rnd_below(256));
}

static void gen_ipv6(char *o, size_t n)
{
	switch (rnd_below(4)) {
	case 0: snprintf(o, n, "2001:DB8::%X:%X", rnd_below(65536), rnd_below(65536)); break;
	case 1: snprintf(o, n, "2001:db8:%x:0:0:0:0:%x", rnd_below(65536), rnd_below(65536));
		break;
	case 2: snprintf(o, n, "::ffff:198.51.100.%u", rnd_below(256)); break;
	default: snprintf(o, n, "2001:0db8:85a3:0000:0000:8a2e:%04x:%04x", rnd_below(65536),
			  rnd_below(65536)); break;
	}
}

static void gen_sha256(char *o, size_t n)
{
	(void)n;
	rnd_hex(o, 64, rnd() & 1);
}

static void gen_md5(char *o, size_t n)
{
	(void)n;
	rnd_hex(o, 32, rnd() & 1);
}

static void gen_sha1(char *o, size_t n)
{
	(void)n;
	rnd_hex(o, 40, rnd() & 1);
}

static void gen_domain(char *o, size_t n)
{
	snprintf(o, n, "%s%u.%s%s", first_names[rnd_below(N_OF(first_names))],
		 rnd_below(1000), web_domains[rnd_below(N_OF(web_domains))],
		 rnd_below(8) ? "" : ".");
	mixed_case(o);
}

static void gen_url(char *o, size_t n)
{
	switch (rnd_below(3)) {
	case 0: snprintf(o, n, "https://%s/login/%u?session=%u",
			 web_domains[rnd_below(N_OF(web_domains))], rnd_below(100000),
			 rnd_below(1000000)); break;
	case 1: snprintf(o, n, "HTTP://WWW.%s:80/a/./b/../item%u.html", "EXAMPLE.COM",
			 rnd_below(100000)); break;
	default: snprintf(o, n, "http://%s/%%7Euser%u/", web_domains[rnd_below(N_OF(web_domains))],
			  rnd_below(1000)); break;
	}
}

static void gen_eth(char *o, size_t n)
{
	(void)n;
	o[0] = '0';
	o[1] = 'x';
	rnd_hex(o + 2, 40, 0);
}

/* 14 digits and the Luhn check digit, in one of the usual groupings. */
static void gen_imei(char *o, size_t n)
{
	char d[16];
	unsigned sum = 0;

	for (int i = 0; i < 14; i++)
		d[i] = (char)('0' + (i < 2 ? "35"[i] - '0' : (int)rnd_below(10)));
	for (int i = 0; i < 14; i++) {
		unsigned v = (unsigned)(d[13 - i] - '0');
		if (i % 2 == 0) /* doubled: the digits right before the check digit */
			v = v * 2 > 9 ? v * 2 - 9 : v * 2;
		sum += v;
	}
	d[14] = (char)('0' + (10 - sum % 10) % 10);
	d[15] = '\0';
	if (rnd() & 1)
		snprintf(o, n, "%s", d);
	else
		snprintf(o, n, "%.2s-%.6s-%.6s-%c", d, d + 2, d + 8, d[14]);
}

static void gen_mac(char *o, size_t n)
{
	unsigned b[6];

	for (int i = 0; i < 6; i++)
		b[i] = rnd_below(256);
	switch (rnd_below(3)) {
	case 0: snprintf(o, n, "%02X:%02X:%02X:%02X:%02X:%02X", b[0], b[1], b[2], b[3], b[4],
			 b[5]); break;
	case 1: snprintf(o, n, "%02x-%02x-%02x-%02x-%02x-%02x", b[0], b[1], b[2], b[3], b[4],
			 b[5]); break;
	default: snprintf(o, n, "%02x%02x.%02x%02x.%02x%02x", b[0], b[1], b[2], b[3], b[4],
			  b[5]); break;
	}
}

static void gen_vehicle(char *o, size_t n)
{
	snprintf(o, n, rnd() & 1 ? "%u%c%c%c%03u" : "%u %c%c%c-%03u", 1 + rnd_below(9),
		 (int)('A' + rnd_below(26)), (int)('A' + rnd_below(26)),
		 (int)('a' + rnd_below(26)), rnd_below(1000));
}

/* What an agency's files hold, per 1000 indicators. */
static const struct kind {
	const char *name;
	int type;
	const char *qual[3]; /* picked at random; NULL: none */
	int weight;
	gen_fn *gen;
} kinds[] = {
	{ "phone (555) 01x-xxxx", T(PHONE), { NULL }, 90, gen_phone_paren },
	{ "phone +1 555 01x xxxx", T(PHONE), { NULL }, 70, gen_phone_plus1 },
	{ "phone 555-01x-xxxx", T(PHONE), { NULL }, 50, gen_phone_dash },
	{ "phone +1555...", T(PHONE), { NULL }, 30, gen_phone_e164 },
	{ "phone intl (+44/49/33)", T(PHONE), { NULL }, 20, gen_phone_intl },
	{ "email (mixed case)", T(EMAIL), { NULL }, 190, gen_email },
	{ "email (IDN domain)", T(EMAIL), { NULL }, 10, gen_email_idn },
	{ "username", T(USERNAME), { "twitter", "Instagram", "telegram" }, 120, gen_username },
	{ "username (x@host)", T(USERNAME), { "mastodon" }, 20, gen_username_at },
	{ "ipv4", T(IP), { NULL }, 90, gen_ipv4 },
	{ "ipv6", T(IP), { NULL }, 30, gen_ipv6 },
	{ "sha256 (hex, either case)", T(SHA256), { NULL }, 80, gen_sha256 },
	{ "md5 (hex, either case)", T(MD5), { NULL }, 60, gen_md5 },
	{ "sha1 (hex, either case)", T(SHA1), { NULL }, 20, gen_sha1 },
	{ "domain", T(DOMAIN), { NULL }, 40, gen_domain },
	{ "url", T(URL), { NULL }, 30, gen_url },
	{ "eth (lower case)", T(ETH), { NULL }, 20, gen_eth },
	{ "imei (Luhn)", T(IMEI), { NULL }, 10, gen_imei },
	{ "mac", T(MAC), { NULL }, 10, gen_mac },
	{ "vehicle", T(VEHICLE), { "US-CA", "us-tx", "DE-BY" }, 10, gen_vehicle },
};
#define N_KINDS ((int)N_OF(kinds))

/* ------------------------------------------------------------- the data */

struct item {
	uint32_t raw_off, can_off, msg_off;
	uint16_t raw_len, can_len, msg_len;
	uint8_t kind, qual;
};

struct data {
	long n;
	struct item *items;
	char *raw;
	uint8_t *can, *msg;
	size_t raw_used, can_used, msg_used;
	/* For (d): the same items and raw values laid out kind by kind, so
	 * that each kind is read sequentially, as (a) reads the mix. */
	struct item *kitems;
	char *kraw;
	long kind_start[N_KINDS + 1];
};

static struct adp_norm_opts norm_opts = { "US" };

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "bench_tokenize: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	return p;
}

static const char *qual_of(const struct item *it)
{
	return kinds[it->kind].qual[it->qual];
}

/* Generate n raw values and, once, their canonical forms and messages. */
static void make_data(struct data *d, long n)
{
	int total = 0;
	char buf[256], err[256];
	size_t raw_cap = (size_t)n * 48 + 256, can_cap = (size_t)n * 64 + 256,
	       msg_cap = (size_t)n * 80 + 256;
	long fill[N_KINDS] = { 0 };
	size_t used;

	for (int k = 0; k < N_KINDS; k++)
		total += kinds[k].weight;
	memset(d, 0, sizeof(*d));
	d->n = n;
	d->items = xmalloc((size_t)n * sizeof(*d->items));
	d->raw = xmalloc(raw_cap);
	d->can = xmalloc(can_cap);
	d->msg = xmalloc(msg_cap);
	d->kitems = xmalloc((size_t)n * sizeof(*d->kitems));
	for (long i = 0; i < n; i++) {
		struct item *it = &d->items[i];
		int w = (int)rnd_below((unsigned)total), k = 0, nq = 0;
		const char *name;
		size_t len, can_len;
		int rc;

		while (w >= kinds[k].weight)
			w -= kinds[k++].weight;
		while (nq < 3 && kinds[k].qual[nq])
			nq++;
		kinds[k].gen(buf, sizeof(buf));
		len = strlen(buf);
		it->kind = (uint8_t)k;
		it->qual = (uint8_t)(nq ? rnd_below((unsigned)nq) : 0);
		if (d->raw_used + len > raw_cap || d->can_used + ADP_CANON_MAX > can_cap ||
		    d->msg_used + ADP_CANON_MAX + 32 > msg_cap) {
			fprintf(stderr, "bench_tokenize: arena too small (a bug here)\n");
			exit(1);
		}
		it->raw_off = (uint32_t)d->raw_used;
		it->raw_len = (uint16_t)len;
		memcpy(d->raw + d->raw_used, buf, len);
		d->raw_used += len;

		rc = adp_normalize(kinds[k].type, qual_of(it), buf, len, &norm_opts,
				   d->can + d->can_used, &can_len, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "bench_tokenize: generated %s \"%s\" refused: %s (a bug here)\n",
				kinds[k].name, buf, err);
			exit(1);
		}
		it->can_off = (uint32_t)d->can_used;
		it->can_len = (uint16_t)can_len;
		d->can_used += can_len;

		/* The token spec's message: "deconf:v1:" type ":" canonical. */
		name = deconf_indicator_type_name(kinds[k].type);
		it->msg_off = (uint32_t)d->msg_used;
		memcpy(d->msg + d->msg_used, TOKEN_DOMAIN, strlen(TOKEN_DOMAIN));
		d->msg_used += strlen(TOKEN_DOMAIN);
		memcpy(d->msg + d->msg_used, name, strlen(name));
		d->msg_used += strlen(name);
		d->msg[d->msg_used++] = ':';
		memcpy(d->msg + d->msg_used, d->can + it->can_off, can_len);
		d->msg_used += can_len;
		it->msg_len = (uint16_t)(d->msg_used - it->msg_off);
		fill[k]++;
	}
	d->kind_start[0] = 0;
	for (int k = 0; k < N_KINDS; k++)
		d->kind_start[k + 1] = d->kind_start[k] + fill[k];
	d->kraw = xmalloc(d->raw_used);
	used = 0;
	for (int k = 0; k < N_KINDS; k++) {
		long j = d->kind_start[k];

		for (long i = 0; i < n; i++) {
			struct item *it = &d->kitems[j];

			if (d->items[i].kind != k)
				continue;
			*it = d->items[i];
			memcpy(d->kraw + used, d->raw + it->raw_off, it->raw_len);
			it->raw_off = (uint32_t)used;
			used += it->raw_len;
			j++;
		}
	}
}

static void free_data(struct data *d)
{
	free(d->items);
	free(d->raw);
	free(d->can);
	free(d->msg);
	free(d->kitems);
	free(d->kraw);
}

/* ---------------------------------------------------------- measuring */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void xor16(uint8_t sink[16], const uint8_t *tok)
{
	for (int i = 0; i < 16; i++)
		sink[i] ^= tok[i];
}

static void die_rc(const char *what, int rc)
{
	fprintf(stderr, "bench_tokenize: %s failed: %s\n", what, deconf_strerror(rc));
	exit(1);
}

/* (a) the adapter's path. Returns seconds. */
static double run_a(const struct data *d, struct deconf_tokenizer *tk, uint8_t sink[16])
{
	uint8_t can[ADP_CANON_MAX], tok[DECONF_TOKEN_LEN];
	char err[256];
	size_t len;
	double t0 = now_s();

	for (long i = 0; i < d->n; i++) {
		const struct item *it = &d->items[i];
		int type = kinds[it->kind].type, rc;

		if ((rc = adp_normalize(type, qual_of(it), d->raw + it->raw_off, it->raw_len,
					&norm_opts, can, &len, err, sizeof(err))) ||
		    (rc = deconf_token(tk, type, can, len, tok)))
			die_rc("normalize+token", rc);
		xor16(sink, tok);
	}
	return now_s() - t0;
}

/* (b) tokenizing pre-normalized values. */
static double run_b(const struct data *d, struct deconf_tokenizer *tk, uint8_t sink[16])
{
	uint8_t tok[DECONF_TOKEN_LEN];
	double t0 = now_s();

	for (long i = 0; i < d->n; i++) {
		const struct item *it = &d->items[i];
		int rc = deconf_token(tk, kinds[it->kind].type, d->can + it->can_off, it->can_len,
				      tok);

		if (rc)
			die_rc("deconf_token", rc);
		xor16(sink, tok);
	}
	return now_s() - t0;
}

/* (c) the limit: OpenSSL's one-shot HMAC() over the prefixed messages. */
static double run_c(const struct data *d, const uint8_t key[DECONF_KEY_LEN], uint8_t sink[16])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len;
	const EVP_MD *sha256 = EVP_sha256();
	double t0 = now_s();

	for (long i = 0; i < d->n; i++) {
		const struct item *it = &d->items[i];

		if (!HMAC(sha256, key, DECONF_KEY_LEN, d->msg + it->msg_off, it->msg_len, md,
			  &md_len)) {
			fprintf(stderr, "bench_tokenize: HMAC() failed\n");
			exit(1);
		}
		xor16(sink, md);
	}
	return now_s() - t0;
}

/* (c2) the same HMAC through a reused EVP_MAC_CTX, keyed once. */
static double run_c2(const struct data *d, EVP_MAC_CTX *mctx, uint8_t sink[16])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	size_t md_len;
	double t0 = now_s();

	for (long i = 0; i < d->n; i++) {
		const struct item *it = &d->items[i];

		/* A NULL key re-uses the key (and HMAC's pad states) set before. */
		if (!EVP_MAC_init(mctx, NULL, 0, NULL) ||
		    !EVP_MAC_update(mctx, d->msg + it->msg_off, it->msg_len) ||
		    !EVP_MAC_final(mctx, md, &md_len, sizeof(md))) {
			fprintf(stderr, "bench_tokenize: EVP_MAC failed\n");
			exit(1);
		}
		xor16(sink, md);
	}
	return now_s() - t0;
}

static EVP_MAC_CTX *mac_ctx_new(const uint8_t key[DECONF_KEY_LEN])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	EVP_MAC_CTX *mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};

	EVP_MAC_free(mac); /* the context holds its own reference */
	if (!mctx || !EVP_MAC_init(mctx, key, DECONF_KEY_LEN, params)) {
		fprintf(stderr, "bench_tokenize: EVP_MAC set-up failed\n");
		exit(1);
	}
	return mctx;
}

/* (d) normalizing alone, kind by kind; secs[k] per kind. */
static void run_d(const struct data *d, double secs[N_KINDS], uint8_t sink[16])
{
	uint8_t can[ADP_CANON_MAX];
	char err[256];
	size_t len, acc = 0;

	for (int k = 0; k < N_KINDS; k++) {
		double t0 = now_s();

		for (long j = d->kind_start[k]; j < d->kind_start[k + 1]; j++) {
			const struct item *it = &d->kitems[j];
			int rc = adp_normalize(kinds[k].type, qual_of(it), d->kraw + it->raw_off,
					       it->raw_len, &norm_opts, can, &len, err,
					       sizeof(err));

			if (rc)
				die_rc("normalize", rc);
			acc += len + can[0] + can[len - 1];
		}
		secs[k] = now_s() - t0;
	}
	sink[0] ^= (uint8_t)acc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_tokenize [-n N] [-r R]\n"
		   "  -n N  indicators to generate (default %ld)\n"
		   "  -r R  repetitions; medians are printed (default %d)\n",
		N_DEFAULT, R_DEFAULT);
}

int main(int argc, char **argv)
{
	long n = N_DEFAULT;
	int reps = R_DEFAULT, opt, rc;
	struct deconf_keyring *ring = NULL;
	struct deconf_tokenizer *tk = NULL;
	uint8_t key[DECONF_KEY_LEN], sink[16] = { 0 };
	int agree = 1;
	struct data d;
	double *ra, *rb, *rc_, *rc2, (*rd)[N_KINDS], t0, med_a, med_b, med_c, med_c2,
		total_d = 0;
	EVP_MAC_CTX *mctx;
	char *end;

	while ((opt = getopt(argc, argv, "n:r:h")) != -1) {
		switch (opt) {
		case 'n':
			n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 20000000) {
				fprintf(stderr, "bench_tokenize: -n wants 1..20000000\n");
				return 1;
			}
			break;
		case 'r':
			reps = (int)strtol(optarg, &end, 10);
			if (*end || reps < 1 || reps > 100) {
				fprintf(stderr, "bench_tokenize: -r wants 1..100\n");
				return 1;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}

	/* A fixed key: the figures must not depend on it, the sink may. */
	for (int i = 0; i < DECONF_KEY_LEN; i++)
		key[i] = (uint8_t)(i * 37 + 11);
	if ((rc = adp_norm_init()))
		die_rc("adp_norm_init", rc);
	if ((rc = deconf_keyring_new(&ring)) || (rc = deconf_keyring_add(ring, 1, key, 0)) ||
	    (rc = deconf_tokenizer_new(&tk, ring, 1)))
		die_rc("tokenizer set-up", rc);

	t0 = now_s();
	make_data(&d, n);
	printf("bench_tokenize: %ld indicators (%.1f MB raw, %.1f canonical), %d repetitions, "
	       "1 thread, %s\n",
	       n, (double)d.raw_used / 1e6, (double)d.can_used / 1e6, reps,
	       OpenSSL_version(OPENSSL_VERSION));
	printf("generated and checked in %.2f s; average raw %.1f B, message %.1f B\n",
	       now_s() - t0, (double)d.raw_used / (double)n, (double)d.msg_used / (double)n);

	ra = xmalloc((size_t)reps * sizeof(*ra));
	rb = xmalloc((size_t)reps * sizeof(*rb));
	rc_ = xmalloc((size_t)reps * sizeof(*rc_));
	rc2 = xmalloc((size_t)reps * sizeof(*rc2));
	mctx = mac_ctx_new(key);
	rd = xmalloc((size_t)reps * sizeof(*rd));

	/* Warm up caches, branch predictors, OpenSSL's lazy fetches. */
	{
		struct data w = d;
		uint8_t scratch[16] = { 0 };

		w.n = n < 100000 ? n : 100000;
		run_a(&w, tk, scratch);
		run_b(&w, tk, scratch);
		run_c(&w, key, scratch);
		run_c2(&w, mctx, scratch);
	}
	/* Interleaved, so drift (frequency, neighbours) hits all alike. Each
	 * run xors its tokens into its own sink: (a), (b) and (c) must end
	 * equal; their sum over the repetitions is printed. */
	for (int r = 0; r < reps; r++) {
		uint8_t sa[16] = { 0 }, sb[16] = { 0 }, sc[16] = { 0 }, sc2[16] = { 0 },
			sd[16] = { 0 };

		ra[r] = (double)n / run_a(&d, tk, sa);
		rb[r] = (double)n / run_b(&d, tk, sb);
		rc_[r] = (double)n / run_c(&d, key, sc);
		rc2[r] = (double)n / run_c2(&d, mctx, sc2);
		run_d(&d, rd[r], sd);
		agree &= !memcmp(sa, sb, 16) && !memcmp(sb, sc, 16) && !memcmp(sc, sc2, 16);
		for (int i = 0; i < 16; i++)
			sink[i] = (uint8_t)(sink[i] + (sa[i] ^ sd[i]));
	}

	printf("\n%-40s %12s %12s %12s\n", "indicators/s (one thread)", "median", "min", "max");
	{
		struct {
			const char *name;
			double *v;
			double *med;
		} rows[] = {
			{ "(a) adp_normalize + deconf_token", ra, &med_a },
			{ "(b) deconf_token only", rb, &med_b },
			{ "(c) HMAC(EVP_sha256()) one-shot, limit", rc_, &med_c },
			{ "(c2) EVP_MAC_CTX keyed once (context)", rc2, &med_c2 },
		};
		for (size_t i = 0; i < N_OF(rows); i++) {
			*rows[i].med = median(rows[i].v, reps); /* sorts: [0] min, [reps-1] max */
			printf("%-40s %12.0f %12.0f %12.0f\n", rows[i].name, *rows[i].med,
			       rows[i].v[0], rows[i].v[reps - 1]);
		}
	}
	printf("ratio (a)/(c) %.2f   (b)/(c) %.2f   (medians)\n", med_a / med_c, med_b / med_c);
	printf("      (a)/(c2) %.2f  (b)/(c2) %.2f  (a)/(b) %.2f\n", med_a / med_c2,
	       med_b / med_c2, med_a / med_b);

	printf("\n(d) adp_normalize alone, per kind (median of %d)\n", reps);
	printf("%-28s %-9s %6s %10s %12s %8s\n", "kind", "type", "mix%", "ns/op", "per s",
	       "time%");
	{
		double med_k[N_KINDS], v[100], sum_d = 0;

		for (int k = 0; k < N_KINDS; k++) {
			long cnt = d.kind_start[k + 1] - d.kind_start[k];

			for (int r = 0; r < reps; r++)
				v[r] = cnt ? rd[r][k] * 1e9 / (double)cnt : 0;
			med_k[k] = median(v, reps);
			sum_d += med_k[k] * (double)cnt;
		}
		for (int k = 0; k < N_KINDS; k++) {
			long cnt = d.kind_start[k + 1] - d.kind_start[k];

			printf("%-28s %-9s %6.1f %10.0f %12.0f %8.1f\n", kinds[k].name,
			       deconf_indicator_type_name(kinds[k].type),
			       100.0 * (double)cnt / (double)n, med_k[k],
			       med_k[k] > 0 ? 1e9 / med_k[k] : 0,
			       sum_d > 0 ? 100.0 * med_k[k] * (double)cnt / sum_d : 0);
		}
		total_d = sum_d / (double)n;
		printf("%-28s %-9s %6.1f %10.0f %12.0f\n", "all (weighted)", "", 100.0, total_d,
		       total_d > 0 ? 1e9 / total_d : 0);
		printf("per indicator: normalize %.0f ns + token %.0f ns = %.0f ns; (a) measured "
		       "%.0f ns\n",
		       total_d, 1e9 / med_b, total_d + 1e9 / med_b, 1e9 / med_a);
	}

	printf("\ngoal (a) >= %.0f indicators/s per core: %s (median %.0f/s, %.2fx the goal)\n",
	       GOAL_PER_S, med_a >= GOAL_PER_S ? "MET" : "NOT MET", med_a, med_a / GOAL_PER_S);
	printf("tokens agree (a) = (b) = (c) = (c2): %s\nsink ", agree ? "yes" : "NO");
	for (int i = 0; i < 16; i++)
		printf("%02x", sink[i]);
	printf("\n");

	free(ra);
	free(rb);
	free(rc_);
	free(rc2);
	EVP_MAC_CTX_free(mctx);
	free(rd);
	free_data(&d);
	deconf_tokenizer_free(tk);
	deconf_keyring_free(ring);
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}
