/* text.c — partner text: checked on the way in, escaped on the way out. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/text.h"

/*
 * The valid UTF-8 sequence starting at s[0] (len > 0 bytes available): its
 * length 1..4 with its code point in *cp, or 0 when s[0] starts none (a
 * continuation byte, 0xc0, 0xc1, 0xf5..0xff, a sequence cut short, an
 * overlong form, a surrogate or a value past U+10FFFF). A caller that gets
 * 0 treats the one byte s[0] as invalid and looks again at s[1], so "each
 * byte of invalid UTF-8" is dealt with once.
 */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned c = s[0], n;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 1, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, v = c & 0x07;
	else
		return 0;
	if (len - 1 < n)
		return 0;
	for (unsigned k = 1; k <= n; k++) {
		unsigned b = s[k];

		if ((b & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (b & 0x3f);
	}
	/* 2-byte overlongs are excluded by the lead byte (0xc0, 0xc1) */
	if ((n == 2 && v < 0x800) || (n == 3 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n + 1;
}

static int is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

/*
 * Printable code points a terminal still must not get raw: the bidi
 * controls reorder what is shown around them (one name could make a
 * neighbouring field read backwards), and the line and paragraph
 * separators can start a new line in some renderers.
 */
static int is_layout_control(uint32_t cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0x2028 || cp == 0x2029;
}

int deconf_text_check(const void *s, size_t len, size_t max)
{
	const unsigned char *p = s;
	size_t i = 0;

	if (len > max)
		return DECONF_TEXT_TOO_LONG;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_seq(p + i, len - i, &cp);

		if (!n)
			return DECONF_TEXT_BAD_UTF8;
		if (is_control(cp))
			return DECONF_TEXT_CONTROL;
		i += n;
	}
	return DECONF_TEXT_OK;
}

const char *deconf_text_problem(int check_result)
{
	switch (check_result) {
	case DECONF_TEXT_TOO_LONG: return "is longer than the limit";
	case DECONF_TEXT_BAD_UTF8: return "is not valid UTF-8";
	case DECONF_TEXT_CONTROL: return "contains a control character";
	default: return "";
	}
}

char *deconf_text_for_terminal(char *out, size_t out_size, const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i = 0, o = 0, mark = 0;

	if (!out_size)
		return out;
	while (i < len) {
		char piece[16]; /* at most "\u{XXXX}" or 4 bytes of UTF-8 */
		size_t n, plen;
		uint32_t cp;

		if (!(n = utf8_seq(p + i, len - i, &cp))) {
			plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", p[i]);
			n = 1;
		} else if (n == 1 && is_control(cp)) {
			plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", (unsigned)cp);
		} else if (is_control(cp) || is_layout_control(cp)) {
			plen = (size_t)snprintf(piece, sizeof(piece), "\\u{%04X}", (unsigned)cp);
		} else {
			memcpy(piece, p + i, n);
			plen = n;
		}
		if (plen >= out_size - o) {
			/* Does not fit with its NUL: cut at the last character
			 * after which "..." and the NUL still fit. */
			o = mark;
			for (int k = 0; k < 3 && o + 1 < out_size; k++)
				out[o++] = '.';
			break;
		}
		memcpy(out + o, piece, plen);
		o += plen;
		i += n;
		if (o + 4 <= out_size)
			mark = o;
	}
	out[o] = '\0';
	return out;
}

char *deconf_text_utf8_dup(const void *s, size_t len)
{
	static const char fffd[3] = { (char)0xef, (char)0xbf, (char)0xbd };
	const unsigned char *p = s;
	size_t size = 1, i, o = 0;
	char *out;

	/* Measure first: the copy is exact, not three times the input. */
	for (i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_seq(p + i, len - i, &cp);

		if (!n || !cp) {
			if (size > SIZE_MAX - 3)
				return NULL;
			size += 3;
			i++;
		} else {
			size += n;
			i += n;
		}
	}
	if (!(out = malloc(size)))
		return NULL;
	for (i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_seq(p + i, len - i, &cp);

		if (!n || !cp) {
			memcpy(out + o, fffd, 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}
