/*
 * deconf/text.h — free text from partners: checked where it enters, escaped
 * where it leaves.
 *
 * Case references, points of contact and directory names are written by
 * agencies, and agencies are untrusted. Two rules, one module:
 *
 * - Where text enters (the adapter's input reader, the broker's ingest),
 *   deconf_text_check() refuses what is too long, what is not valid UTF-8
 *   and what holds a control character. It is the one definition of "valid
 *   text" both sides of the wire share.
 * - Where text leaves for a person or a program, it is escaped again, never
 *   trusted to have been checked: deconf_text_for_terminal() for a terminal
 *   (no byte of it can drive the terminal or reorder what is shown around
 *   it), deconf_text_utf8_dup() before a JSON encoder (which refuses
 *   invalid UTF-8 and would otherwise drop the field).
 *
 * Valid UTF-8 here is RFC 3629: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing past U+10FFFF. Control characters are C0
 * (U+0000..U+001F, NUL included), DEL (U+007F) and C1 (U+0080..U+009F).
 */
#ifndef DECONF_TEXT_H
#define DECONF_TEXT_H

#include <stddef.h>

enum {
	DECONF_TEXT_OK = 0,
	DECONF_TEXT_TOO_LONG = 1,  /* more than max bytes */
	DECONF_TEXT_BAD_UTF8 = 2,  /* not valid UTF-8 */
	DECONF_TEXT_CONTROL = 3,   /* a C0 (NUL included), DEL or C1 character */
};

/*
 * Check s[0..len): at most max bytes, valid UTF-8, no control character.
 * Returns one of DECONF_TEXT_*; when s has both an encoding error and a
 * control character, the one that comes first in s decides. s may be NULL
 * when len is 0.
 */
int deconf_text_check(const void *s, size_t len, size_t max);

/*
 * What a deconf_text_check() result means, to follow a field's name:
 * "is longer than the limit", "is not valid UTF-8", "contains a control
 * character"; "" for DECONF_TEXT_OK (and for an unknown value). Static.
 */
const char *deconf_text_problem(int check_result);

/*
 * An out_size for deconf_text_for_terminal() that never truncates len
 * bytes of input: no byte expands to more than 4 characters.
 */
#define DECONF_TEXT_TERMINAL_SIZE(len) (4 * (size_t)(len) + 1)

/*
 * s[0..len) made safe to print on a terminal, written into out (out_size
 * bytes). Shown as visible escapes:
 *   - each byte of invalid UTF-8, and each C0 control and DEL (ESC, BEL,
 *     CR, LF, TAB included), as \xNN;
 *   - each C1 control (U+0080..U+009F, which some terminals obey as 8-bit
 *     ESC sequences), and each Unicode bidi control (U+200E, U+200F,
 *     U+202A..U+202E, U+2066..U+2069, and also U+061C ARABIC LETTER MARK),
 *     and the line and paragraph separators U+2028, U+2029, as \u{XXXX}.
 * Everything else, printable non-ASCII included, is copied unchanged; a
 * backslash is not doubled, so escapes and literal text can look alike
 * (harmless: neither reaches the terminal as a control).
 *
 * out is always NUL-terminated when out_size > 0. When the escaped text
 * does not fit, it is cut between characters (never inside an escape or a
 * UTF-8 sequence) and "..." is appended, all within out_size (with
 * out_size < 4, as many dots as fit). Returns out.
 */
char *deconf_text_for_terminal(char *out, size_t out_size, const void *s, size_t len);

/*
 * s[0..len) as valid UTF-8 for a JSON encoder: a malloc'ed, NUL-terminated
 * copy (the caller frees it) in which each byte of invalid UTF-8, and each
 * NUL byte, is replaced by U+FFFD. Other control characters are kept: the
 * JSON encoder escapes them. The result always passes deconf_text_check()'s
 * encoding rules, so jansson's json_string() accepts it. s may be NULL when
 * len is 0. Returns NULL only when out of memory.
 */
char *deconf_text_utf8_dup(const void *s, size_t len);

#endif
