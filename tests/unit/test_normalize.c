/* test_normalize.c — canonical forms of every indicator type (normalization v1).
 *
 * Tables of raw value → expected canonical form, written out literally;
 * NULL means the value must be refused. `test_normalize --bench` prints
 * ns/op per type instead of running the tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "norm_internal.h"
#include "normalize.h"
#include "phone.h"

#define T_PHONE DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_PHONE
#define T_EMAIL DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EMAIL
#define T_IP DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP
#define T_USERNAME DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_USERNAME
#define T_URL DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_URL
#define T_DOMAIN DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_DOMAIN
#define T_MD5 DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MD5
#define T_SHA1 DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_SHA1
#define T_SHA256 DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_SHA256
#define T_BTC DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_BTC
#define T_ETH DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_ETH
#define T_IMEI DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IMEI
#define T_MAC DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MAC
#define T_VEHICLE DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_VEHICLE

struct ncase {
	int type;
	const char *qual;   /* platform / jurisdiction */
	const char *region; /* default region for phones */
	const char *in;
	size_t in_len;    /* 0: strlen(in) */
	const char *want; /* NULL: must be refused */
	size_t want_len;  /* 0: strlen(want) */
};

#define OK(t, q, r, in, want) { t, q, r, in, 0, want, 0 }
#define NO(t, q, r, in) { t, q, r, in, 0, NULL, 0 }
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A valid qualifier for types that need one, so refusals are the value's. */
static const char *qual_for(int type)
{
	return type == T_USERNAME ? "twitter" : type == T_VEHICLE ? "US-CA" : NULL;
}

static int run_one(const struct ncase *c, uint8_t *out, size_t *out_len, char *err, size_t errn)
{
	struct adp_norm_opts opts = { c->region };
	size_t len = c->in_len ? c->in_len : strlen(c->in);

	return adp_normalize(c->type, c->qual, c->in, len, &opts, out, out_len, err, errn);
}

static void run_cases(const struct ncase *cases, size_t n)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		const struct ncase *c = &cases[i];
		uint8_t out[ADP_CANON_MAX];
		size_t out_len = 12345;
		char err[256] = "";
		int rc = run_one(c, out, &out_len, err, sizeof(err));

		if (!c->want) {
			if (rc != DECONF_E_INVAL) {
				print_error("case %zu \"%s\": accepted as \"%.*s\", want refused\n", i,
					    c->in, (int)out_len, out);
				failed++;
			} else if (!err[0]) {
				print_error("case %zu \"%s\": refused without a reason\n", i, c->in);
				failed++;
			} else if (out_len != 0) {
				print_error("case %zu: out_len %zu after refusal\n", i, out_len);
				failed++;
			}
			continue;
		}
		size_t want_len = c->want_len ? c->want_len : strlen(c->want);
		if (rc != DECONF_OK) {
			print_error("case %zu \"%s\": refused (%s), want \"%s\"\n", i, c->in, err,
				    c->want);
			failed++;
		} else if (out_len != want_len || memcmp(out, c->want, want_len)) {
			print_error("case %zu \"%s\": got \"%.*s\", want \"%s\"\n", i, c->in,
				    (int)out_len, out, c->want);
			failed++;
		}
	}
	if (failed)
		fail_msg("%d of %zu cases failed", failed, n);
}

/* ------------------------------------------------------------------ phone */

static const struct ncase phone_cases[] = {
	/* the same number, typed many ways */
	OK(T_PHONE, NULL, "US", "(555) 010-9999", "+15550109999"),
	OK(T_PHONE, NULL, NULL, "+1 555 010 9999", "+15550109999"),
	OK(T_PHONE, NULL, "US", "+1 555 010 9999", "+15550109999"),
	OK(T_PHONE, NULL, "GB", "+1 555 010 9999", "+15550109999"),
	OK(T_PHONE, NULL, NULL, "+15550109999", "+15550109999"),
	OK(T_PHONE, NULL, "US", "555.010.9999", "+15550109999"),
	OK(T_PHONE, NULL, "US", "1 555 010 9999", "+15550109999"),
	OK(T_PHONE, NULL, "US", "15550109999", "+15550109999"),
	OK(T_PHONE, NULL, NULL, "+1 (555) 010-9999", "+15550109999"),
	OK(T_PHONE, NULL, NULL, "tel:+1-555-010-9999", "+15550109999"),
	OK(T_PHONE, NULL, NULL, "+1 1 555 010 9999", "+15550109999"), /* national prefix */
	OK(T_PHONE, NULL, "us", "5550109999", "+15550109999"),        /* region any case */
	OK(T_PHONE, NULL, "US", " \t(555) 010-9999\r\n", "+15550109999"),
	/* other countries */
	OK(T_PHONE, NULL, NULL, "+44 20 7946 0000", "+442079460000"),
	OK(T_PHONE, NULL, NULL, "+44 (0)20 7946 0000", "+442079460000"),
	OK(T_PHONE, NULL, "GB", "020 7946 0000", "+442079460000"),
	OK(T_PHONE, NULL, "US", "011 44 20 7946 0000", "+442079460000"), /* IDD */
	OK(T_PHONE, NULL, "GB", "07700 900123", "+447700900123"),
	OK(T_PHONE, NULL, NULL, "+49 30 123456", "+4930123456"),
	OK(T_PHONE, NULL, NULL, "+39 06 1234 5678", "+390612345678"), /* leading zero kept */
	OK(T_PHONE, NULL, NULL, "+800 1234 5678", "+80012345678"),    /* non-geographic */
	OK(T_PHONE, NULL, "US", "1-800-FLOWERS", "+18003569377"),
	/* the country code typed without '+': libphonenumber's heuristics decide */
	OK(T_PHONE, NULL, "IN", "91 98765 43210", "+919876543210"),
	OK(T_PHONE, NULL, "DE", "49 30 123456", "+4930123456"),
	OK(T_PHONE, NULL, "IT", "39 06 1234 5678", "+390612345678"),
	OK(T_PHONE, NULL, "JP", "81 90 1234 5678", "+819012345678"),
	OK(T_PHONE, NULL, "NL", "31 6 12345678", "+31612345678"),
	OK(T_PHONE, NULL, "NL", "06 12345678", "+31612345678"),
	/* refused */
	NO(T_PHONE, NULL, "US", "555-0199"),              /* local only: no area code */
	NO(T_PHONE, NULL, "US", "123"),                   /* too short */
	NO(T_PHONE, NULL, NULL, "+1 555 010 99999"),      /* too long for +1 */
	NO(T_PHONE, NULL, NULL, "+999 1234567"),          /* no such calling code */
	NO(T_PHONE, NULL, NULL, "+0 123 4567"),
	NO(T_PHONE, NULL, NULL, "5550109999"),            /* no country code, no region */
	NO(T_PHONE, NULL, "US", "hello"),
	NO(T_PHONE, NULL, "US", "+1 555 010 9999 ext. 12"), /* extension */
	NO(T_PHONE, NULL, "US", "+1 555 010 9999 x12"),
	NO(T_PHONE, NULL, "XX", "+1 555 010 9999"),       /* unknown default region */
	NO(T_PHONE, NULL, "USA", "+1 555 010 9999"),
	/* libphonenumber reads its own E.164 of these as another number */
	NO(T_PHONE, NULL, "DE", "0004887799"),
	NO(T_PHONE, NULL, NULL, "+49004887799"),
};

static void test_phone(void **state)
{
	run_cases(phone_cases, N_OF(phone_cases));
}

/* xorshift64*: deterministic numbers for the differential test */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void compare_paths(const char *in, const char *region, int *fast_ok, int *failures)
{
	char a[ADP_PHONE_E164_MAX], b[ADP_PHONE_E164_MAX], ea[256] = "", eb[256] = "";
	size_t la = 0, lb = 0;
	int ra = adp_phone_e164(in, strlen(in), region, 0, a, &la, ea, sizeof(ea));
	int rb = adp_phone_e164(in, strlen(in), region, ADP_PHONE_SLOW_ONLY, b, &lb, eb,
				sizeof(eb));

	if (ra != rb || (ra == 0 && (la != lb || strcmp(a, b))) || (ra && strcmp(ea, eb))) {
		if ((*failures)++ < 20)
			print_error("\"%s\" region %s: default path %d \"%s\" (%s), libphonenumber "
				    "%d \"%s\" (%s)\n",
				    in, region ? region : "-", ra, ra ? "" : a, ea, rb,
				    rb ? "" : b, eb);
	}
	if (ra == 0)
		(*fast_ok)++;
}

/*
 * The fast path must give exactly what libphonenumber gives. Random numbers
 * of every length for every calling code ("+" form, with and without
 * separators) and for every region (national form).
 */
static void test_phone_fast_matches_slow(void **state)
{
	static const char *const seps[] = { "", " ", "-", ".", "(" };
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int accepted = 0, failures = 0, tried = 0;
	char in[64], digits[24], region[3] = "AA";

	assert_int_equal(adp_norm_init(), 0);
	assert_true(adp_phone_fast_enabled());
	for (int cc = 1; cc < 1000; cc++) {
		for (int k = 0; k < 6; k++) {
			size_t len = 2 + rnd(&seed) % 16;
			for (size_t i = 0; i < len; i++)
				digits[i] = (char)('0' + rnd(&seed) % 10);
			digits[len] = '\0';
			const char *sep = seps[rnd(&seed) % N_OF(seps)];
			if (*sep == '(')
				snprintf(in, sizeof(in), "+%d (%.3s) %s", cc, digits,
					 len > 3 ? digits + 3 : "");
			else
				snprintf(in, sizeof(in), "+%d%s%s", cc, sep, digits);
			compare_paths(in, k % 2 ? "US" : NULL, &accepted, &failures);
			tried++;
		}
	}
	for (int r = 0; r < 26 * 26; r++) {
		region[0] = (char)('A' + r / 26);
		region[1] = (char)('A' + r % 26);
		if (!adp_phone_region_known(region))
			continue;
		/* leading digits that are often a trunk, international or country
		 * prefix, where the two paths could part ways */
		static const char *const lead[] = { "", "", "0", "00", "01", "1", "7", "8", "9" };
		for (int k = 0; k < 40; k++) {
			size_t len = 3 + rnd(&seed) % 13;
			for (size_t i = 0; i < len; i++)
				digits[i] = (char)('0' + rnd(&seed) % 10);
			digits[len] = '\0';
			snprintf(in, sizeof(in), "%s%s", lead[rnd(&seed) % N_OF(lead)], digits);
			compare_paths(in, region, &accepted, &failures);
			tried++;
		}
	}
	print_message("phone fast/slow: %d numbers, %d accepted, %d mismatches\n", tried,
		      accepted, failures);
	assert_int_equal(failures, 0);
	assert_true(accepted > 1000); /* the comparison saw real numbers */
}

/* ------------------------------------------------------------------ email */

static const struct ncase email_cases[] = {
	OK(T_EMAIL, NULL, NULL, "Alice@EXAMPLE.com", "alice@example.com"),
	OK(T_EMAIL, NULL, NULL, "alice@example.com", "alice@example.com"),
	OK(T_EMAIL, NULL, NULL, "  alice@example.com\t", "alice@example.com"),
	OK(T_EMAIL, NULL, NULL, "alice@example.com.", "alice@example.com"),
	OK(T_EMAIL, NULL, NULL, "alice@bücher.example", "alice@xn--bcher-kva.example"),
	OK(T_EMAIL, NULL, NULL, "alice@BÜCHER.Example", "alice@xn--bcher-kva.example"),
	OK(T_EMAIL, NULL, NULL, "a@例え.テスト", "a@xn--r8jz45g.xn--zckzah"),
	OK(T_EMAIL, NULL, NULL, "Ünïcödé@Example.com", "ünïcödé@example.com"),
	OK(T_EMAIL, NULL, NULL, "U\xcc\x88" "ber@example.com", "über@example.com"), /* NFC */
	OK(T_EMAIL, NULL, NULL, "ΑΛΙΚΗ@example.gr", "αλικη@example.gr"),
	OK(T_EMAIL, NULL, NULL, "first.last+tag@example.com", "first.last+tag@example.com"),
	OK(T_EMAIL, NULL, NULL, "\xc2\xa0" "bob@example.org\xef\xbb\xbf", "bob@example.org"),
	NO(T_EMAIL, NULL, NULL, "alice"),
	NO(T_EMAIL, NULL, NULL, "alice@@example.com"),
	NO(T_EMAIL, NULL, NULL, "a@b@example.com"),
	NO(T_EMAIL, NULL, NULL, "@example.com"),
	NO(T_EMAIL, NULL, NULL, "alice@"),
	NO(T_EMAIL, NULL, NULL, "alice smith@example.com"),
	NO(T_EMAIL, NULL, NULL, "Alice <alice@example.com>"),
	NO(T_EMAIL, NULL, NULL, "mailto:alice@example.com"),
	NO(T_EMAIL, NULL, NULL, "a\xcd\xbe" "b@example.com"), /* U+037E is ';' after NFC */
	NO(T_EMAIL, NULL, NULL, "alice@localhost"),
	NO(T_EMAIL, NULL, NULL, "alice@[192.0.2.1]"),
	NO(T_EMAIL, NULL, NULL, "alice@192.0.2.1"),
	NO(T_EMAIL, NULL, NULL, "alice@exa mple.com"),
	NO(T_EMAIL, NULL, NULL, "alice@a..com"),
	NO(T_EMAIL, NULL, NULL, "alice@-bad-.bücher.de"),
};

static void test_email(void **state)
{
	run_cases(email_cases, N_OF(email_cases));
}

/* --------------------------------------------------------------------- ip */

#define IP4_C0000201 "\xc0\x00\x02\x01"
#define IP6_DB8_1 "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
#define IPOK(in, want, n) { T_IP, NULL, NULL, in, 0, want, n }

static const struct ncase ip_cases[] = {
	IPOK("192.0.2.1", IP4_C0000201, 4),
	IPOK(" 192.0.2.1\n", IP4_C0000201, 4),
	IPOK("::ffff:192.0.2.1", IP4_C0000201, 4),
	IPOK("::FFFF:C000:0201", IP4_C0000201, 4),
	IPOK("2001:DB8:0:0::1", IP6_DB8_1, 16),
	IPOK("2001:db8::1", IP6_DB8_1, 16),
	IPOK("2001:0db8:0000:0000:0000:0000:0000:0001", IP6_DB8_1, 16),
	IPOK("[2001:db8::1]", IP6_DB8_1, 16),
	IPOK("0.0.0.0", "\0\0\0\0", 4),
	IPOK("255.255.255.255", "\xff\xff\xff\xff", 4),
	IPOK("::", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16),
	IPOK("::1", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16),
	IPOK("64:ff9b::192.0.2.1", "\x00\x64\xff\x9b\0\0\0\0\0\0\0\0\xc0\x00\x02\x01", 16),
	NO(T_IP, NULL, NULL, "192.0.2.1/24"),
	NO(T_IP, NULL, NULL, "2001:db8::/32"),
	NO(T_IP, NULL, NULL, "fe80::1%eth0"),
	NO(T_IP, NULL, NULL, "192.0.2.1:80"),
	NO(T_IP, NULL, NULL, "[2001:db8::1]:443"),
	NO(T_IP, NULL, NULL, "[192.0.2.1]"),
	NO(T_IP, NULL, NULL, "192.0.2.256"),
	NO(T_IP, NULL, NULL, "192.0.2"),
	NO(T_IP, NULL, NULL, "010.0.2.1"), /* octal or decimal? refused */
	NO(T_IP, NULL, NULL, "0x7f.0.0.1"),
	NO(T_IP, NULL, NULL, "2001:db8:::1"),
	NO(T_IP, NULL, NULL, "1.2.3.4.5"),
	NO(T_IP, NULL, NULL, "example.com"),
};

static void test_ip(void **state)
{
	run_cases(ip_cases, N_OF(ip_cases));
}

/* --------------------------------------------------------------- username */

static const struct ncase username_cases[] = {
	OK(T_USERNAME, "twitter", NULL, "@Bob_99", "twitter:bob_99"),
	OK(T_USERNAME, "twitter", NULL, "bob_99", "twitter:bob_99"),
	OK(T_USERNAME, "TWITTER", NULL, "Bob_99", "twitter:bob_99"),
	OK(T_USERNAME, "instagram", NULL, "@Bob_99", "instagram:bob_99"),
	OK(T_USERNAME, "twitter", NULL, "ｂｏｂ＿９９", "twitter:bob_99"),   /* fullwidth */
	OK(T_USERNAME, "twitter", NULL, "＠ｂｏｂ＿９９", "twitter:bob_99"), /* fullwidth @ */
	OK(T_USERNAME, "reddit", NULL, "Ｂｏｂ．９９", "reddit:bob.99"),
	OK(T_USERNAME, "telegram", NULL, "Straße", "telegram:strasse"),
	OK(T_USERNAME, "telegram", NULL, "ΣΊΣΥΦΟΣ", "telegram:σίσυφοσ"),
	OK(T_USERNAME, "twitter", NULL, "ﬁsh", "twitter:fish"),       /* ligature */
	OK(T_USERNAME, "twitter", NULL, "Ⓑⓞⓑ", "twitter:bob"),         /* circled */
	OK(T_USERNAME, "discord", NULL, "bo\xe2\x80\x8b" "b", "discord:bob"), /* ZWSP ignored */
	OK(T_USERNAME, "steam", NULL, "@@bob", "steam:bob"),
	OK(T_USERNAME, "tiktok", NULL, "user.name-1", "tiktok:user.name-1"),
	OK(T_USERNAME, "mastodon", NULL, "@Alice@Mastodon.Social", "mastodon:alice@mastodon.social"),
	NO(T_USERNAME, "twitter", NULL, "@"),
	NO(T_USERNAME, "twitter", NULL, "＠"),
	NO(T_USERNAME, "twitter", NULL, "bob smith"),
	NO(T_USERNAME, "twitter", NULL, "bob\tsmith"),
	NO(T_USERNAME, "twitter", NULL, "bob\xe3\x80\x80smith"), /* ideographic space */
	NO(T_USERNAME, "twitter", NULL, "bob\xc2\xa0smith"),     /* no-break space */
	NO(T_USERNAME, "twitter", NULL, "bob\xcd\xb8"),          /* U+0378 unassigned */
	NO(T_USERNAME, NULL, NULL, "bob"),
	NO(T_USERNAME, "", NULL, "bob"),
	NO(T_USERNAME, "twit ter", NULL, "bob"),
	NO(T_USERNAME, "twitter:x", NULL, "bob"),
};

static void test_username(void **state)
{
	run_cases(username_cases, N_OF(username_cases));
}

/* -------------------------------------------------------------------- url */

static const struct ncase url_cases[] = {
	OK(T_URL, NULL, NULL, "HTTP://Example.COM", "http://example.com/"),
	OK(T_URL, NULL, NULL, "http://example.com:80/a/./b/../c", "http://example.com/a/c"),
	OK(T_URL, NULL, NULL, "https://example.com:443/", "https://example.com/"),
	OK(T_URL, NULL, NULL, "https://example.com:8443/x", "https://example.com:8443/x"),
	OK(T_URL, NULL, NULL, "https://example.com:80/", "https://example.com:80/"),
	OK(T_URL, NULL, NULL, "http://example.com:0080", "http://example.com/"),
	OK(T_URL, NULL, NULL, "http://example.com:/", "http://example.com/"),
	OK(T_URL, NULL, NULL, "ftp://ftp.example.com:21/pub/", "ftp://ftp.example.com/pub/"),
	OK(T_URL, NULL, NULL, "http://example.com/%7euser", "http://example.com/~user"),
	OK(T_URL, NULL, NULL, "http://example.com/a%2fb", "http://example.com/a%2Fb"),
	OK(T_URL, NULL, NULL, "http://example.com/?q=%aa#Frag", "http://example.com/?q=%AA#Frag"),
	OK(T_URL, NULL, NULL, "HTTPS://EXAMPLE.COM/A/B?X=Y", "https://example.com/A/B?X=Y"),
	OK(T_URL, NULL, NULL, "http://example.com?x", "http://example.com/?x"),
	OK(T_URL, NULL, NULL, "http://example.com/a/b/../../..", "http://example.com/"),
	OK(T_URL, NULL, NULL, "http://User:Pass@Example.com/", "http://User:Pass@example.com/"),
	OK(T_URL, NULL, NULL, "http://[2001:DB8:0:0::1]:8080/", "http://[2001:db8::1]:8080/"),
	OK(T_URL, NULL, NULL, "http://192.0.2.1/", "http://192.0.2.1/"),
	OK(T_URL, NULL, NULL, "http://Example.com./a", "http://example.com/a"),
	OK(T_URL, NULL, NULL, "http://a/%2e%2e/b", "http://a/b"),
	OK(T_URL, NULL, NULL, "http://bücher.example/straße",
	   "http://xn--bcher-kva.example/stra%C3%9Fe"),
	OK(T_URL, NULL, NULL, "http://xn--bcher-kva.example/stra%c3%9fe",
	   "http://xn--bcher-kva.example/stra%C3%9Fe"),
	OK(T_URL, NULL, NULL, "http://例え.テスト/パス",
	   "http://xn--r8jz45g.xn--zckzah/%E3%83%91%E3%82%B9"),
	OK(T_URL, NULL, NULL, "http://example.com/a|b", "http://example.com/a%7Cb"),
	NO(T_URL, NULL, NULL, "example.com/path"),
	NO(T_URL, NULL, NULL, "mailto:alice@example.com"),
	NO(T_URL, NULL, NULL, "javascript:alert(1)"),
	NO(T_URL, NULL, NULL, "http://"),
	NO(T_URL, NULL, NULL, "http://./"),
	NO(T_URL, NULL, NULL, "file:///etc/passwd"),
	NO(T_URL, NULL, NULL, "http://exa mple.com/"),
	NO(T_URL, NULL, NULL, "http://example.com/a b"),
	NO(T_URL, NULL, NULL, "http://example.com/%zz"),
	NO(T_URL, NULL, NULL, "http://example.com:99999/"),
	NO(T_URL, NULL, NULL, "http://example.com:8o/"),
	/* fuzz find: "a.." dropped one dot and left "a.", which is not a fixed point */
	NO(T_URL, NULL, NULL, "http://example.com../"),
	/* fuzz find: encoded dots in the host ("P://%2e" became "p://./", whose
	 * host is empty once its root dot is dropped) */
	NO(T_URL, NULL, NULL, "P://%2e"),
	NO(T_URL, NULL, NULL, "http://example.com%2e/"),
	NO(T_URL, NULL, NULL, "http://a%2e%2eb/"),
	OK(T_URL, NULL, NULL, "http://a%2eb/", "http://a.b/"),
	NO(T_URL, NULL, NULL, "I+4://ItJ47ItJ4787.87.."),
	OK(T_URL, NULL, NULL, "http://example.com./", "http://example.com/"),
};

static void test_url(void **state)
{
	run_cases(url_cases, N_OF(url_cases));
}

/* ----------------------------------------------------------------- domain */

#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L50 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const struct ncase domain_cases[] = {
	OK(T_DOMAIN, NULL, NULL, "Example.COM", "example.com"),
	OK(T_DOMAIN, NULL, NULL, "example.com.", "example.com"),
	OK(T_DOMAIN, NULL, NULL, "bücher.example", "xn--bcher-kva.example"),
	OK(T_DOMAIN, NULL, NULL, "BÜCHER.example", "xn--bcher-kva.example"),
	OK(T_DOMAIN, NULL, NULL, "XN--BCHER-KVA.example", "xn--bcher-kva.example"),
	OK(T_DOMAIN, NULL, NULL, "bücher。example", "xn--bcher-kva.example"),
	OK(T_DOMAIN, NULL, NULL, "münchen.de.", "xn--mnchen-3ya.de"),
	OK(T_DOMAIN, NULL, NULL, "例え.テスト", "xn--r8jz45g.xn--zckzah"),
	OK(T_DOMAIN, NULL, NULL, "faß.de", "xn--fa-hia.de"), /* non-transitional */
	OK(T_DOMAIN, NULL, NULL, "ａｂｃ.com", "abc.com"),
	OK(T_DOMAIN, NULL, NULL, "_dmarc.Example.com", "_dmarc.example.com"),
	OK(T_DOMAIN, NULL, NULL, "sub.domain.example.co.uk", "sub.domain.example.co.uk"),
	OK(T_DOMAIN, NULL, NULL, L63 ".com", L63 ".com"),
	NO(T_DOMAIN, NULL, NULL, "com"),
	NO(T_DOMAIN, NULL, NULL, "localhost"),
	NO(T_DOMAIN, NULL, NULL, "a..b.com"),
	NO(T_DOMAIN, NULL, NULL, ".example.com"),
	NO(T_DOMAIN, NULL, NULL, "example.com.."),
	NO(T_DOMAIN, NULL, NULL, "192.0.2.1"),
	NO(T_DOMAIN, NULL, NULL, "exa mple.com"),
	NO(T_DOMAIN, NULL, NULL, "ex!ample.com"),
	NO(T_DOMAIN, NULL, NULL, "http://example.com"),
	NO(T_DOMAIN, NULL, NULL, "a" L63 ".com"),                       /* label of 64 */
	NO(T_DOMAIN, NULL, NULL, L50 "." L50 "." L50 "." L50 "." L50 ".com"), /* > 253 */
	NO(T_DOMAIN, NULL, NULL, "xn--zzzz.example"),                      /* bad punycode */
	NO(T_DOMAIN, NULL, NULL, "-bad.bücher.de"),
};

static void test_domain(void **state)
{
	run_cases(domain_cases, N_OF(domain_cases));
}

/* ----------------------------------------------------------------- hashes */

#define MD5_EMPTY "d41d8cd98f00b204e9800998ecf8427e"
#define SHA1_EMPTY "da39a3ee5e6b4b0d3255bfef95601890afd80709"
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct ncase md5_cases[] = {
	OK(T_MD5, NULL, NULL, MD5_EMPTY, MD5_EMPTY),
	OK(T_MD5, NULL, NULL, "D41D8CD98F00B204E9800998ECF8427E", MD5_EMPTY),
	OK(T_MD5, NULL, NULL, "  D41d8cd98f00b204e9800998ecf8427E\n", MD5_EMPTY),
	OK(T_MD5, NULL, NULL, "900150983CD24FB0D6963F7D28E17F72", "900150983cd24fb0d6963f7d28e17f72"),
	OK(T_MD5, NULL, NULL, "00000000000000000000000000000000", "00000000000000000000000000000000"),
	NO(T_MD5, NULL, NULL, "d41d8cd98f00b204e9800998ecf8427"),   /* 31 */
	NO(T_MD5, NULL, NULL, "d41d8cd98f00b204e9800998ecf8427ee"), /* 33 */
	NO(T_MD5, NULL, NULL, "d41d8cd98f00b204e9800998ecf8427g"),
	NO(T_MD5, NULL, NULL, "0xd41d8cd98f00b204e9800998ecf8427e"),
	NO(T_MD5, NULL, NULL, "d41d8cd9 8f00b204e9800998ecf8427e"),
	NO(T_MD5, NULL, NULL, SHA1_EMPTY),
	NO(T_MD5, NULL, NULL, SHA256_EMPTY),
};

static const struct ncase sha1_cases[] = {
	OK(T_SHA1, NULL, NULL, SHA1_EMPTY, SHA1_EMPTY),
	OK(T_SHA1, NULL, NULL, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", SHA1_EMPTY),
	OK(T_SHA1, NULL, NULL, "\tDa39a3ee5e6b4b0d3255bfef95601890afd80709 ", SHA1_EMPTY),
	OK(T_SHA1, NULL, NULL, "A9993E364706816ABA3E25717850C26C9CD0D89D",
	   "a9993e364706816aba3e25717850c26c9cd0d89d"),
	OK(T_SHA1, NULL, NULL, "ffffffffffffffffffffffffffffffffffffffff",
	   "ffffffffffffffffffffffffffffffffffffffff"),
	NO(T_SHA1, NULL, NULL, "da39a3ee5e6b4b0d3255bfef95601890afd8070"),
	NO(T_SHA1, NULL, NULL, "da39a3ee5e6b4b0d3255bfef95601890afd807090"),
	NO(T_SHA1, NULL, NULL, "da39a3ee5e6b4b0d3255bfef95601890afd8070z"),
	NO(T_SHA1, NULL, NULL, "da39a3ee-5e6b-4b0d-3255-bfef95601890afd8"),
	NO(T_SHA1, NULL, NULL, MD5_EMPTY),
	NO(T_SHA1, NULL, NULL, SHA256_EMPTY),
	NO(T_SHA1, NULL, NULL, "ｄａ39a3ee5e6b4b0d3255bfef95601890afd80709"),
};

static const struct ncase sha256_cases[] = {
	OK(T_SHA256, NULL, NULL, SHA256_EMPTY, SHA256_EMPTY),
	OK(T_SHA256, NULL, NULL, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	   SHA256_EMPTY),
	OK(T_SHA256, NULL, NULL, " e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852B855\r\n",
	   SHA256_EMPTY),
	OK(T_SHA256, NULL, NULL, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
	   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	OK(T_SHA256, NULL, NULL, "0000000000000000000000000000000000000000000000000000000000000000",
	   "0000000000000000000000000000000000000000000000000000000000000000"),
	NO(T_SHA256, NULL, NULL, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"),
	NO(T_SHA256, NULL, NULL, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555"),
	NO(T_SHA256, NULL, NULL, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85x"),
	NO(T_SHA256, NULL, NULL, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	NO(T_SHA256, NULL, NULL, MD5_EMPTY),
	NO(T_SHA256, NULL, NULL, SHA1_EMPTY),
	NO(T_SHA256, NULL, NULL, SHA1_EMPTY SHA1_EMPTY),
};

static void test_md5(void **state)
{
	run_cases(md5_cases, N_OF(md5_cases));
}

static void test_sha1(void **state)
{
	run_cases(sha1_cases, N_OF(sha1_cases));
}

static void test_sha256(void **state)
{
	run_cases(sha256_cases, N_OF(sha256_cases));
}

/* -------------------------------------------------------------------- btc */

#define BTC_P2PKH "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
#define BTC_BECH32 "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
#define BTC_TAPROOT "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"

static const struct ncase btc_cases[] = {
	OK(T_BTC, NULL, NULL, BTC_P2PKH, BTC_P2PKH),
	OK(T_BTC, NULL, NULL, "  " BTC_P2PKH "\n", BTC_P2PKH),
	OK(T_BTC, NULL, NULL, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
	OK(T_BTC, NULL, NULL, "1111111111111111111114oLvT2", "1111111111111111111114oLvT2"),
	OK(T_BTC, NULL, NULL, "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"),
	OK(T_BTC, NULL, NULL, "2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc", "2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc"),
	OK(T_BTC, NULL, NULL, BTC_BECH32, BTC_BECH32),
	OK(T_BTC, NULL, NULL, "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ", BTC_BECH32),
	/* BIP 173 / BIP 350 vectors */
	OK(T_BTC, NULL, NULL, "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
	   "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
	OK(T_BTC, NULL, NULL, "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
	   "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"),
	OK(T_BTC, NULL, NULL, BTC_TAPROOT, BTC_TAPROOT),
	OK(T_BTC, NULL, NULL, "BC1SW50QGDZ25J", "bc1sw50qgdz25j"),
	OK(T_BTC, NULL, NULL, "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
	   "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs"),
	OK(T_BTC, NULL, NULL, "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
	   "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c"),
	/* one character changed */
	NO(T_BTC, NULL, NULL, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"),
	NO(T_BTC, NULL, NULL, "1BvBMSEYstWetqTFn5Au4m4GFg7xJbNVN2"),
	NO(T_BTC, NULL, NULL, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr"),
	NO(T_BTC, NULL, NULL, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mqq"),
	NO(T_BTC, NULL, NULL, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN0"), /* '0' not base58 */
	NO(T_BTC, NULL, NULL, "1bvbmseystwetqtfn5au4m4gfg7xjanvn2"), /* case matters */
	NO(T_BTC, NULL, NULL, "bc1qAR0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"), /* mixed case */
	NO(T_BTC, NULL, NULL, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh"), /* v0 bech32m */
	NO(T_BTC, NULL, NULL, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd"),
	NO(T_BTC, NULL, NULL, "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut"),
	NO(T_BTC, NULL, NULL, "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R"),
	NO(T_BTC, NULL, NULL, "bc1pw5dgrnzv"),
	NO(T_BTC, NULL, NULL, "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P"),
	NO(T_BTC, NULL, NULL, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf"),
	NO(T_BTC, NULL, NULL, "bc1gmk9yu"),
	NO(T_BTC, NULL, NULL, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
};

static void test_btc(void **state)
{
	run_cases(btc_cases, N_OF(btc_cases));
}

/* -------------------------------------------------------------------- eth */

static const struct ncase eth_cases[] = {
	/* EIP-55's examples: all caps, all lower, normal */
	OK(T_ETH, NULL, NULL, "0x52908400098527886E0F7030069857D2E4169EE7",
	   "0x52908400098527886e0f7030069857d2e4169ee7"),
	OK(T_ETH, NULL, NULL, "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
	   "0x8617e340b3d01fa5f11f306f4090fd50e238070d"),
	OK(T_ETH, NULL, NULL, "0xde709f2102306220921060314715629080e2fb77",
	   "0xde709f2102306220921060314715629080e2fb77"),
	OK(T_ETH, NULL, NULL, "0x27b1fdb04752bbc536007a920d24acb045561c26",
	   "0x27b1fdb04752bbc536007a920d24acb045561c26"),
	OK(T_ETH, NULL, NULL, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	   "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
	OK(T_ETH, NULL, NULL, "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	   "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"),
	OK(T_ETH, NULL, NULL, "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	   "0xdbf03b407c01e7cd3cbea99509d93f8dddc8c6fb"),
	OK(T_ETH, NULL, NULL, "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	   "0xd1220a0cf47c7b9be7a2e6ba89f429762e7b9adb"),
	OK(T_ETH, NULL, NULL, "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	   "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
	OK(T_ETH, NULL, NULL, " 0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED ",
	   "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
	/* one letter's case flipped */
	NO(T_ETH, NULL, NULL, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
	NO(T_ETH, NULL, NULL, "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
	NO(T_ETH, NULL, NULL, "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5D359"),
	NO(T_ETH, NULL, NULL, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe"),   /* 39 */
	NO(T_ETH, NULL, NULL, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd"), /* 41 */
	NO(T_ETH, NULL, NULL, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg"),
	NO(T_ETH, NULL, NULL, "0x"),
	NO(T_ETH, NULL, NULL, "0x 5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
};

static void test_eth(void **state)
{
	run_cases(eth_cases, N_OF(eth_cases));
}

static void test_keccak256(void **state)
{
	static const struct {
		const char *in;
		const char *hex;
	} v[] = {
		{ "", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470" },
		{ "abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45" },
	};
	uint8_t h[32], big[300];
	char hex[65];

	for (size_t i = 0; i < N_OF(v); i++) {
		adp_keccak256((const uint8_t *)v[i].in, strlen(v[i].in), h);
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", h[k]);
		assert_string_equal(hex, v[i].hex);
	}
	/* inputs across the 136-byte block boundary do not crash and differ */
	memset(big, 'a', sizeof(big));
	uint8_t h135[32], h136[32], h137[32];
	adp_keccak256(big, 135, h135);
	adp_keccak256(big, 136, h136);
	adp_keccak256(big, 137, h137);
	assert_memory_not_equal(h135, h136, 32);
	assert_memory_not_equal(h136, h137, 32);
}

/* ------------------------------------------------------------------- imei */

static const struct ncase imei_cases[] = {
	OK(T_IMEI, NULL, NULL, "490154203237518", "490154203237518"),
	OK(T_IMEI, NULL, NULL, "49-015420-323751-8", "490154203237518"),
	OK(T_IMEI, NULL, NULL, "49 015420 323751 8", "490154203237518"),
	OK(T_IMEI, NULL, NULL, " 490154203237518\n", "490154203237518"),
	OK(T_IMEI, NULL, NULL, "356938035643809", "356938035643809"),
	OK(T_IMEI, NULL, NULL, "352099001761481", "352099001761481"),
	OK(T_IMEI, NULL, NULL, "012345678901237", "012345678901237"),
	OK(T_IMEI, NULL, NULL, "99-000012-345678-4", "990000123456784"),
	OK(T_IMEI, NULL, NULL, "353320112233445", "353320112233445"),
	OK(T_IMEI, NULL, NULL, "000000000000000", "000000000000000"),
	NO(T_IMEI, NULL, NULL, "490154203237519"),  /* Luhn */
	NO(T_IMEI, NULL, NULL, "490154203237528"),  /* Luhn */
	NO(T_IMEI, NULL, NULL, "940154203237518"),  /* Luhn: swapped digits */
	NO(T_IMEI, NULL, NULL, "49015420323751"),   /* 14 */
	NO(T_IMEI, NULL, NULL, "4901542032375180"), /* 16: IMEISV */
	NO(T_IMEI, NULL, NULL, "49015420323751a"),
	NO(T_IMEI, NULL, NULL, "4901.5420.3237518"),
	NO(T_IMEI, NULL, NULL, "4901542032375189999"),
	NO(T_IMEI, NULL, NULL, "--"),
};

static void test_imei(void **state)
{
	run_cases(imei_cases, N_OF(imei_cases));
}

/* -------------------------------------------------------------------- mac */

static const struct ncase mac_cases[] = {
	OK(T_MAC, NULL, NULL, "AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff"),
	OK(T_MAC, NULL, NULL, "aa-bb-cc-dd-ee-ff", "aa:bb:cc:dd:ee:ff"),
	OK(T_MAC, NULL, NULL, "aabb.ccdd.eeff", "aa:bb:cc:dd:ee:ff"),
	OK(T_MAC, NULL, NULL, "AABBCCDDEEFF", "aa:bb:cc:dd:ee:ff"),
	OK(T_MAC, NULL, NULL, "00:1a:2B:3c:4D:5e", "00:1a:2b:3c:4d:5e"),
	OK(T_MAC, NULL, NULL, "0123.4567.89AB", "01:23:45:67:89:ab"),
	OK(T_MAC, NULL, NULL, " 00-00-00-00-00-00 ", "00:00:00:00:00:00"),
	OK(T_MAC, NULL, NULL, "ffffffffffff", "ff:ff:ff:ff:ff:ff"),
	NO(T_MAC, NULL, NULL, "aa:bb:cc:dd:ee"),
	NO(T_MAC, NULL, NULL, "aa:bb-cc:dd:ee:ff"),
	NO(T_MAC, NULL, NULL, "aa:bb:cc:dd:ee:fg"),
	NO(T_MAC, NULL, NULL, "a:b:c:d:e:f"),
	NO(T_MAC, NULL, NULL, "aa:bb:cc:dd:ee:ff:00"),
	NO(T_MAC, NULL, NULL, "aabb.ccdd.eef"),
	NO(T_MAC, NULL, NULL, "aa bb cc dd ee ff"),
	NO(T_MAC, NULL, NULL, "aabb:ccdd:eeff"),
	NO(T_MAC, NULL, NULL, "aa:bbc:cd:de:ef:f0"),
};

static void test_mac(void **state)
{
	run_cases(mac_cases, N_OF(mac_cases));
}

/* ---------------------------------------------------------------- vehicle */

static const struct ncase vehicle_cases[] = {
	OK(T_VEHICLE, "US-CA", NULL, "7ABC123", "US-CA:7ABC123"),
	OK(T_VEHICLE, "us-ca", NULL, "7abc123", "US-CA:7ABC123"),
	OK(T_VEHICLE, "US-CA", NULL, "7 ABC 123", "US-CA:7ABC123"),
	OK(T_VEHICLE, "US-CA", NULL, "7-ABC-123", "US-CA:7ABC123"),
	OK(T_VEHICLE, "US-CA", NULL, "7.ABC.123", "US-CA:7ABC123"),
	OK(T_VEHICLE, "US-TX", NULL, "ＡＢＣ１２３", "US-TX:ABC123"),
	OK(T_VEHICLE, "US-TX", NULL, "ABC\xe2\x80\x93" "123", "US-TX:ABC123"), /* en dash */
	OK(T_VEHICLE, "US-CA", NULL, "ABCDEFGHIJKL", "US-CA:ABCDEFGHIJKL"),
	OK(T_VEHICLE, "DE-BY", NULL, "M-AB 1234", "DE-BY:MAB1234"),
	OK(T_VEHICLE, "DE-BY", NULL, "mü ab 123", "DE-BY:MÜAB123"),
	OK(T_VEHICLE, "US-NAVAJO", NULL, "12345", "US-NAVAJO:12345"),
	NO(T_VEHICLE, "US-CA", NULL, "ABCDEFGHIJKLM"), /* 13 */
	NO(T_VEHICLE, "US-CA", NULL, "---"),
	NO(T_VEHICLE, "US-CA", NULL, "ABC#123"),
	NO(T_VEHICLE, "US-CA", NULL, "ABC/123"),
	NO(T_VEHICLE, NULL, NULL, "7ABC123"),
	NO(T_VEHICLE, "", NULL, "7ABC123"),
	NO(T_VEHICLE, "US_CA", NULL, "7ABC123"),
	NO(T_VEHICLE, "-US", NULL, "7ABC123"),
	NO(T_VEHICLE, "US--CA", NULL, "7ABC123"),
	NO(T_VEHICLE, "1US", NULL, "7ABC123"),
	NO(T_VEHICLE, "US:CA", NULL, "7ABC123"),
};

static void test_vehicle(void **state)
{
	run_cases(vehicle_cases, N_OF(vehicle_cases));
}

/* ------------------------------------------------------------ across types */

static void canon(int type, const char *qual, const char *region, const char *in, uint8_t *out,
		  size_t *out_len)
{
	struct adp_norm_opts opts = { region };
	char err[256];
	int rc = adp_normalize(type, qual, in, strlen(in), &opts, out, out_len, err, sizeof(err));

	if (rc)
		fail_msg("\"%s\" refused: %s", in, err);
}

/* The pairs the design calls out, checked against each other directly. */
static void test_same_canonical(void **state)
{
	static const struct {
		int type;
		const char *qa, *ra, *a, *qb, *rb, *b;
		int same;
	} pairs[] = {
		{ T_PHONE, NULL, "US", "(555) 010-9999", NULL, NULL, "+1 555 010 9999", 1 },
		{ T_EMAIL, NULL, NULL, "Alice@EXAMPLE.com", NULL, NULL, "alice@example.com", 1 },
		{ T_IP, NULL, NULL, "2001:DB8:0:0::1", NULL, NULL, "2001:db8::1", 1 },
		{ T_IP, NULL, NULL, "::ffff:192.0.2.1", NULL, NULL, "192.0.2.1", 1 },
		{ T_USERNAME, "twitter", NULL, "@Bob_99", "twitter", NULL, "bob_99", 1 },
		{ T_USERNAME, "twitter", NULL, "ｂｏｂ＿９９", "twitter", NULL, "bob_99", 1 },
		{ T_USERNAME, "twitter", NULL, "@Bob_99", "instagram", NULL, "bob_99", 0 },
		{ T_DOMAIN, NULL, NULL, "bücher.example", NULL, NULL, "xn--bcher-kva.example", 1 },
		{ T_URL, NULL, NULL, "http://bücher.example/", NULL, NULL,
		  "HTTP://XN--BCHER-KVA.EXAMPLE:80", 1 },
		{ T_VEHICLE, "US-CA", NULL, "7abc 123", "US-NV", NULL, "7ABC123", 0 },
	};

	for (size_t i = 0; i < N_OF(pairs); i++) {
		uint8_t a[ADP_CANON_MAX], b[ADP_CANON_MAX];
		size_t na, nb;
		canon(pairs[i].type, pairs[i].qa, pairs[i].ra, pairs[i].a, a, &na);
		canon(pairs[i].type, pairs[i].qb, pairs[i].rb, pairs[i].b, b, &nb);
		int same = na == nb && !memcmp(a, b, na);
		if (same != pairs[i].same)
			fail_msg("pair %zu (\"%s\", \"%s\"): canonicals %s", i, pairs[i].a,
				 pairs[i].b, same ? "equal" : "differ");
	}
}

/*
 * A canonical value normalizes to itself (an agency may hold the canonical
 * form already). IP canonicals are binary; username and vehicle canonicals
 * carry their qualifier before ':'.
 */
static void test_canonical_is_fixed_point(void **state)
{
	static const struct {
		const struct ncase *c;
		size_t n;
	} tables[] = {
		{ phone_cases, N_OF(phone_cases) },	  { email_cases, N_OF(email_cases) },
		{ username_cases, N_OF(username_cases) }, { url_cases, N_OF(url_cases) },
		{ domain_cases, N_OF(domain_cases) },	  { md5_cases, N_OF(md5_cases) },
		{ sha1_cases, N_OF(sha1_cases) },	  { sha256_cases, N_OF(sha256_cases) },
		{ btc_cases, N_OF(btc_cases) },		  { eth_cases, N_OF(eth_cases) },
		{ imei_cases, N_OF(imei_cases) },	  { mac_cases, N_OF(mac_cases) },
		{ vehicle_cases, N_OF(vehicle_cases) },
	};
	int failed = 0;

	for (size_t t = 0; t < N_OF(tables); t++)
		for (size_t i = 0; i < tables[t].n; i++) {
			const struct ncase *c = &tables[t].c[i];
			if (!c->want)
				continue;
			struct ncase again = *c;
			const char *colon = strchr(c->want, ':');
			again.in = (c->type == T_USERNAME || c->type == T_VEHICLE) ? colon + 1
										   : c->want;
			again.in_len = 0;
			again.qual = (c->type == T_USERNAME || c->type == T_VEHICLE)
					     ? strndup(c->want, (size_t)(colon - c->want))
					     : c->qual;
			uint8_t out[ADP_CANON_MAX];
			size_t out_len = 0;
			char err[256] = "";
			int rc = run_one(&again, out, &out_len, err, sizeof(err));
			if (rc || out_len != strlen(c->want) || memcmp(out, c->want, out_len)) {
				print_error("\"%s\" -> rc %d \"%.*s\" %s\n", c->want, rc,
					    (int)out_len, out, err);
				failed++;
			}
			if (again.qual != c->qual)
				free((char *)again.qual);
		}
	assert_int_equal(failed, 0);
}

/* What every type refuses: empty, blank, NUL, too long, invalid UTF-8. */
static void test_refused_for_every_type(void **state)
{
	static const struct {
		const char *v;
		size_t n;
	} bad[] = {
		{ "", 0 },
		{ " \t\r\n", 4 },
		{ "\xc2\xa0\xe3\x80\x80", 5 },          /* no-break + ideographic space */
		{ "ab\0cd", 5 },                        /* embedded NUL */
		{ "\0", 1 },
		{ "abc\xff", 4 },                       /* not UTF-8 */
		{ "\xc0\xaf", 2 },                      /* overlong '/' */
		{ "\xed\xa0\x80", 3 },                  /* surrogate */
		{ "\xf4\x90\x80\x80", 4 },              /* > U+10FFFF */
		{ "\xe2\x82", 2 },                      /* truncated */
	};
	static char longv[ADP_INPUT_MAX + 2];
	struct adp_norm_opts opts = { "US" };
	uint8_t out[ADP_CANON_MAX];
	size_t out_len;
	char err[256];

	memset(longv, '1', sizeof(longv));
	for (int type = T_PHONE; type <= T_VEHICLE; type++) {
		for (size_t i = 0; i < N_OF(bad); i++) {
			err[0] = '\0';
			int rc = adp_normalize(type, qual_for(type), bad[i].v, bad[i].n, &opts, out,
					       &out_len, err, sizeof(err));
			if (rc != DECONF_E_INVAL || !err[0])
				fail_msg("type %d bad value %zu: rc %d", type, i, rc);
		}
		int rc = adp_normalize(type, qual_for(type), longv, ADP_INPUT_MAX + 1, &opts, out,
				       &out_len, err, sizeof(err));
		if (rc != DECONF_E_INVAL || !strstr(err, "longer"))
			fail_msg("type %d: over-long value not refused (%d %s)", type, rc, err);
	}
	/* unknown types */
	assert_int_equal(adp_normalize(0, NULL, "x", 1, NULL, out, &out_len, err, sizeof(err)),
			 DECONF_E_INVAL);
	assert_int_equal(adp_normalize(99, NULL, "x", 1, NULL, out, &out_len, err, sizeof(err)),
			 DECONF_E_INVAL);
	/* no errstr buffer is fine */
	assert_int_equal(adp_normalize(T_MD5, NULL, "x", 1, NULL, out, &out_len, NULL, 0),
			 DECONF_E_INVAL);
}

/* A long value is never echoed back in the reason. */
static void test_errstr_does_not_echo(void **state)
{
	static const char *const secret = "zq7secretvaluezq7secretvaluezq7secretvaluezq7secret";
	char v[256], err[512];
	uint8_t out[ADP_CANON_MAX];
	size_t out_len;
	struct adp_norm_opts opts = { "US" };

	static const char *const forms[][2] = {
		{ "", "" },	{ "", "@example.com" }, { "http://example.com/", " x" },
		{ "", ".example.com" }, { "@", " x" },
	};

	for (int type = T_PHONE; type <= T_VEHICLE; type++) {
		for (size_t f = 0; f < N_OF(forms); f++) {
			snprintf(v, sizeof(v), "%s%s%s", forms[f][0], secret, forms[f][1]);
			err[0] = '\0';
			if (adp_normalize(type, qual_for(type), v, strlen(v), &opts, out, &out_len, err,
					  sizeof(err)) == 0)
				continue;
			if (strstr(err, "secretvalue"))
				fail_msg("type %d echoes the value: %s", type, err);
		}
	}
}

static void test_opts_check(void **state)
{
	char err[256];
	struct adp_norm_opts o;

	o.default_region = NULL;
	assert_int_equal(adp_norm_opts_check(&o, err, sizeof(err)), 0);
	assert_int_equal(adp_norm_opts_check(NULL, err, sizeof(err)), 0);
	o.default_region = "US";
	assert_int_equal(adp_norm_opts_check(&o, err, sizeof(err)), 0);
	o.default_region = "gb";
	assert_int_equal(adp_norm_opts_check(&o, err, sizeof(err)), 0);
	o.default_region = "XX";
	assert_int_equal(adp_norm_opts_check(&o, err, sizeof(err)), DECONF_E_CONFIG);
	o.default_region = "USA";
	assert_int_equal(adp_norm_opts_check(&o, err, sizeof(err)), DECONF_E_CONFIG);
	o.default_region = "U1";
	assert_int_equal(adp_norm_opts_check(&o, err, sizeof(err)), DECONF_E_CONFIG);
	o.default_region = "";
	assert_int_equal(adp_norm_opts_check(&o, err, sizeof(err)), DECONF_E_CONFIG);
}

/* Concurrent first use and concurrent calls give the same answers. */
static const struct ncase *const all_tables[] = {
	phone_cases, email_cases, ip_cases,   username_cases, url_cases,
	domain_cases, btc_cases,  eth_cases,  vehicle_cases,
};
static const size_t all_sizes[] = {
	N_OF(phone_cases), N_OF(email_cases), N_OF(ip_cases),
	N_OF(username_cases), N_OF(url_cases), N_OF(domain_cases),
	N_OF(btc_cases), N_OF(eth_cases), N_OF(vehicle_cases),
};

static void *thread_main(void *arg)
{
	long bad = 0;

	for (int round = 0; round < 3; round++)
		for (size_t t = 0; t < N_OF(all_tables); t++)
			for (size_t i = 0; i < all_sizes[t]; i++) {
				const struct ncase *c = &all_tables[t][i];
				uint8_t out[ADP_CANON_MAX];
				size_t out_len = 0;
				char err[256];
				int rc = run_one(c, out, &out_len, err, sizeof(err));
				size_t wl = c->want ? (c->want_len ? c->want_len : strlen(c->want)) : 0;
				if (c->want ? rc || out_len != wl || memcmp(out, c->want, wl) : !rc)
					bad++;
			}
	return (void *)bad;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	long bad = 0;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += (long)r;
	}
	assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ bench */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct bench {
	const char *name;
	int type;
	const char *qual, *region;
	const char *values[4];
	int flags; /* 1: phone slow path only */
};

static double bench_once(const struct bench *b, long iters)
{
	struct adp_norm_opts opts = { b->region };
	size_t nv = 0, lens[4];
	uint8_t out[ADP_CANON_MAX];
	size_t out_len;
	char err[256], e164[ADP_PHONE_E164_MAX];
	volatile size_t sink = 0;

	while (nv < 4 && b->values[nv]) {
		lens[nv] = strlen(b->values[nv]);
		nv++;
	}
	double t0 = now_ns();
	for (long i = 0; i < iters; i++) {
		size_t k = (size_t)i % nv;
		int rc;
		if (b->flags)
			rc = adp_phone_e164(b->values[k], lens[k], b->region, ADP_PHONE_SLOW_ONLY,
					    e164, &out_len, err, sizeof(err));
		else
			rc = adp_normalize(b->type, b->qual, b->values[k], lens[k], &opts, out,
					   &out_len, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "%s: \"%s\" refused: %s\n", b->name, b->values[k], err);
			exit(1);
		}
		sink += out_len;
	}
	double ns = (now_ns() - t0) / (double)iters;
	(void)sink;
	return ns;
}

static int run_bench(void)
{
	static const struct bench benches[] = {
		{ "phone (+E.164)", T_PHONE, NULL, "US",
		  { "+15550109999", "+442079460000", "+4930123456", "+33612345678" }, 0 },
		{ "phone (national)", T_PHONE, NULL, "US",
		  { "(555) 010-9999", "555-010-9998", "212 555 0100", "(415) 555-0132" }, 0 },
		{ "phone (libphonenumber)", T_PHONE, NULL, "US",
		  { "+15550109999", "(555) 010-9999", "+44 20 7946 0000", "+1 555 010 9999" }, 1 },
		{ "email", T_EMAIL, NULL, NULL,
		  { "Alice@EXAMPLE.com", "bob.smith+x@mail.example.org", "carol@example.net",
		    "dave@sub.example.co.uk" }, 0 },
		{ "email (IDN)", T_EMAIL, NULL, NULL, { "alice@bücher.example" }, 0 },
		{ "ip", T_IP, NULL, NULL,
		  { "192.0.2.1", "2001:db8::1", "::ffff:198.51.100.7", "203.0.113.200" }, 0 },
		{ "username", T_USERNAME, "twitter", NULL,
		  { "@Bob_99", "alice", "Some.User-1", "x_y_z" }, 0 },
		{ "username (Unicode)", T_USERNAME, "twitter", NULL, { "ｂｏｂ＿９９", "Straße" }, 0 },
		{ "url", T_URL, NULL, NULL,
		  { "http://example.com/a/b?c=d", "HTTPS://Example.COM:443/x/../y",
		    "https://sub.example.org/path/to/page.html", "http://192.0.2.1:8080/" }, 0 },
		{ "domain", T_DOMAIN, NULL, NULL,
		  { "Example.COM", "sub.example.org.", "a.b.c.example.net", "example.co.uk" }, 0 },
		{ "domain (IDN)", T_DOMAIN, NULL, NULL, { "bücher.example", "例え.テスト" }, 0 },
		{ "md5", T_MD5, NULL, NULL, { "D41D8CD98F00B204E9800998ECF8427E" }, 0 },
		{ "sha1", T_SHA1, NULL, NULL, { SHA1_EMPTY }, 0 },
		{ "sha256", T_SHA256, NULL, NULL, { SHA256_EMPTY }, 0 },
		{ "btc (base58)", T_BTC, NULL, NULL,
		  { BTC_P2PKH, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy" }, 0 },
		{ "btc (bech32)", T_BTC, NULL, NULL, { BTC_BECH32, BTC_TAPROOT }, 0 },
		{ "eth (EIP-55)", T_ETH, NULL, NULL, { "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" }, 0 },
		{ "eth (lower)", T_ETH, NULL, NULL, { "0xde709f2102306220921060314715629080e2fb77" }, 0 },
		{ "imei", T_IMEI, NULL, NULL, { "490154203237518", "35-693803-564380-9" }, 0 },
		{ "mac", T_MAC, NULL, NULL, { "AA:BB:CC:DD:EE:FF", "aabb.ccdd.eeff" }, 0 },
		{ "vehicle", T_VEHICLE, "US-CA", NULL, { "7ABC123", "7 abc-123" }, 0 },
	};

	if (adp_norm_init())
		return 1;
	printf("%-24s %10s   (median of 5 runs)\n", "type", "ns/op");
	for (size_t i = 0; i < N_OF(benches); i++) {
		double runs[5];
		long iters = benches[i].flags ? 20000 : 200000;
		bench_once(&benches[i], iters / 10); /* warm up */
		for (int r = 0; r < 5; r++)
			runs[r] = bench_once(&benches[i], iters);
		qsort(runs, 5, sizeof(runs[0]), cmp_double);
		printf("%-24s %10.0f\n", benches[i].name, runs[2]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_phone_fast_matches_slow),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_username),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_md5),
		cmocka_unit_test(test_sha1),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_btc),
		cmocka_unit_test(test_eth),
		cmocka_unit_test(test_keccak256),
		cmocka_unit_test(test_imei),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_vehicle),
		cmocka_unit_test(test_same_canonical),
		cmocka_unit_test(test_canonical_is_fixed_point),
		cmocka_unit_test(test_refused_for_every_type),
		cmocka_unit_test(test_errstr_does_not_echo),
		cmocka_unit_test(test_opts_check),
		cmocka_unit_test(test_threads),
	};

	if (argc > 1 && !strcmp(argv[1], "--bench"))
		return run_bench();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
