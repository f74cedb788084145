/*
 * test_token.c — indicator tokens (checked against the openssl CLI's
 * HMAC-SHA256), type names, and the federation key file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "deconf/token.h"

/* ------------------------------------------------------------- helpers */

#define TESTDIR_NAME "token"
#include "testdir.h"

static mode_t file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void hex(char *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
	out[2 * len] = '\0';
}

/* A fixed key, different for each seed. */
static void fixed_key(uint8_t key[DECONF_KEY_LEN], unsigned seed)
{
	for (unsigned i = 0; i < DECONF_KEY_LEN; i++)
		key[i] = (uint8_t)(i * 7 + 3 + seed * 101);
}

static struct deconf_tokenizer *tokenizer(const struct deconf_keyring *ring,
					  uint32_t epoch)
{
	struct deconf_tokenizer *tk = NULL;

	assert_int_equal(deconf_tokenizer_new(&tk, ring, epoch), 0);
	assert_non_null(tk);
	assert_int_equal(deconf_tokenizer_epoch(tk), epoch);
	return tk;
}

static int token_eq(const uint8_t *a, const uint8_t *b)
{
	return !memcmp(a, b, DECONF_TOKEN_LEN);
}

/*
 * HMAC-SHA256 of "deconf:v1:" type ":" value under key, computed by the
 * openssl command-line tool from a file, as 64 hex digits.
 */
static void openssl_hmac(const struct fixture *f, const uint8_t key[DECONF_KEY_LEN],
			 const char *type, const uint8_t *value, size_t len, char out[65])
{
	char path[512], cmd[1024], key_hex[2 * DECONF_KEY_LEN + 1], line[256];
	size_t tlen = strlen(type), n = 0;
	uint8_t *msg = malloc(10 + tlen + 1 + len);
	FILE *p;

	assert_non_null(msg);
	memcpy(msg, "deconf:v1:", 10);
	n = 10;
	memcpy(msg + n, type, tlen);
	n += tlen;
	msg[n++] = ':';
	if (len)
		memcpy(msg + n, value, len);
	n += len;
	path_in(path, sizeof(path), f, "hmac-input");
	write_file(path, msg, n, 0600);
	free(msg);

	hex(key_hex, key, DECONF_KEY_LEN);
	snprintf(cmd, sizeof(cmd),
		 "openssl dgst -sha256 -r -mac HMAC -macopt hexkey:%s '%s' 2>/dev/null",
		 key_hex, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	for (int i = 0; i < 64; i++)
		assert_true(isxdigit((unsigned char)line[i]));
	assert_true(line[64] == ' ');
	memcpy(out, line, 64);
	out[64] = '\0';
	for (int i = 0; i < 64; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	unlink(path);
}

#define PHONE DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_PHONE
#define EMAIL DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EMAIL
#define IP DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP
#define USERNAME DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_USERNAME
#define URL DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_URL
#define MD5 DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MD5
#define MAC DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MAC
#define VEHICLE DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_VEHICLE

/* A string literal as (bytes, length), NULs inside included. */
#define LIT(s) (const uint8_t *)(s), sizeof(s) - 1

/* ---------------------------------------------------------------- tokens */

static void test_token_matches_openssl(void **state)
{
	struct fixture *f = *state;
	static uint8_t long_url[DECONF_CANONICAL_MAX];
	static const uint8_t ip4[] = { 10, 0, 0, 1 };
	static const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					 0,    0,    0,    0,    0, 0, 0, 1 };
	const struct {
		int type;
		const char *name;
		const uint8_t *value;
		size_t len;
	} vec[] = {
		{ PHONE, "phone", LIT("+15550109999") },
		{ EMAIL, "email", LIT("analyst@xn--bcher-kva.example") },
		/* UTF-8: "telegram:jürgen_ß€" */
		{ USERNAME, "username", LIT("telegram:j\xc3\xbcrgen_\xc3\x9f\xe2\x82\xac") },
		{ MD5, "md5", LIT("a") },
		{ MD5, "md5", LIT("") },
		{ URL, "url", long_url, sizeof(long_url) },
		/* binary with NUL bytes inside */
		{ IP, "ip", ip4, sizeof(ip4) },
		{ IP, "ip", ip6, sizeof(ip6) },
		{ MAC, "mac", LIT("aa:bb:cc:dd:ee:ff") },
		{ VEHICLE, "vehicle", LIT("CA:7ABC123") },
		/* a NUL inside a text value */
		{ VEHICLE, "vehicle", LIT("CA:7AB\0C123") },
	};
	struct deconf_keyring *ring = NULL;
	uint8_t key1[DECONF_KEY_LEN];
	uint32_t epoch2 = 0;

	memcpy(long_url, "https://example.org/", 20);
	for (size_t i = 20; i < sizeof(long_url); i++)
		long_url[i] = (uint8_t)('a' + i % 26);

	fixed_key(key1, 1);
	assert_int_equal(deconf_keyring_new(&ring), 0);
	assert_int_equal(deconf_keyring_add(ring, 1, key1, 1764300000), 0);
	assert_int_equal(deconf_keyring_rotate(ring, &epoch2), 0); /* a random key */
	assert_int_equal(epoch2, 2);

	for (uint32_t epoch = 1; epoch <= 2; epoch++) {
		struct deconf_tokenizer *tk = tokenizer(ring, epoch);
		const uint8_t *key = deconf_keyring_key(ring, epoch);

		assert_non_null(key);
		for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
			uint8_t tok[DECONF_TOKEN_LEN];
			char want[65], got[2 * DECONF_TOKEN_LEN + 1];

			assert_string_equal(deconf_indicator_type_name(vec[i].type), vec[i].name);
			assert_int_equal(deconf_token(tk, vec[i].type, vec[i].value, vec[i].len,
						      tok),
					 0);
			openssl_hmac(f, key, vec[i].name, vec[i].value, vec[i].len, want);
			hex(got, tok, sizeof(tok));
			if (strncmp(got, want, 2 * DECONF_TOKEN_LEN))
				fail_msg("epoch %u vector %zu (%s): deconf %s, openssl %.32s",
					 epoch, i, vec[i].name, got, want);
		}
		deconf_tokenizer_free(tk);
	}
	deconf_keyring_free(ring);
}

static void test_token_properties(void **state)
{
	struct deconf_keyring *ring = NULL;
	struct deconf_tokenizer *tk1, *tk1b, *tk2;
	uint8_t key[DECONF_KEY_LEN], a[DECONF_TOKEN_LEN], b[DECONF_TOKEN_LEN],
		c[DECONF_TOKEN_LEN];
	static const uint8_t v[] = "+15550109999";
	(void)state;

	assert_int_equal(deconf_keyring_new(&ring), 0);
	fixed_key(key, 1);
	assert_int_equal(deconf_keyring_add(ring, 1, key, 0), 0);
	fixed_key(key, 2);
	assert_int_equal(deconf_keyring_add(ring, 2, key, 0), 0);
	tk1 = tokenizer(ring, 1);
	tk1b = tokenizer(ring, 1);
	tk2 = tokenizer(ring, 2);

	/* Deterministic, and the tokenizer carries no state between calls. */
	assert_int_equal(deconf_token(tk1, PHONE, v, sizeof(v) - 1, a), 0);
	assert_int_equal(deconf_token(tk1, EMAIL, v, sizeof(v) - 1, c), 0);
	assert_int_equal(deconf_token(tk1, PHONE, v, sizeof(v) - 1, b), 0);
	assert_true(token_eq(a, b));
	assert_int_equal(deconf_token(tk1b, PHONE, v, sizeof(v) - 1, b), 0);
	assert_true(token_eq(a, b));

	/* Another epoch, another token. */
	assert_int_equal(deconf_token(tk2, PHONE, v, sizeof(v) - 1, b), 0);
	assert_false(token_eq(a, b));

	/* The type is hashed in: the same value as another type differs. */
	assert_false(token_eq(a, c));
	for (int t = 1; t <= 14; t++) {
		assert_int_equal(deconf_token(tk1, t, v, sizeof(v) - 1, b), 0);
		if (t != PHONE)
			assert_false(token_eq(a, b));
	}

	/* A value one byte shorter differs. */
	assert_int_equal(deconf_token(tk1, PHONE, v, sizeof(v) - 2, b), 0);
	assert_false(token_eq(a, b));

	deconf_tokenizer_free(tk1);
	deconf_tokenizer_free(tk1b);
	deconf_tokenizer_free(tk2);
	deconf_tokenizer_free(NULL);
	deconf_keyring_free(ring);
}

static void test_token_refuses(void **state)
{
	struct deconf_keyring *ring = NULL;
	struct deconf_tokenizer *tk;
	uint8_t key[DECONF_KEY_LEN], out[DECONF_TOKEN_LEN], before[DECONF_TOKEN_LEN];
	static uint8_t big[DECONF_CANONICAL_MAX + 1];
	static const int bad_types[] = { 0, 16, 99, -1, 1000 };
	(void)state;

	assert_int_equal(deconf_keyring_new(&ring), 0);
	fixed_key(key, 1);
	assert_int_equal(deconf_keyring_add(ring, 1, key, 0), 0);
	tk = tokenizer(ring, 1);
	memset(big, 'x', sizeof(big));

	memset(out, 0xa5, sizeof(out));
	memcpy(before, out, sizeof(out));
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		assert_int_equal(deconf_token(tk, bad_types[i], big, 4, out), DECONF_E_INVAL);
		assert_memory_equal(out, before, sizeof(out));
	}
	assert_int_equal(deconf_token(tk, URL, big, DECONF_CANONICAL_MAX + 1, out),
			 DECONF_E_INVAL);
	assert_int_equal(deconf_token(tk, URL, big, SIZE_MAX, out), DECONF_E_INVAL);
	assert_memory_equal(out, before, sizeof(out));
	/* The maximum itself is fine. */
	assert_int_equal(deconf_token(tk, URL, big, DECONF_CANONICAL_MAX, out), 0);
	assert_memory_not_equal(out, before, sizeof(out));

	deconf_tokenizer_free(tk);
	deconf_keyring_free(ring);
}

static void test_type_names(void **state)
{
	const ProtobufCEnumDescriptor *d = &deconf__v1__indicator_type__descriptor;
	static const char prefix[] = "INDICATOR_TYPE_";
	int seen = 0;
	(void)state;

	/* Every IndicatorType but UNSPECIFIED: its lower-cased proto name. */
	for (unsigned i = 0; i < d->n_values; i++) {
		const char *pname = d->values[i].name;
		int v = d->values[i].value;
		char want[64];
		size_t j;

		assert_int_equal(strncmp(pname, prefix, sizeof(prefix) - 1), 0);
		pname += sizeof(prefix) - 1;
		for (j = 0; pname[j] && j + 1 < sizeof(want); j++)
			want[j] = (char)tolower((unsigned char)pname[j]);
		want[j] = '\0';
		if (v == 0) {
			assert_null(deconf_indicator_type_name(0));
			assert_int_equal(deconf_indicator_type_parse(want), 0);
			continue;
		}
		assert_non_null(deconf_indicator_type_name(v));
		assert_string_equal(deconf_indicator_type_name(v), want);
		assert_int_equal(deconf_indicator_type_parse(want), v);
		assert_int_equal(deconf_indicator_type_parse(deconf_indicator_type_name(v)), v);
		seen++;
	}
	assert_int_equal(seen, 15);

	/* The documented list, in order. */
	{
		static const char *const names[] = { "phone", "email",  "ip",   "username",
						     "url",   "domain", "md5",  "sha1",
						     "sha256", "btc",   "eth",  "imei",
						     "mac",   "vehicle", "event_cell" };
		for (int t = 1; t <= 15; t++)
			assert_string_equal(deconf_indicator_type_name(t), names[t - 1]);
	}

	assert_null(deconf_indicator_type_name(-1));
	assert_null(deconf_indicator_type_name(16));
	assert_null(deconf_indicator_type_name(99));
	assert_int_equal(deconf_indicator_type_parse(""), 0);
	assert_int_equal(deconf_indicator_type_parse("PHONE"), 0);
	assert_int_equal(deconf_indicator_type_parse("phone "), 0);
	assert_int_equal(deconf_indicator_type_parse("unspecified"), 0);
	assert_int_equal(deconf_indicator_type_parse("sha"), 0);
}

/* --------------------------------------------------------------- keyring */

static void test_keyring_basics(void **state)
{
	struct deconf_keyring *ring = NULL;
	uint8_t key[DECONF_KEY_LEN], zero[DECONF_KEY_LEN] = { 0 };
	const uint8_t *k1, *k2;
	uint32_t epoch = 0;
	(void)state;

	assert_int_equal(deconf_keyring_new(&ring), 0);
	assert_int_equal(deconf_keyring_current(ring), 0);
	assert_int_equal(deconf_keyring_count(ring), 0);
	assert_null(deconf_keyring_key(ring, 1));

	assert_int_equal(deconf_keyring_rotate(ring, &epoch), 0);
	assert_int_equal(epoch, 1);
	assert_int_equal(deconf_keyring_rotate(ring, &epoch), 0);
	assert_int_equal(epoch, 2);
	assert_int_equal(deconf_keyring_current(ring), 2);
	assert_int_equal(deconf_keyring_count(ring), 2);
	k1 = deconf_keyring_key(ring, 1);
	k2 = deconf_keyring_key(ring, 2);
	assert_non_null(k1);
	assert_non_null(k2);
	assert_memory_not_equal(k1, k2, DECONF_KEY_LEN);
	assert_memory_not_equal(k1, zero, DECONF_KEY_LEN);
	assert_memory_not_equal(k2, zero, DECONF_KEY_LEN);
	assert_null(deconf_keyring_key(ring, 3));

	/* Adding: duplicate refused, 0 refused, order kept by epoch. */
	fixed_key(key, 9);
	assert_int_equal(deconf_keyring_add(ring, 2, key, 0), DECONF_E_EXISTS);
	assert_int_equal(deconf_keyring_add(ring, 0, key, 0), DECONF_E_INVAL);
	assert_int_equal(deconf_keyring_add(ring, 10, key, 5), 0);
	fixed_key(key, 5);
	assert_int_equal(deconf_keyring_add(ring, 5, key, 5), 0);
	assert_int_equal(deconf_keyring_count(ring), 4);
	assert_int_equal(deconf_keyring_current(ring), 10);
	assert_int_equal(deconf_keyring_epoch_at(ring, 0), 1);
	assert_int_equal(deconf_keyring_epoch_at(ring, 1), 2);
	assert_int_equal(deconf_keyring_epoch_at(ring, 2), 5);
	assert_int_equal(deconf_keyring_epoch_at(ring, 3), 10);
	assert_int_equal(deconf_keyring_epoch_at(ring, 4), 0);
	assert_memory_equal(deconf_keyring_key(ring, 5), key, DECONF_KEY_LEN);
	fixed_key(key, 9);
	assert_memory_equal(deconf_keyring_key(ring, 10), key, DECONF_KEY_LEN);

	/* Rotation continues from the highest epoch. */
	assert_int_equal(deconf_keyring_rotate(ring, &epoch), 0);
	assert_int_equal(epoch, 11);
	assert_int_equal(deconf_keyring_rotate(ring, NULL), 0);
	assert_int_equal(deconf_keyring_current(ring), 12);

	deconf_keyring_free(ring);
	deconf_keyring_free(NULL);
}

static void test_tokenizer_missing_epoch(void **state)
{
	struct deconf_keyring *ring = NULL;
	struct deconf_tokenizer *tk = (struct deconf_tokenizer *)1;
	uint8_t key[DECONF_KEY_LEN];
	(void)state;

	assert_int_equal(deconf_keyring_new(&ring), 0);
	assert_int_equal(deconf_tokenizer_new(&tk, ring, 1), DECONF_E_UNKNOWN);
	assert_null(tk);
	fixed_key(key, 1);
	assert_int_equal(deconf_keyring_add(ring, 1, key, 0), 0);
	assert_int_equal(deconf_keyring_add(ring, 3, key, 0), 0);
	tk = (struct deconf_tokenizer *)1;
	assert_int_equal(deconf_tokenizer_new(&tk, ring, 2), DECONF_E_UNKNOWN);
	assert_null(tk);
	assert_int_equal(deconf_tokenizer_new(&tk, ring, 0), DECONF_E_UNKNOWN);
	assert_int_equal(deconf_tokenizer_new(&tk, ring, 4), DECONF_E_UNKNOWN);
	assert_int_equal(deconf_tokenizer_new(&tk, ring, 3), 0);
	assert_int_equal(deconf_tokenizer_epoch(tk), 3);
	deconf_tokenizer_free(tk);
	deconf_keyring_free(ring);
}

static void test_keyring_save_mode_exclusive(void **state)
{
	struct fixture *f = *state;
	struct deconf_keyring *ring = NULL;
	char path[512], err[512] = "", *before, *after;
	mode_t old_umask;
	uint32_t epoch;

	assert_int_equal(deconf_keyring_new(&ring), 0);
	assert_int_equal(deconf_keyring_rotate(ring, &epoch), 0);
	path_in(path, sizeof(path), f, "federation.keys");

	old_umask = umask(0); /* 0600 must come from the code, not the umask */
	assert_int_equal(deconf_keyring_save(ring, path, 1, err, sizeof(err)), 0);
	umask(old_umask);
	assert_int_equal(file_mode(path), 0600);
	before = read_file(path, NULL);
	assert_non_null(strstr(before, "\ndeconf-keyring 1\nepoch 1 "));

	/* Exclusive: refuses, the file and the directory are left as they were. */
	assert_int_equal(deconf_keyring_rotate(ring, &epoch), 0);
	err[0] = '\0';
	assert_int_equal(deconf_keyring_save(ring, path, 1, err, sizeof(err)),
			 DECONF_E_EXISTS);
	assert_non_null(strstr(err, path));
	after = read_file(path, NULL);
	assert_string_equal(before, after);
	free(after);
	assert_int_equal(dir_entries(f->dir), 1);

	/* Not exclusive: replaces it, still 0600 even over a 0644 file. */
	assert_int_equal(chmod(path, 0644), 0);
	old_umask = umask(0);
	assert_int_equal(deconf_keyring_save(ring, path, 0, err, sizeof(err)), 0);
	umask(old_umask);
	assert_int_equal(file_mode(path), 0600);
	after = read_file(path, NULL);
	assert_string_not_equal(before, after);
	assert_non_null(strstr(after, "\nepoch 2 "));
	assert_int_equal(dir_entries(f->dir), 1);

	free(before);
	free(after);
	deconf_keyring_free(ring);
}

#define HEX1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX2 "F0E1D2C3B4A5968778695A4B3C2D1E0F00112233445566778899AABBCCDDEEFF"
#define HEX7 "7777777777777777777777777777777777777777777777777777777777777777"

static void test_keyring_load_roundtrip(void **state)
{
	struct fixture *f = *state;
	static const char file[] = "# deconf federation key file\n"
				   "\n"
				   "   # indented comment\n"
				   "deconf-keyring 1\r\n"
				   "epoch 2 " HEX2 " created 1772000000\n"
				   "\t epoch 1 " HEX1 " created 1764300000   \n"
				   "\n"
				   "epoch 7   " HEX7 "   created 5\n";
	struct deconf_keyring *ring = NULL, *again = NULL;
	struct deconf_tokenizer *tk, *tk2;
	char path[512], path2[512], err[512] = "", *saved;
	uint8_t key[DECONF_KEY_LEN], t1[DECONF_TOKEN_LEN], t2[DECONF_TOKEN_LEN];
	time_t t0, t_end;
	uint32_t epoch;

	path_in(path, sizeof(path), f, "in.keys");
	path_in(path2, sizeof(path2), f, "out.keys");
	write_file(path, file, sizeof(file) - 1, 0600);
	if (deconf_keyring_load(&ring, path, err, sizeof(err)))
		fail_msg("load: %s", err);
	assert_int_equal(deconf_keyring_count(ring), 3);
	assert_int_equal(deconf_keyring_current(ring), 7);
	assert_int_equal(deconf_keyring_epoch_at(ring, 0), 1);
	assert_int_equal(deconf_keyring_epoch_at(ring, 1), 2);
	assert_int_equal(deconf_keyring_epoch_at(ring, 2), 7);
	for (int i = 0; i < DECONF_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	assert_memory_equal(deconf_keyring_key(ring, 1), key, DECONF_KEY_LEN);
	assert_int_equal(deconf_keyring_key(ring, 2)[0], 0xf0);
	assert_int_equal(deconf_keyring_key(ring, 2)[31], 0xff);
	memset(key, 0x77, sizeof(key));
	assert_memory_equal(deconf_keyring_key(ring, 7), key, DECONF_KEY_LEN);

	/* Saved back: canonical lines, lower-case hex, the created times kept. */
	assert_int_equal(deconf_keyring_save(ring, path2, 1, err, sizeof(err)), 0);
	saved = read_file(path2, NULL);
	assert_true(saved[0] == '#');
	assert_non_null(strstr(saved, "\ndeconf-keyring 1\n"
				      "epoch 1 " HEX1 " created 1764300000\n"
				      "epoch 2 f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899"
				      "aabbccddeeff created 1772000000\n"
				      "epoch 7 " HEX7 " created 5\n"));
	free(saved);

	/* ... and loads to the same keys and the same tokens. */
	if (deconf_keyring_load(&again, path2, err, sizeof(err)))
		fail_msg("reload: %s", err);
	assert_int_equal(deconf_keyring_count(again), 3);
	for (size_t i = 0; i < 3; i++) {
		epoch = deconf_keyring_epoch_at(ring, i);
		assert_int_equal(deconf_keyring_epoch_at(again, i), epoch);
		assert_memory_equal(deconf_keyring_key(again, epoch),
				    deconf_keyring_key(ring, epoch), DECONF_KEY_LEN);
		tk = tokenizer(ring, epoch);
		tk2 = tokenizer(again, epoch);
		assert_int_equal(deconf_token(tk, PHONE, (const uint8_t *)"+15550109999", 12,
					      t1),
				 0);
		assert_int_equal(deconf_token(tk2, PHONE, (const uint8_t *)"+15550109999", 12,
					      t2),
				 0);
		assert_true(token_eq(t1, t2));
		deconf_tokenizer_free(tk);
		deconf_tokenizer_free(tk2);
	}

	/* A rotated epoch records when it was made. */
	t0 = time(NULL);
	assert_int_equal(deconf_keyring_rotate(again, &epoch), 0);
	t_end = time(NULL);
	assert_int_equal(epoch, 8);
	assert_int_equal(unlink(path2), 0);
	assert_int_equal(deconf_keyring_save(again, path2, 1, err, sizeof(err)), 0);
	saved = read_file(path2, NULL);
	{
		char *line = strstr(saved, "\nepoch 8 ");
		char key_hex[65];
		long long created = 0;

		assert_non_null(line);
		assert_int_equal(sscanf(line, "\nepoch 8 %64s created %lld", key_hex, &created),
				 2);
		assert_int_equal(strlen(key_hex), 64);
		/* time() may read a coarser clock: allow a second either side. */
		assert_true(created >= (long long)t0 - 1 && created <= (long long)t_end + 1);
	}
	free(saved);

	deconf_keyring_free(ring);
	deconf_keyring_free(again);
}

static void test_keyring_load_perm(void **state)
{
	struct fixture *f = *state;
	static const char file[] = "deconf-keyring 1\nepoch 1 " HEX1 " created 1\n";
	static const mode_t bad[] = { 0640, 0644, 0604, 0660, 0606, 0620, 0602 };
	struct deconf_keyring *ring;
	char path[512], err[512];

	path_in(path, sizeof(path), f, "k");
	write_file(path, file, sizeof(file) - 1, 0600);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(path, bad[i]), 0);
		ring = (struct deconf_keyring *)1;
		err[0] = '\0';
		assert_int_equal(deconf_keyring_load(&ring, path, err, sizeof(err)),
				 DECONF_E_PERM);
		assert_null(ring);
		assert_non_null(strstr(err, path));
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(deconf_keyring_load(&ring, path, err, sizeof(err)), 0);
	deconf_keyring_free(ring);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(deconf_keyring_load(&ring, path, err, sizeof(err)), 0);
	deconf_keyring_free(ring);
}

/* Load data as a 0600 key file; expect DECONF_E_MALFORMED at line (0: none). */
static void expect_malformed(const struct fixture *f, const char *data, size_t len,
			     int line, const char *why)
{
	struct deconf_keyring *ring = (struct deconf_keyring *)1;
	char path[512], err[512] = "", prefix[600];
	int rc;

	path_in(path, sizeof(path), f, "bad.keys");
	write_file(path, data, len, 0600);
	rc = deconf_keyring_load(&ring, path, err, sizeof(err));
	if (rc != DECONF_E_MALFORMED)
		fail_msg("%s: expected DECONF_E_MALFORMED, got %d (%s)", why, rc, err);
	assert_null(ring);
	if (line)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	if (strncmp(err, prefix, strlen(prefix)))
		fail_msg("%s: errstr \"%s\" does not start with \"%s\"", why, err, prefix);
}

#define MALFORMED(f, s, ln) expect_malformed(f, s, sizeof(s) - 1, ln, s)

static void test_keyring_malformed(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	struct deconf_keyring *ring = NULL;

	/* bad magic on line 1 after a comment line */
	MALFORMED(f, "# comment\nnot-a-keyring 1\nepoch 1 " HEX1 " created 1\n", 2);
	MALFORMED(f, "deconf-keyring 2\nepoch 1 " HEX1 " created 1\n", 1);
	/* an epoch line before the magic */
	MALFORMED(f, "# c\n\nepoch 1 " HEX1 " created 1\ndeconf-keyring 1\n", 3);
	/* short hex on line 4 */
	MALFORMED(f,
		  "# c\ndeconf-keyring 1\nepoch 1 " HEX1 " created 1\n"
		  "epoch 2 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e "
		  "created 2\n",
		  4);
	/* 65 and 66 hex digits, and a non-hex digit */
	MALFORMED(f, "deconf-keyring 1\nepoch 1 " HEX1 "0 created 1\n", 2);
	MALFORMED(f, "deconf-keyring 1\nepoch 1 " HEX1 "00 created 1\n", 2);
	MALFORMED(f,
		  "deconf-keyring 1\nepoch 1 "
		  "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f created 1\n",
		  2);
	/* duplicate epoch */
	MALFORMED(f,
		  "deconf-keyring 1\nepoch 1 " HEX1 " created 1\n\nepoch 1 " HEX7
		  " created 2\n",
		  4);
	/* epoch 0, negative, too big */
	MALFORMED(f, "# c\ndeconf-keyring 1\nepoch 0 " HEX1 " created 1\n", 3);
	MALFORMED(f, "deconf-keyring 1\nepoch -1 " HEX1 " created 1\n", 2);
	MALFORMED(f, "deconf-keyring 1\nepoch 4294967296 " HEX1 " created 1\n", 2);
	/* trailing junk, missing or bad created */
	MALFORMED(f, "deconf-keyring 1\nepoch 1 " HEX1 " created 1 junk\n", 2);
	MALFORMED(f, "deconf-keyring 1\nepoch 1 " HEX1 " created 1junk\n", 2);
	MALFORMED(f, "deconf-keyring 1\nepoch 1 " HEX1 "\n", 2);
	MALFORMED(f, "deconf-keyring 1\nepoch 1 " HEX1 " created soon\n", 2);
	MALFORMED(f, "deconf-keyring 1\nepoch 1 " HEX1 " made 1\n", 2);
	/* the magic twice, blank lines counted */
	MALFORMED(f, "deconf-keyring 1\ndeconf-keyring 1\n", 2);
	MALFORMED(f, "\n\n# c\n\ndeconf-keyring 1\n\n\nepoch x\n", 8);

	/* No line to blame: only the magic, only comments, empty. */
	MALFORMED(f, "deconf-keyring 1\n", 0);
	MALFORMED(f, "# comment\ndeconf-keyring 1\n# no epochs yet\n\n", 0);
	MALFORMED(f, "# only a comment\n", 0);
	MALFORMED(f, "", 0);

	/*
	 * A NUL byte must not hide the lines after it (it used to: this file
	 * loaded as epoch 1 only, silently dropping the current epoch 2).
	 */
	{
		static const char nul[] = "deconf-keyring 1\nepoch 1 " HEX1 " created 1\n"
					  "#\0 hidden\nepoch 2 " HEX7 " created 2\n";
		expect_malformed(f, nul, sizeof(nul) - 1, 3, "NUL byte");
	}

	/* Duplicate epoch: the reason is given. */
	{
		static const char dup[] = "deconf-keyring 1\nepoch 3 " HEX1 " created 1\n"
					  "epoch 3 " HEX1 " created 1\n";
		char path[512];

		path_in(path, sizeof(path), f, "dup.keys");
		write_file(path, dup, sizeof(dup) - 1, 0600);
		assert_int_equal(deconf_keyring_load(&ring, path, err, sizeof(err)),
				 DECONF_E_MALFORMED);
		assert_non_null(strstr(err, "twice"));
	}
}

static void test_keyring_load_missing(void **state)
{
	struct fixture *f = *state;
	struct deconf_keyring *ring = (struct deconf_keyring *)1;
	char path[512], err[512] = "";
	int rc;

	path_in(path, sizeof(path), f, "nope.keys");
	rc = deconf_keyring_load(&ring, path, err, sizeof(err));
	assert_true(rc > 0); /* an errno */
	assert_null(ring);
	assert_non_null(strstr(err, path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_matches_openssl, setup, teardown),
		cmocka_unit_test(test_token_properties),
		cmocka_unit_test(test_token_refuses),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_keyring_basics),
		cmocka_unit_test(test_tokenizer_missing_epoch),
		cmocka_unit_test_setup_teardown(test_keyring_save_mode_exclusive, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_keyring_load_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyring_load_perm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyring_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyring_load_missing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
