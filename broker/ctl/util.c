/* util.c — what every deconfctl command family uses: messages, options, parsers. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "deconf/util.h"

volatile int stop;

void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int fail(int rc, const char *fmt, ...)
{
	va_list ap;

	fputs("deconfctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return rc;
}

/* Bad usage: the reason and the command's synopsis; exit status 2. */
int usage_error(const char *synopsis, const char *fmt, ...)
{
	va_list ap;

	fputs("deconfctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: deconfctl %s\n(deconfctl --help: every command)\n", synopsis);
	return 2;
}

/* What getopt_long (optstring ":...", opterr 0) refused, as usage_error. */
int bad_option(int ch, char **argv, const char *synopsis)
{
	if (ch == ':')
		return usage_error(synopsis, "option '%s' needs a value", argv[optind - 1]);
	if (optopt)
		return usage_error(synopsis, "unknown option '-%c'", optopt);
	return usage_error(synopsis, "unknown option '%s'", argv[optind - 1]);
}

/* Start parsing a subcommand's argv (argv[0] is its name). */
void opt_reset(void)
{
	optind = 0; /* GNU getopt: start over, argv[0] skipped */
	opterr = 0;
}

/* A command without options: refuses any; its operands are then
 * argv[optind..argc). Returns 0 or 2 (said). */
int no_options(int argc, char **argv, const char *synopsis)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	int ch;

	opt_reset();
	if ((ch = getopt_long(argc, argv, ":", none, NULL)) != -1)
		return bad_option(ch, argv, synopsis);
	return 0;
}

/* "30d", "12h", "90m", "45s", "0": a duration in ms; -1 if malformed or
 * longer than ten years. */
int64_t parse_duration_ms(const char *s)
{
	static const struct {
		char unit;
		int64_t ms;
	} units[] = { { 'd', DAY_MS }, { 'h', 3600000 }, { 'm', 60000 }, { 's', 1000 } };
	char *end;
	long long v;

	if (!strcmp(s, "0"))
		return 0;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end[0] == '\0' || end[1] != '\0')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (*end == units[i].unit)
			return v <= 3650 * DAY_MS / units[i].ms ? v * units[i].ms : -1;
	return -1;
}

/* A whole number 1..max, or -1. */
int parse_count(const char *s, int max)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end || v < 1 || v > max ? -1 : (int)v;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

int remove_tree(const char *dir)
{
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) ? -1 : 0;
}

int write_text(const char *path, const char *text, mode_t mode)
{
	char errstr[512];

	if (deconf_file_write(path, text, strlen(text), mode, 1, errstr, sizeof(errstr)))
		return fail(1, "%s", errstr);
	return 0;
}
