/*
 * testdir.h — a temporary directory per test (cmocka setup/teardown) for
 * the unit tests that write files. Header-only: each test includes it once.
 *
 * Define TESTDIR_NAME (e.g. "sign") before including; the directory is
 * $TMPDIR/deconf-test-<name>-XXXXXX and is removed with everything in it.
 */
#ifndef DECONF_TESTDIR_H
#define DECONF_TESTDIR_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
	char dir[256];
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(f->dir, sizeof(f->dir), "%s/deconf-test-" TESTDIR_NAME "-XXXXXX",
			     tmp) >= sizeof(f->dir) ||
	    !mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* out = dir/name */
__attribute__((unused)) static void path_in(char *out, size_t size, const struct fixture *f, const char *name)
{
	int n = snprintf(out, size, "%s/%s", f->dir, name);

	assert_true(n > 0 && (size_t)n < size);
}

/* Create or replace path with exactly data and mode. */
__attribute__((unused)) static void write_file(const char *path, const void *data, size_t len,
						 mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* The whole file, NUL-terminated and malloc'ed; *len its size (len may be NULL). */
__attribute__((unused)) static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	if (len)
		*len = (size_t)n;
	return buf;
}

#endif
