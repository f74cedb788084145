/* intext.c — blanks, trimming, keywords and excerpts for the input readers. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "intext.h"

int adp_intext_is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void adp_intext_trim(const char **s, size_t *len)
{
	while (*len && (**s == ' ' || **s == '\t'))
		(*s)++, (*len)--;
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

int adp_intext_word_eq(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && !strncasecmp(s, w, len);
}

const char *adp_intext_shown(char *buf, size_t size, const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t o = 0;

	buf[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (o + 10 >= size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
