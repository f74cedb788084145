/* test_util.c — hex, bounded file reads, atomic writes, clocks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deconf/err.h"
#include "deconf/util.h"

/* ------------------------------------------------------------------- hex */

static void test_hex_encode(void **state)
{
	static const uint8_t in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(in) + 2];

	memset(out, '#', sizeof(out));
	assert_ptr_equal(deconf_hex_encode(out, in, sizeof(in)), out);
	assert_string_equal(out, "00017f80abff");
	assert_int_equal(out[2 * sizeof(in) + 1], '#');

	assert_string_equal(deconf_hex_encode(out, in, 0), "");
}

static void test_hex_round_trip(void **state)
{
	uint8_t in[256], back[256];
	char hex[2 * sizeof(in) + 1];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	deconf_hex_encode(hex, in, sizeof(in));
	assert_int_equal(strlen(hex), 2 * sizeof(in));
	memset(back, 0, sizeof(back));
	assert_int_equal(deconf_hex_decode(back, sizeof(back), hex, strlen(hex)), DECONF_OK);
	assert_memory_equal(in, back, sizeof(in));
}

static void test_hex_decode(void **state)
{
	uint8_t out[5];

	/* either case */
	memset(out, 0, sizeof(out));
	assert_int_equal(deconf_hex_decode(out, 4, "DeadBEEF", 8), DECONF_OK);
	assert_memory_equal(out, "\xde\xad\xbe\xef\0", 5);

	/* in_len must be exactly twice out_len */
	assert_int_equal(deconf_hex_decode(out, 4, "deadbee", 7), DECONF_E_MALFORMED);
	assert_int_equal(deconf_hex_decode(out, 4, "deadbeef00", 10), DECONF_E_MALFORMED);
	assert_int_equal(deconf_hex_decode(out, 3, "deadbeef", 8), DECONF_E_MALFORMED);
	assert_int_equal(deconf_hex_decode(out, 5, "deadbeef", 8), DECONF_E_MALFORMED);

	/* non-hex characters anywhere */
	assert_int_equal(deconf_hex_decode(out, 4, "deadbeeg", 8), DECONF_E_MALFORMED);
	assert_int_equal(deconf_hex_decode(out, 4, "0xdeadbe", 8), DECONF_E_MALFORMED);
	assert_int_equal(deconf_hex_decode(out, 4, " deadbee", 8), DECONF_E_MALFORMED);
	assert_int_equal(deconf_hex_decode(out, 4, "dead:eef", 8), DECONF_E_MALFORMED);
	assert_int_equal(deconf_hex_decode(out, 2, "a\0bc", 4), DECONF_E_MALFORMED);
	assert_int_equal(deconf_hex_decode(out, 1, "G0", 2), DECONF_E_MALFORMED);

	/* nothing from nothing */
	assert_int_equal(deconf_hex_decode(out, 0, "", 0), DECONF_OK);

	/* out_len bytes are written, not more */
	memset(out, 0x55, sizeof(out));
	assert_int_equal(deconf_hex_decode(out, 2, "0102", 4), DECONF_OK);
	assert_memory_equal(out, "\x01\x02\x55\x55\x55", 5);
}

/* ----------------------------------------------------------------- files */

struct tmp {
	char dir[64];
	char path[128];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_util.XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/file", t->dir);
	*state = t;
	return 0;
}

/* Fails the test if anything but `file` is left in the directory. */
static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	int rc;

	unlink(t->path);
	rc = rmdir(t->dir);
	free(t);
	return rc;
}

/* Entries in dir (without . and ..); with only set, each must be named only. */
static int dir_entries(const char *dir, const char *only)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (only)
			assert_string_equal(e->d_name, only);
		n++;
	}
	closedir(d);
	return n;
}

static void write_raw(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_write_mode_exact(void **state)
{
	struct tmp *t = *state;
	char errstr[256] = "", *data = NULL;
	size_t len = 0;
	struct stat st;
	mode_t old = umask(0);

	/* umask 0 must not widen a private file... */
	assert_int_equal(deconf_file_write(t->path, "secret", 6, 0600, 0, errstr,
					   sizeof(errstr)),
			 DECONF_OK);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(deconf_file_read(t->path, 100, 1, &data, &len, errstr,
					  sizeof(errstr)),
			 DECONF_OK);
	assert_int_equal(len, 6);
	assert_string_equal(data, "secret");
	free(data);

	/* ...and a strict umask must not narrow a public one */
	umask(077);
	assert_int_equal(deconf_file_write(t->path, "public", 6, 0644, 0, errstr,
					   sizeof(errstr)),
			 DECONF_OK);
	umask(old);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_size, 6);
	assert_int_equal(dir_entries(t->dir, "file"), 1);
}

static void test_write_replaces(void **state)
{
	struct tmp *t = *state;
	char errstr[256] = "", *data = NULL;
	size_t len;

	assert_int_equal(deconf_file_write(t->path, "a longer first version", 22, 0600, 0,
					   errstr, sizeof(errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_file_write(t->path, "v2", 2, 0600, 0, errstr, sizeof(errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_file_read(t->path, 1024, 0, &data, &len, errstr,
					  sizeof(errstr)),
			 DECONF_OK);
	assert_int_equal(len, 2);
	assert_string_equal(data, "v2");
	free(data);

	/* binary data with NUL bytes, and an empty file */
	assert_int_equal(deconf_file_write(t->path, "a\0b\0", 4, 0600, 0, errstr,
					   sizeof(errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_file_read(t->path, 4, 0, &data, &len, errstr, sizeof(errstr)),
			 DECONF_OK);
	assert_int_equal(len, 4);
	assert_memory_equal(data, "a\0b\0", 5);
	free(data);
	assert_int_equal(deconf_file_write(t->path, "", 0, 0600, 0, errstr, sizeof(errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_file_read(t->path, 0, 0, &data, NULL, errstr, sizeof(errstr)),
			 DECONF_OK);
	assert_string_equal(data, "");
	free(data);
	assert_int_equal(dir_entries(t->dir, "file"), 1);
}

static void test_write_exclusive(void **state)
{
	struct tmp *t = *state;
	char errstr[256] = "", *data = NULL;
	struct stat st;

	assert_int_equal(deconf_file_write(t->path, "original", 8, 0600, 1, errstr,
					   sizeof(errstr)),
			 DECONF_OK);
	errstr[0] = '\0';
	assert_int_equal(deconf_file_write(t->path, "intruder", 8, 0644, 1, errstr,
					   sizeof(errstr)),
			 DECONF_E_EXISTS);
	assert_non_null(strstr(errstr, t->path));
	assert_non_null(strstr(errstr, "already exists"));

	assert_int_equal(deconf_file_read(t->path, 100, 1, &data, NULL, errstr,
					  sizeof(errstr)),
			 DECONF_OK);
	assert_string_equal(data, "original");
	free(data);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* no temp file left behind, neither from success nor from refusal */
	assert_int_equal(dir_entries(t->dir, "file"), 1);

	/* a dangling symlink counts as "exists" too: never write through it */
	assert_int_equal(unlink(t->path), 0);
	assert_int_equal(symlink("/nonexistent/target", t->path), 0);
	assert_int_equal(deconf_file_write(t->path, "x", 1, 0600, 1, errstr,
					   sizeof(errstr)),
			 DECONF_E_EXISTS);
	assert_int_equal(dir_entries(t->dir, "file"), 1);
	assert_int_equal(lstat(t->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
}

static void test_write_fails_cleanly(void **state)
{
	struct tmp *t = *state;
	char errstr[256] = "", path[192];

	snprintf(path, sizeof(path), "%s/missing/file", t->dir);
	assert_int_equal(deconf_file_write(path, "x", 1, 0600, 0, errstr, sizeof(errstr)),
			 ENOENT);
	assert_non_null(strstr(errstr, path));
	assert_int_equal(dir_entries(t->dir, NULL), 0);

	/* the target is a directory: rename fails, the temp file is removed */
	assert_int_equal(mkdir(t->path, 0700), 0);
	assert_int_equal(deconf_file_write(t->path, "x", 1, 0600, 0, errstr, sizeof(errstr)),
			 EISDIR);
	assert_non_null(strstr(errstr, t->path));
	assert_int_equal(dir_entries(t->dir, "file"), 1);
	assert_int_equal(rmdir(t->path), 0);
}

static void test_read_max_size(void **state)
{
	struct tmp *t = *state;
	char errstr[256] = "", *data = (char *)"sentinel";
	char content[101];
	size_t len = 0;

	memset(content, 'z', 100);
	content[100] = '\0';
	write_raw(t->path, content, 0600);

	assert_int_equal(deconf_file_read(t->path, 99, 0, &data, &len, errstr, sizeof(errstr)),
			 DECONF_E_TOOBIG);
	assert_null(data);
	assert_non_null(strstr(errstr, t->path));
	assert_non_null(strstr(errstr, "100 bytes"));
	assert_non_null(strstr(errstr, "99"));

	assert_int_equal(deconf_file_read(t->path, 100, 0, &data, &len, errstr,
					  sizeof(errstr)),
			 DECONF_OK);
	assert_int_equal(len, 100);
	assert_int_equal(data[100], '\0');
	assert_string_equal(data, content);
	free(data);
}

static void test_read_private(void **state)
{
	struct tmp *t = *state;
	char errstr[256] = "", *data = NULL;
	static const mode_t bad[] = { 0644, 0640, 0604, 0620, 0602, 0610, 0601, 0666 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_raw(t->path, "key", bad[i]);
		errstr[0] = '\0';
		assert_int_equal(deconf_file_read(t->path, 100, 1, &data, NULL, errstr,
						  sizeof(errstr)),
				 DECONF_E_PERM);
		assert_null(data);
		assert_non_null(strstr(errstr, t->path));
		assert_non_null(strstr(errstr, "chmod 600"));
		/* without the private check the same file reads fine */
		assert_int_equal(deconf_file_read(t->path, 100, 0, &data, NULL, errstr,
						  sizeof(errstr)),
				 DECONF_OK);
		assert_string_equal(data, "key");
		free(data);
		data = NULL;
	}
	write_raw(t->path, "key", 0600);
	assert_int_equal(deconf_file_read(t->path, 100, 1, &data, NULL, errstr,
					  sizeof(errstr)),
			 DECONF_OK);
	free(data);
	write_raw(t->path, "key", 0400);
	assert_int_equal(deconf_file_read(t->path, 100, 1, &data, NULL, errstr,
					  sizeof(errstr)),
			 DECONF_OK);
	free(data);
}

static void test_read_missing_and_dir(void **state)
{
	struct tmp *t = *state;
	char errstr[256] = "", *data = (char *)"sentinel";

	assert_int_equal(deconf_file_read(t->path, 100, 0, &data, NULL, errstr,
					  sizeof(errstr)),
			 ENOENT);
	assert_null(data);
	assert_non_null(strstr(errstr, t->path));
	assert_non_null(strstr(errstr, strerror(ENOENT)));

	errstr[0] = '\0';
	assert_int_equal(deconf_file_read(t->dir, 1 << 20, 0, &data, NULL, errstr,
					  sizeof(errstr)),
			 DECONF_E_INVAL);
	assert_null(data);
	assert_non_null(strstr(errstr, t->dir));
	assert_non_null(strstr(errstr, "not a regular file"));

	/* a NULL errstr is fine */
	assert_int_equal(deconf_file_read(t->path, 100, 0, &data, NULL, NULL, 0), ENOENT);
}

/* ----------------------------------------------------------------- clocks */

static void test_clocks(void **state)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int64_t wall = deconf_now_ms(), sys = (int64_t)time(NULL) * 1000;
	int64_t m0, m1, prev;

	/* after 2020-01-01 and before 2100-01-01, and agrees with time() */
	assert_true(wall > INT64_C(1577836800000));
	assert_true(wall < INT64_C(4102444800000));
	assert_true(wall - sys > -2000 && wall - sys < 2000);

	m0 = deconf_mono_us();
	assert_true(m0 > 0);
	prev = m0;
	for (int i = 0; i < 1000; i++) {
		int64_t now = deconf_mono_us();
		assert_true(now >= prev);
		prev = now;
	}
	nanosleep(&pause, NULL);
	m1 = deconf_mono_us();
	assert_true(m1 - m0 >= 20000);
	assert_true(m1 - m0 < 10 * 1000 * 1000);
}

static void test_agency_id(void **state)
{
	static const char *const good[] = { "agency-a", "fbi", "tx-icac-2", "a1", "0a",
					    "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz" /* 63 */ };
	static const char *const bad[] = { "", "a", "-agency", "Agency", "agency_a", "agency.a",
					   "agency a", "agency/a", "a\xc3\xa9",
					   "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz0" /* 64 */ };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!deconf_agency_id_valid(good[i], strlen(good[i])))
			fail_msg("'%s' refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (deconf_agency_id_valid(bad[i], strlen(bad[i])))
			fail_msg("'%s' accepted", bad[i]);
	/* length is authoritative: an embedded NUL is not part of an id */
	assert_false(deconf_agency_id_valid("ab\0c", 4));
}

/* Ids a certificate could turn into a principal with more than an
 * agency's rights are reserved, in any case. */
static void test_agency_id_reserved(void **state)
{
	static const char *const reserved[] = {
		"deconf-broker", "admin", "ADMIN", "Admin", "anonymous", "ANONYMOUS", "AnonyMous",
		"deconf-anything", "DECONF-Broker", "deconf-", "kafka-connect", "KAFKA-X", "broker",
		"Broker", "controller", "deconfctl", "federation", "operator", "root", "ROOT",
		"deconf", "kafka",
	};
	static const char *const free_ids[] = {
		"agency-a", "fbi", "tx-icac-2", "brokers", "admins", "rooted", "root-cause",
		"deconfed", "kafkaesque", "my-deconf-broker", "x-admin", "fed", "op", "anon",
		"deconfctl2", "a-deconf-", "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!deconf_agency_id_reserved(reserved[i], strlen(reserved[i])))
			fail_msg("'%s' not reserved", reserved[i]);
	for (size_t i = 0; i < sizeof(free_ids) / sizeof(free_ids[0]); i++)
		if (deconf_agency_id_reserved(free_ids[i], strlen(free_ids[i])))
			fail_msg("'%s' reserved", free_ids[i]);
	/* the length is authoritative, both ways */
	assert_true(deconf_agency_id_reserved("adminx", 5));
	assert_false(deconf_agency_id_reserved("admin\0", 6));
	assert_false(deconf_agency_id_reserved("rooted", 3));
	assert_true(deconf_agency_id_reserved("rooted", 4));
	assert_false(deconf_agency_id_reserved(NULL, 0));
	/* bytes above ASCII never fold into a reserved name */
	assert_false(deconf_agency_id_reserved("\xc4\xb0" "dmin", 6));
}

/* Every super user of the test Kafka (deploy/kafka/kafka.sh) is a reserved
 * id: otherwise deconfctl could issue an agency a super user's certificate. */
static void test_super_users_reserved(void **state)
{
	char path[4096], *text = NULL, *p, *end;
	const char *slash = strrchr(__FILE__, '/');
	size_t len;
	int n = 0;

	(void)state;
	if (__FILE__[0] != '/' || !slash)
		skip(); /* not built from the source tree */
	snprintf(path, sizeof(path), "%.*s/../../deploy/kafka/kafka.sh", (int)(slash - __FILE__),
		 __FILE__);
	if (deconf_file_read(path, 1 << 20, 0, &text, &len, NULL, 0))
		skip();
	assert_non_null(p = strstr(text, "\nsuper.users="));
	p += strlen("\nsuper.users=");
	end = p + strcspn(p, "\n");
	while (p < end) {
		size_t l = strcspn(p, ";\n");
		assert_true(l > 5 && !strncmp(p, "User:", 5));
		if (!deconf_agency_id_reserved(p + 5, l - 5))
			fail_msg("super user '%.*s' of kafka.sh is not a reserved agency id", (int)l, p);
		n++;
		p += l + (p[l] == ';');
	}
	assert_true(n >= 2);
	free(text);
}

/* DECONF_GROW: first capacity, then doubling; elements kept. */
static void test_grow(void **state)
{
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;

	(void)state;
	for (uint32_t i = 0; i < 100; i++) {
		assert_int_equal(DECONF_GROW(v, n, cap, 8), 0);
		v[n++] = i;
		if (i == 0)
			assert_int_equal(cap, 8);
	}
	assert_int_equal(cap, 128);
	for (uint32_t i = 0; i < 100; i++)
		assert_int_equal(v[i], i);
	assert_int_equal(DECONF_GROW(v, n, cap, 8), 0); /* room: nothing changes */
	assert_int_equal(cap, 128);
	free(v);
}

/* DECONF_GROW_TO: a piece larger than twice the capacity fits at once;
 * a size that would overflow is refused and leaves the array alone. */
static void test_grow_to(void **state)
{
	char *b = NULL;
	size_t cap = 0;

	(void)state;
	assert_int_equal(DECONF_GROW_TO(b, 10, cap, 16), 0);
	assert_int_equal(cap, 16);
	memset(b, 'x', 16);
	assert_int_equal(DECONF_GROW_TO(b, 100, cap, 16), 0);
	assert_int_equal(cap, 128);
	assert_int_equal(b[15], 'x');
	assert_int_equal(DECONF_GROW_TO(b, 128, cap, 16), 0); /* room: nothing changes */
	assert_int_equal(cap, 128);
	assert_int_equal(DECONF_GROW_TO(b, SIZE_MAX, cap, 16), DECONF_E_NOMEM);
	assert_int_equal(cap, 128);
	assert_non_null(b);
	free(b);
}

/* deconf_hash_bytes: FNV-1a with its high bits folded in; the empty input
 * and one known value pin it, so a change of the function is seen. */
/* deconf_hash_keyed is SipHash-2-4: the reference vectors (key 00..0f,
 * message 00..len-1, from the authors' vectors.h), and another key gives
 * another hash. */
static void test_hash_keyed(void **state)
{
	static const uint64_t want[] = {
		UINT64_C(0x726fdb47dd0e0e31), UINT64_C(0x74f839c593dc67fd),
		UINT64_C(0x0d6c8009d9a94f5a), UINT64_C(0x85676696d7fb7e2d),
		UINT64_C(0xcf2794e0277187b7), UINT64_C(0x18765564cd99a68d),
		UINT64_C(0xcbc9466e58fee3ce), UINT64_C(0xab0200f58b01d137),
		UINT64_C(0x93f5f5799a932462), UINT64_C(0x9e0082df0ba9e4b0),
	};
	uint8_t key[16], msg[64], other[16];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		assert_true(deconf_hash_keyed(key, msg, n) == want[n]);
	assert_true(deconf_hash_keyed(key, msg, 15) == UINT64_C(0xa129ca6149be45e5));
	memcpy(other, key, 16);
	other[0] ^= 1;
	assert_true(deconf_hash_keyed(other, msg, 15) != deconf_hash_keyed(key, msg, 15));
}

static void test_hash_bytes(void **state)
{
	uint64_t fnv_a = UINT64_C(0xaf63dc4c8601ec8c); /* FNV-1a 64 of "a" */

	(void)state;
	assert_true(deconf_hash_bytes("", 0) ==
		    (UINT64_C(0xcbf29ce484222325) ^ (UINT64_C(0xcbf29ce484222325) >> 29)));
	assert_true(deconf_hash_bytes("a", 1) == (fnv_a ^ (fnv_a >> 29)));
	assert_true(deconf_hash_bytes("ab", 2) != deconf_hash_bytes("ba", 2));
	assert_true(deconf_hash_bytes("a\0b", 3) != deconf_hash_bytes("a", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_encode),
		cmocka_unit_test(test_hex_round_trip),
		cmocka_unit_test(test_hex_decode),
		cmocka_unit_test_setup_teardown(test_write_mode_exact, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_write_replaces, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_write_exclusive, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_write_fails_cleanly, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_read_max_size, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_read_private, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_read_missing_and_dir, tmp_setup,
						tmp_teardown),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_agency_id),
		cmocka_unit_test(test_agency_id_reserved),
		cmocka_unit_test(test_super_users_reserved),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_grow_to),
		cmocka_unit_test(test_hash_bytes),
		cmocka_unit_test(test_hash_keyed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
