/*
 * intext.h — the input readers' small text vocabulary: blanks, trimming,
 * keywords in any ASCII case, and the quoted excerpt that error messages
 * show of a key, a column name or a keyword.
 *
 * An excerpt is never made of an indicator value (it may be logged): the
 * callers pass names and keywords only.
 */
#ifndef ADP_INTEXT_H
#define ADP_INTEXT_H

#include <stddef.h>

/* Size of the buffer an excerpt is written to (it is cut with "..."). */
#define ADP_INTEXT_SHOWN 80

/* 1 for space, tab, CR and LF. */
int adp_intext_is_blank(unsigned char c);

/* Drop leading and trailing spaces and tabs from (*s, *len). */
void adp_intext_trim(const char **s, size_t *len);

/* 1 if s (len bytes) equals the lower-case word w, ignoring ASCII case. */
int adp_intext_word_eq(const char *s, size_t len, const char *w);

/*
 * s (len bytes) as a short quoted excerpt for a message, written to buf
 * (size bytes, at least 16): printable ASCII as is, '"' and '\' escaped,
 * the rest as \xNN, cut with "..." when long. Returns buf.
 */
const char *adp_intext_shown(char *buf, size_t size, const void *s, size_t len);

#endif
