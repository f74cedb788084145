/* test_text.c — partner text checks and escapes (proto/src/text.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/limits.h"
#include "deconf/text.h"

#define S(lit) (lit), (sizeof(lit) - 1) /* a literal and its length, NULs included */

/* The hostile point of contact: set the window title, clear the screen. */
static const char HOSTILE[] = "\x1b]0;owned\x07\x1b[2J";

/* Every encoding error class, each with bytes around it or alone. */
static const struct {
	const char *what, *s;
	size_t len;
} bad_utf8[] = {
	{ "overlong 2-byte NUL", S("\xc0\x80") },
	{ "overlong 2-byte '/'", S("a\xc0\xaf" "b") },
	{ "overlong 2-byte, 0xc1 lead", S("\xc1\xbf") },
	{ "overlong 3-byte NUL", S("\xe0\x80\x80") },
	{ "overlong 3-byte U+07FF", S("\xe0\x9f\xbf") },
	{ "overlong 4-byte NUL", S("\xf0\x80\x80\x80") },
	{ "overlong 4-byte U+FFFF", S("\xf0\x8f\xbf\xbf") },
	{ "surrogate U+D800", S("\xed\xa0\x80") },
	{ "surrogate U+DBFF", S("x\xed\xaf\xbfy") },
	{ "surrogate U+DC00", S("\xed\xb0\x80") },
	{ "surrogate U+DFFF", S("\xed\xbf\xbf") },
	{ "surrogate pair (CESU-8)", S("\xed\xa0\xbd\xed\xb2\xa9") },
	{ "U+110000", S("\xf4\x90\x80\x80") },
	{ "U+13FFFF", S("\xf4\xbf\xbf\xbf") },
	{ "5-byte form", S("\xf8\x88\x80\x80\x80") },
	{ "6-byte form", S("\xfc\x84\x80\x80\x80\x80") },
	{ "truncated 2-byte at end", S("abc\xc3") },
	{ "truncated 3-byte at end (1 of 2)", S("abc\xe2") },
	{ "truncated 3-byte at end (2 of 3)", S("abc\xe2\x82") },
	{ "truncated 4-byte at end (3 of 4)", S("abc\xf0\x9f\x98") },
	{ "truncated 3-byte, ASCII after", S("\xe2\x82" "A") },
	{ "continuation byte missing mid-sequence", S("\xe2\x28\xa1") },
	{ "lone continuation 0x80", S("\x80") },
	{ "lone continuation 0xbf", S("ab\xbf" "cd") },
	{ "continuation after a complete char", S("\xc3\xa9\xa9") },
	{ "0xc0 alone", S("\xc0") },
	{ "0xc1 alone", S("\xc1") },
	{ "0xfe 0xff", S("\xfe\xff") },
	{ "0xff 0xfe (the PoC of the report)", S("\xff\xfe") },
};

/* A strict UTF-8 check of our own for the properties below: the spec,
 * written the other way round (by ranges of the Unicode standard's table 3-7). */
static int ref_valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n;

		if (c <= 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c == 0xe0)
			n = 2, lo = 0xa0;
		else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
			n = 2;
		else if (c == 0xed)
			n = 2, hi = 0x9f;
		else if (c == 0xf0)
			n = 3, lo = 0x90;
		else if (c >= 0xf1 && c <= 0xf3)
			n = 3;
		else if (c == 0xf4)
			n = 3, hi = 0x8f;
		else
			return 0;
		if (len - i - 1 < n || s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		i += n + 1;
	}
	return 1;
}

static size_t encode(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Deterministic pseudo-random bytes (xorshift), biased towards the
 * interesting ones: high bytes, controls, lead bytes of long sequences. */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static size_t random_text(unsigned char *buf, size_t max)
{
	static const unsigned char pick[] = { 0x00, 0x07, 0x1b, 0x7f, 0x80, 0x9b, 0xbf, 0xc0,
					      0xc1, 0xc2, 0xe0, 0xe2, 0xed, 0xf0, 0xf4, 0xf5,
					      0xff, 'a', '\\', '[' };
	size_t len = rnd() % (max + 1);

	for (size_t i = 0; i < len; i++) {
		uint32_t r = rnd();
		if (r % 4 == 0 && i + 3 <= len) { /* a well-formed character now and then */
			unsigned char tmp[4];
			uint32_t cp = (r >> 8) % 0x110000;
			size_t n;
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0x202e;
			n = encode(cp, tmp);
			if (i + n <= len) {
				memcpy(buf + i, tmp, n);
				i += n - 1;
				continue;
			}
		}
		buf[i] = r % 3 ? pick[(r >> 8) % sizeof(pick)] : (unsigned char)(r >> 16);
	}
	return len;
}

/* Bytes as hex (for failure messages: a failing test must not drive the
 * terminal, and the escaping under test may be what is broken). */
static const char *hexed(char *buf, size_t size, const char *s)
{
	size_t len = strlen(s), o = 0;

	for (size_t i = 0; i < len && o + 3 < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%02x", (unsigned char)s[i]);
	buf[o] = '\0';
	return buf;
}

/* assert_string_equal, with the strings shown as hex when it fails */
#define assert_text_equal(got, want) text_equal((got), (want), __LINE__)

static void text_equal(const char *got, const char *want, int line)
{
	char g[1024], w[1024];

	if (!got)
		fail_msg("line %d: got NULL", line);
	if (strcmp(got, want))
		fail_msg("line %d: got %s, expected %s (hex)", line, hexed(g, sizeof(g), got),
			 hexed(w, sizeof(w), want));
}

/* ------------------------------------------------------------ checking */

static void test_check_valid(void **state)
{
	static const char *const ok[] = {
		"",
		"Det. Jane Doe",
		"+1 555 010 0000",
		"José Müller",                    /* 2-byte */
		"Polizei € Einheit",              /* 3-byte */
		"\xf0\x9d\x84\x9e clef",          /* U+1D11E, 4-byte */
		"\xc2\xa0",                       /* U+00A0, first after C1 */
		"\xed\x9f\xbf",                   /* U+D7FF, last before surrogates */
		"\xee\x80\x80",                   /* U+E000, first after */
		"\xef\xbf\xbd",                   /* U+FFFD */
		"\xef\xbf\xbf",                   /* U+FFFF (a noncharacter, still UTF-8) */
		"\xf4\x8f\xbf\xbf",               /* U+10FFFF, the last code point */
		"\xe2\x80\xae",                   /* U+202E: legal text, escaped on output */
		"~",                              /* 0x7e, last before DEL */
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (deconf_text_check(ok[i], strlen(ok[i]), 64) != DECONF_TEXT_OK)
			fail_msg("refused valid text #%zu", i);
	}
	assert_int_equal(deconf_text_check(NULL, 0, 0), DECONF_TEXT_OK);
}

static void test_check_bad_utf8(void **state)
{
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		int rc = deconf_text_check(bad_utf8[i].s, bad_utf8[i].len, 64);
		if (rc != DECONF_TEXT_BAD_UTF8)
			fail_msg("%s: %d, expected DECONF_TEXT_BAD_UTF8", bad_utf8[i].what, rc);
		/* the reference agrees the case is invalid */
		assert_false(ref_valid_utf8((const unsigned char *)bad_utf8[i].s, bad_utf8[i].len));
	}
	/* every byte that can never appear in UTF-8, alone and after text */
	for (unsigned b = 0xf5; b <= 0xff; b++) {
		unsigned char s[3] = { 'o', 'k', (unsigned char)b };
		assert_int_equal(deconf_text_check(s + 2, 1, 8), DECONF_TEXT_BAD_UTF8);
		assert_int_equal(deconf_text_check(s, 3, 8), DECONF_TEXT_BAD_UTF8);
	}
	for (unsigned b = 0x80; b <= 0xbf; b++) { /* every lone continuation byte */
		unsigned char s[1] = { (unsigned char)b };
		assert_int_equal(deconf_text_check(s, 1, 8), DECONF_TEXT_BAD_UTF8);
	}
}

/* Every code point, and every two-byte string, against the reference. */
static void test_check_exhaustive(void **state)
{
	unsigned char s[4];

	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		size_t n = encode(cp, s);
		int want = cp >= 0xd800 && cp <= 0xdfff ? DECONF_TEXT_BAD_UTF8
			   : cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)
				   ? DECONF_TEXT_CONTROL
				   : DECONF_TEXT_OK;
		if (deconf_text_check(s, n, 4) != want)
			fail_msg("U+%04X: %d, expected %d", cp, deconf_text_check(s, n, 4), want);
	}
	/* code points past U+10FFFF in the 4-byte form */
	for (uint32_t cp = 0x110000; cp <= 0x1fffff; cp += 0x111) {
		s[0] = (unsigned char)(0xf0 | cp >> 18);
		s[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		s[3] = (unsigned char)(0x80 | (cp & 0x3f));
		assert_int_equal(deconf_text_check(s, 4, 4), DECONF_TEXT_BAD_UTF8);
	}
	for (unsigned x = 0; x < 0x10000; x++) {
		int rc;
		s[0] = (unsigned char)(x >> 8);
		s[1] = (unsigned char)x;
		if (s[0] < 0x20 || s[0] == 0x7f)
			continue; /* a control first decides, whatever follows */
		rc = deconf_text_check(s, 2, 2);
		if ((rc != DECONF_TEXT_BAD_UTF8) != ref_valid_utf8(s, 2))
			fail_msg("%02x %02x: %d", s[0], s[1], rc);
	}
}

static void test_check_control(void **state)
{
	unsigned char s[3];

	for (unsigned c = 0; c < 0x20; c++) { /* C0, NUL included */
		s[0] = 'a';
		s[1] = (unsigned char)c;
		s[2] = 'b';
		assert_int_equal(deconf_text_check(s, 3, 8), DECONF_TEXT_CONTROL);
	}
	assert_int_equal(deconf_text_check(S("DEL\x7f"), 8), DECONF_TEXT_CONTROL);
	for (unsigned c = 0x80; c <= 0x9f; c++) { /* C1 as UTF-8 */
		s[0] = 0xc2;
		s[1] = (unsigned char)c;
		assert_int_equal(deconf_text_check(s, 2, 8), DECONF_TEXT_CONTROL);
	}
	/* an embedded NUL is not the end of the text */
	assert_int_equal(deconf_text_check(S("name\0\x1b[2J"), 16), DECONF_TEXT_CONTROL);
	assert_int_equal(deconf_text_check(S("\0"), 16), DECONF_TEXT_CONTROL);
	assert_int_equal(deconf_text_check(HOSTILE, strlen(HOSTILE), 64), DECONF_TEXT_CONTROL);
	/* the first problem in the text decides */
	assert_int_equal(deconf_text_check(S("\x01\xff"), 8), DECONF_TEXT_CONTROL);
	assert_int_equal(deconf_text_check(S("\xff\x01"), 8), DECONF_TEXT_BAD_UTF8);
}

static void test_check_limits(void **state)
{
	char buf[DECONF_POC_FIELD_MAX + 2];

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(deconf_text_check(buf, DECONF_POC_FIELD_MAX, DECONF_POC_FIELD_MAX),
			 DECONF_TEXT_OK);
	assert_int_equal(deconf_text_check(buf, DECONF_POC_FIELD_MAX + 1, DECONF_POC_FIELD_MAX),
			 DECONF_TEXT_TOO_LONG);
	/* bytes, not characters: 2 two-byte characters are 4 bytes */
	assert_int_equal(deconf_text_check(S("\xc3\xa9\xc3\xa9"), 4), DECONF_TEXT_OK);
	assert_int_equal(deconf_text_check(S("\xc3\xa9\xc3\xa9"), 3), DECONF_TEXT_TOO_LONG);
	/* the length is checked before the content */
	assert_int_equal(deconf_text_check(S("\xff\xff\xff"), 2), DECONF_TEXT_TOO_LONG);
	assert_int_equal(deconf_text_check(S("\xff\xff"), 2), DECONF_TEXT_BAD_UTF8);
	assert_int_equal(deconf_text_check(S(""), 0), DECONF_TEXT_OK);
	assert_int_equal(deconf_text_check(S("a"), 0), DECONF_TEXT_TOO_LONG);
}

static void test_problem(void **state)
{
	assert_text_equal(deconf_text_problem(DECONF_TEXT_OK), "");
	assert_text_equal(deconf_text_problem(DECONF_TEXT_TOO_LONG), "is longer than the limit");
	assert_text_equal(deconf_text_problem(DECONF_TEXT_BAD_UTF8), "is not valid UTF-8");
	assert_text_equal(deconf_text_problem(DECONF_TEXT_CONTROL),
			    "contains a control character");
	assert_text_equal(deconf_text_problem(42), "");
}

/* ------------------------------------------------------------ terminal */

/* No byte in s that a terminal would act on: C0, DEL, nor C1 (raw or as UTF-8). */
static void assert_terminal_safe(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	char hex[1024];

	hexed(hex, sizeof(hex), s);

	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			fail_msg("control byte 0x%02x at %zu of %s", p[i], i, hex);
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			fail_msg("C1 control at %zu of %s", i, hex);
	}
	/* what is left is valid UTF-8 without controls */
	assert_int_equal(deconf_text_check(s, len, SIZE_MAX), DECONF_TEXT_OK);
	/* and no bidi control survived */
	for (size_t i = 0; i + 2 < len; i++)
		if (p[i] == 0xe2 && ((p[i + 1] == 0x80 && (p[i + 2] == 0x8e || p[i + 2] == 0x8f ||
							 (p[i + 2] >= 0xaa && p[i + 2] <= 0xae))) ||
				     (p[i + 1] == 0x81 && p[i + 2] >= 0xa6 && p[i + 2] <= 0xa9)))
			fail_msg("bidi control at %zu of %s", i, hex);
}

static void test_terminal_hostile(void **state)
{
	char out[256];

	deconf_text_for_terminal(out, sizeof(out), HOSTILE, strlen(HOSTILE));
	assert_text_equal(out, "\\x1b]0;owned\\x07\\x1b[2J");
	assert_null(strchr(out, 0x1b));
	assert_null(strchr(out, 0x07));
	assert_terminal_safe(out);

	/* invalid UTF-8, byte by byte */
	assert_text_equal(deconf_text_for_terminal(out, sizeof(out), S("\xff\xfe")),
			    "\\xff\\xfe");
	assert_text_equal(deconf_text_for_terminal(out, sizeof(out), S("a\xc0\xaf" "b")),
			    "a\\xc0\\xafb");
	assert_text_equal(deconf_text_for_terminal(out, sizeof(out), S("\xed\xa0\x80")),
			    "\\xed\\xa0\\x80");
	assert_text_equal(deconf_text_for_terminal(out, sizeof(out), S("ok\xe2\x82")),
			    "ok\\xe2\\x82");
	/* C1 CSI (U+009B) starts an escape sequence on some terminals */
	assert_text_equal(deconf_text_for_terminal(out, sizeof(out), S("\xc2\x9b" "2J")),
			    "\\u{009B}2J");
	/* the raw 8-bit CSI byte is invalid UTF-8 */
	assert_text_equal(deconf_text_for_terminal(out, sizeof(out), S("\x9b" "2J")),
			    "\\x9b2J");
	/* C0 and DEL, NUL included: one line, nothing hidden */
	assert_text_equal(
		deconf_text_for_terminal(out, sizeof(out), S("a\0b\tc\r\nd\x7f" "e\x08")),
		"a\\x00b\\x09c\\x0d\\x0ad\\x7fe\\x08");
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		deconf_text_for_terminal(out, sizeof(out), bad_utf8[i].s, bad_utf8[i].len);
		assert_terminal_safe(out);
		assert_non_null(strstr(out, "\\x"));
	}
}

static void test_terminal_bidi(void **state)
{
	static const uint32_t bidi[] = { 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d,
					 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x061c,
					 0x2028, 0x2029 };
	/* neighbours that are ordinary text */
	static const uint32_t plain[] = { 0x200d, 0x2010, 0x2027, 0x202f, 0x2065, 0x206a,
					  0x061b, 0x00a0, 0x00e9 };
	unsigned char in[16];
	char out[64], want[64];

	for (size_t i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++) {
		size_t n = encode(bidi[i], in + 1);
		in[0] = 'x';
		in[n + 1] = 'y';
		deconf_text_for_terminal(out, sizeof(out), in, n + 2);
		snprintf(want, sizeof(want), "x\\u{%04X}y", bidi[i]);
		assert_text_equal(out, want);
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		size_t n = encode(plain[i], in);
		deconf_text_for_terminal(out, sizeof(out), in, n);
		assert_int_equal(strlen(out), n);
		assert_memory_equal(out, in, n);
	}
	/* "Trojan source": a name that reads as "evil" but is "live" reversed */
	assert_text_equal(
		deconf_text_for_terminal(out, sizeof(out), S("\xe2\x80\xae" "live\xe2\x80\xac")),
		"\\u{202E}live\\u{202C}");
	/* printable UTF-8 is left alone */
	assert_text_equal(deconf_text_for_terminal(out, sizeof(out), S("José Müller, 東京 €")),
			    "José Müller, 東京 €");
}

static void test_terminal_truncation(void **state)
{
	char out[64];

	/* exactly fits (3 characters and the NUL), then one more does not */
	assert_text_equal(deconf_text_for_terminal(out, 4, S("abc")), "abc");
	assert_text_equal(deconf_text_for_terminal(out, 4, S("abcd")), "...");
	assert_text_equal(deconf_text_for_terminal(out, 8, S("abcdefgh")), "abcd...");
	assert_text_equal(deconf_text_for_terminal(out, 9, S("abcdefgh")), "abcdefgh");
	/* an escape is never cut in half */
	assert_text_equal(deconf_text_for_terminal(out, 10, S("\x1b\x1b\x1b")), "\\x1b...");
	assert_text_equal(deconf_text_for_terminal(out, 13, S("\x1b\x1b\x1b")),
			    "\\x1b\\x1b\\x1b");
	assert_text_equal(deconf_text_for_terminal(out, 10, S("a\xe2\x80\xae")), "a\\u{202E}");
	assert_text_equal(deconf_text_for_terminal(out, 9, S("a\xe2\x80\xae")), "a...");
	/* nor a UTF-8 sequence */
	assert_text_equal(deconf_text_for_terminal(out, 8, S("ééééé")), "éé...");
	/* tiny buffers: still terminated, never overrun */
	memset(out, '#', sizeof(out));
	assert_text_equal(deconf_text_for_terminal(out, 1, S("abc")), "");
	assert_int_equal(out[1], '#');
	assert_text_equal(deconf_text_for_terminal(out, 2, S("abc")), ".");
	assert_int_equal(out[2], '#');
	assert_text_equal(deconf_text_for_terminal(out, 3, S("abcd")), "..");
	assert_int_equal(out[3], '#');
	out[0] = '#';
	deconf_text_for_terminal(out, 0, S("abc"));
	assert_int_equal(out[0], '#');
	assert_text_equal(deconf_text_for_terminal(out, sizeof(out), NULL, 0), "");
}

/* Random input: escaped output is safe, DECONF_TEXT_TERMINAL_SIZE never cuts,
 * and every smaller buffer gives a prefix of the full output plus "...". */
static void test_terminal_random(void **state)
{
	unsigned char in[96];
	char full[DECONF_TEXT_TERMINAL_SIZE(sizeof(in)) + 32], cut[sizeof(full)];

	for (int round = 0; round < 3000; round++) {
		size_t len = random_text(in, sizeof(in)), flen;

		deconf_text_for_terminal(full, sizeof(full), in, len);
		assert_terminal_safe(full);
		flen = strlen(full);
		deconf_text_for_terminal(cut, DECONF_TEXT_TERMINAL_SIZE(len), in, len);
		assert_text_equal(cut, full);
		for (size_t size = 1; size <= flen; size++) {
			size_t clen;
			deconf_text_for_terminal(cut, size, in, len);
			clen = strlen(cut);
			assert_true(clen < size);
			assert_terminal_safe(cut);
			if (size >= 4) {
				assert_true(clen >= 3);
				assert_memory_equal(cut + clen - 3, "...", 3);
				assert_memory_equal(cut, full, clen - 3);
			}
		}
	}
}

/* ---------------------------------------------------------------- JSON */

static void assert_dup(const char *in, size_t len, const char *want, size_t want_len)
{
	char *out = deconf_text_utf8_dup(in, len);

	assert_non_null(out);
	assert_int_equal(strlen(out), want_len);
	assert_memory_equal(out, want, want_len);
	free(out);
}

#define FFFD "\xef\xbf\xbd"

static void test_utf8_dup(void **state)
{
	/* valid text, controls included, comes back unchanged */
	assert_dup(S("José \xf0\x9d\x84\x9e \xe2\x80\xae"), S("José \xf0\x9d\x84\x9e \xe2\x80\xae"));
	assert_dup(HOSTILE, strlen(HOSTILE), HOSTILE, strlen(HOSTILE));
	assert_dup(S("\xc2\x9b"), S("\xc2\x9b"));
	assert_dup(S(""), S(""));
	assert_dup(NULL, 0, S(""));
	/* each byte of invalid UTF-8 is one U+FFFD */
	assert_dup(S("\xff\xfe"), S(FFFD FFFD));
	assert_dup(S("a\xc0\x80z"), S("a" FFFD FFFD "z"));
	assert_dup(S("\xed\xa0\x80"), S(FFFD FFFD FFFD));
	assert_dup(S("\xf4\x90\x80\x80"), S(FFFD FFFD FFFD FFFD));
	assert_dup(S("ok\xe2\x82"), S("ok" FFFD FFFD));
	assert_dup(S("\xe2\x82" "A"), S(FFFD FFFD "A"));
	assert_dup(S("\x80\xc3\xa9"), S(FFFD "\xc3\xa9"));
	/* NUL would cut the C string short: replaced too */
	assert_dup(S("a\0b"), S("a" FFFD "b"));
	assert_dup(S("\0\0"), S(FFFD FFFD));
}

/* What deconf_text_utf8_dup makes, jansson's strict UTF-8 check accepts;
 * what it was made from, jansson refuses (so the check can fail). */
static void test_utf8_dup_json(void **state)
{
	unsigned char in[128];
	int refused = 0;

	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		char *out = deconf_text_utf8_dup(bad_utf8[i].s, bad_utf8[i].len);
		json_t *j;

		assert_null(json_stringn(bad_utf8[i].s, bad_utf8[i].len));
		assert_non_null(out);
		if (!(j = json_stringn(out, strlen(out))))
			fail_msg("%s: jansson refuses the repaired text", bad_utf8[i].what);
		json_decref(j);
		free(out);
	}
	for (int round = 0; round < 20000; round++) {
		size_t len = random_text(in, sizeof(in));
		char *out = deconf_text_utf8_dup(in, len), *dump;
		json_t *j, *back;
		json_error_t err;

		assert_non_null(out);
		assert_true(deconf_text_check(out, strlen(out), SIZE_MAX) != DECONF_TEXT_BAD_UTF8);
		assert_true(ref_valid_utf8((unsigned char *)out, strlen(out)));
		if (!(j = json_stringn((const char *)in, len)))
			refused++;
		json_decref(j);
		assert_non_null(j = json_string(out));
		/* and it survives a round trip, ESC and all */
		assert_non_null(dump = json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII));
		assert_non_null(back = json_loads(dump, JSON_DECODE_ANY, &err));
		assert_text_equal(json_string_value(back), out);
		json_decref(back);
		free(dump);
		json_decref(j);
		free(out);
	}
	assert_true(refused > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_valid),
		cmocka_unit_test(test_check_bad_utf8),
		cmocka_unit_test(test_check_exhaustive),
		cmocka_unit_test(test_check_control),
		cmocka_unit_test(test_check_limits),
		cmocka_unit_test(test_problem),
		cmocka_unit_test(test_terminal_hostile),
		cmocka_unit_test(test_terminal_bidi),
		cmocka_unit_test(test_terminal_truncation),
		cmocka_unit_test(test_terminal_random),
		cmocka_unit_test(test_utf8_dup),
		cmocka_unit_test(test_utf8_dup_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
