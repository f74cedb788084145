/*
 * test_version.c — deconf_version_line() and the --version (and --help) of
 * deconf-adapter and deconf-broker: both print exactly the library's line,
 * with the project version CMake was given, the commit when built from git,
 * and the wire version.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "deconf/envelope.h"
#include "deconf/version.h"

/* Runs cmd; its stdout (at most size-1 bytes) in out; returns its exit status
 * (-1 when it did not exit normally). */
static int run(const char *cmd, char *out, size_t size)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0, got;
	int st;

	assert_non_null(p);
	while (n + 1 < size && (got = fread(out + n, 1, size - 1 - n, p)) > 0)
		n += got;
	out[n] = '\0';
	while (fgetc(p) != EOF) /* drain, so the program never blocks on a full pipe */
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_line(void **state)
{
	char line[256], expect[256], wire[64];
	int n;

	(void)state;
	/* the version CMake's project() declares, in three numbers */
	assert_string_equal(DECONF_VERSION, PROJECT_VERSION_STR);
	snprintf(expect, sizeof(expect), "%d.%d.%d", DECONF_VERSION_MAJOR, DECONF_VERSION_MINOR,
		 DECONF_VERSION_PATCH);
	assert_string_equal(DECONF_VERSION, expect);

	n = deconf_version_line("deconf-x", line, sizeof(line));
	assert_int_equal(n, (int)strlen(line));
	snprintf(expect, sizeof(expect), "deconf-x %s (", DECONF_VERSION);
	assert_memory_equal(line, expect, strlen(expect));
	/* the wire: the protobuf package and the envelope version */
	snprintf(wire, sizeof(wire), "wire deconf.v1, envelope %d)", DECONF_ENVELOPE_VERSION);
	assert_non_null(strstr(line, wire));
	assert_string_equal(line + strlen(line) - strlen(wire), wire);
	assert_null(strchr(line, '\n'));
	if (DECONF_GIT_COMMIT[0]) {
		snprintf(expect, sizeof(expect), "(commit %s; wire", DECONF_GIT_COMMIT);
		assert_non_null(strstr(line, expect));
	} else {
		assert_null(strstr(line, "commit"));
	}

	/* no name: the project's */
	deconf_version_line(NULL, line, sizeof(line));
	snprintf(expect, sizeof(expect), "deconf %s (", DECONF_VERSION);
	assert_memory_equal(line, expect, strlen(expect));
	deconf_version_line("", line, sizeof(line));
	assert_memory_equal(line, expect, strlen(expect));
}

/* Built from a git checkout: the commit is known, as git describes it. */
static void test_commit(void **state)
{
	char path[512], out[128], cmd[1024];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/.git", SOURCE_DIR);
	if (stat(path, &st) != 0 || system("git --version >/dev/null 2>&1") != 0) {
		assert_string_equal(DECONF_GIT_COMMIT, ""); /* a tarball: none claimed */
		return;
	}
	assert_true(strlen(DECONF_GIT_COMMIT) >= 12);
	/* a commit of this repository (the hash part, before any "-dirty") */
	snprintf(cmd, sizeof(cmd), "git -C '%s' cat-file -t '%.*s' 2>&1", SOURCE_DIR,
		 (int)strspn(DECONF_GIT_COMMIT, "0123456789abcdef"), DECONF_GIT_COMMIT);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_string_equal(out, "commit\n");
}

/* Truncation as snprintf: NUL-terminated, the whole length returned. */
static void test_truncated(void **state)
{
	char full[256], small[8];
	int n;

	(void)state;
	n = deconf_version_line("deconf-broker", full, sizeof(full));
	memset(small, 'x', sizeof(small));
	assert_int_equal(deconf_version_line("deconf-broker", small, sizeof(small)), n);
	assert_string_equal(small, "deconf-");
	assert_int_equal(deconf_version_line("deconf-broker", NULL, 0), n);
}

/* Each program prints exactly the library's line, exits 0, and its --help
 * names --version. */
static void check_program(const char *bin, const char *name, const char *help_line)
{
	char cmd[1024], out[8192], expect[300];

	snprintf(cmd, sizeof(cmd), "'%s' --version 2>&1", bin);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	deconf_version_line(name, expect, sizeof(expect));
	strcat(expect, "\n");
	assert_string_equal(out, expect);

	/* whatever else is on the line: --version answers first */
	snprintf(cmd, sizeof(cmd), "'%s' --version --set log.level=debug 2>&1", bin);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_string_equal(out, expect);

	snprintf(cmd, sizeof(cmd), "'%s' --help 2>&1", bin);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	snprintf(expect, sizeof(expect), "usage: %s ", name);
	assert_memory_equal(out, expect, strlen(expect));
	assert_non_null(strstr(out, help_line));
}

static void test_adapter(void **state)
{
	(void)state;
	check_program(ADAPTER_BIN, "deconf-adapter", "\n      --version ");
}

static void test_broker(void **state)
{
	(void)state;
	check_program(BROKER_BIN, "deconf-broker", "\n      --version ");
}

/* deconfctl: --version, and the command version, print the same line */
static void test_ctl(void **state)
{
	char cmd[1024], out[8192], expect[300];

	(void)state;
	check_program(CTL_BIN, "deconfctl", "\n  --version ");
	snprintf(cmd, sizeof(cmd), "'%s' version 2>&1", CTL_BIN);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	deconf_version_line("deconfctl", expect, sizeof(expect));
	strcat(expect, "\n");
	assert_string_equal(out, expect);
	snprintf(cmd, sizeof(cmd), "'%s' version extra 2>&1", CTL_BIN);
	assert_int_equal(run(cmd, out, sizeof(out)), 2);
	/* --help-config lists its keys */
	snprintf(cmd, sizeof(cmd), "'%s' --help-config 2>&1", CTL_BIN);
	assert_int_equal(run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "federation.signing_key"));
	assert_non_null(strstr(out, "federation.public_key"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_commit),
		cmocka_unit_test(test_ctl),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_adapter),
		cmocka_unit_test(test_broker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
