/*
 * test_sign.c — Ed25519 keys: generate, sign, verify, PEM files and their
 * permissions, and interoperability with the openssl command-line tool.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf/err.h"
#include "deconf/sign.h"

/* ------------------------------------------------------------- helpers */

#define TESTDIR_NAME "sign"
#include "testdir.h"

static mode_t file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Run a shell command; its exit status (-1 if it did not exit normally). */
static int run(const char *cmd)
{
	int st = system(cmd);

	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static struct deconf_sign_key *gen_key(void)
{
	struct deconf_sign_key *key = NULL;
	char err[256] = "";

	assert_int_equal(deconf_sign_key_generate(&key, err, sizeof(err)), 0);
	assert_non_null(key);
	return key;
}

static struct deconf_sign_key *load_key(const char *path)
{
	struct deconf_sign_key *key = NULL;
	char err[512] = "";
	int rc = deconf_sign_key_load(&key, path, err, sizeof(err));

	if (rc)
		fail_msg("loading %s: %d %s", path, rc, err);
	assert_non_null(key);
	return key;
}

static const uint8_t msg[] = "deconf test message: one signature per submission";

/* --------------------------------------------------------------- tests */

static void test_generate_sign_verify(void **state)
{
	struct deconf_sign_key *key = gen_key(), *key2 = gen_key();
	uint8_t sig[DECONF_SIG_LEN], sig2[DECONF_SIG_LEN], pub[DECONF_PUBKEY_LEN],
		pub2[DECONF_PUBKEY_LEN], zero[DECONF_PUBKEY_LEN] = { 0 };
	const uint8_t empty[1] = { 0 };
	(void)state;

	assert_int_equal(deconf_sign_key_is_private(key), 1);
	assert_int_equal(deconf_sign(key, msg, sizeof(msg), sig), 0);
	assert_int_equal(deconf_verify(key, msg, sizeof(msg), sig, sizeof(sig)), 0);

	/* Ed25519 is deterministic: the same message gives the same signature. */
	assert_int_equal(deconf_sign(key, msg, sizeof(msg), sig2), 0);
	assert_memory_equal(sig, sig2, sizeof(sig));

	/* An empty message can be signed and verified too. */
	assert_int_equal(deconf_sign(key, empty, 0, sig2), 0);
	assert_int_equal(deconf_verify(key, empty, 0, sig2, sizeof(sig2)), 0);
	assert_memory_not_equal(sig, sig2, sizeof(sig));
	assert_int_equal(deconf_verify(key, msg, sizeof(msg), sig2, sizeof(sig2)),
			 DECONF_E_BADSIG);

	/* Two fresh keys differ. */
	assert_int_equal(deconf_sign_key_public(key, pub), 0);
	assert_int_equal(deconf_sign_key_public(key2, pub2), 0);
	assert_memory_not_equal(pub, zero, sizeof(pub));
	assert_memory_not_equal(pub, pub2, sizeof(pub));

	deconf_sign_key_free(key);
	deconf_sign_key_free(key2);
	deconf_sign_key_free(NULL);
}

static void test_verify_other_key(void **state)
{
	struct deconf_sign_key *key = gen_key(), *other = gen_key();
	uint8_t sig[DECONF_SIG_LEN];
	(void)state;

	assert_int_equal(deconf_sign(key, msg, sizeof(msg), sig), 0);
	assert_int_equal(deconf_verify(other, msg, sizeof(msg), sig, sizeof(sig)),
			 DECONF_E_BADSIG);
	assert_int_equal(deconf_verify(key, msg, sizeof(msg), sig, sizeof(sig)), 0);
	deconf_sign_key_free(key);
	deconf_sign_key_free(other);
}

static void test_flipped_bits(void **state)
{
	struct deconf_sign_key *key = gen_key();
	uint8_t sig[DECONF_SIG_LEN], bad_sig[DECONF_SIG_LEN], bad_msg[sizeof(msg)];
	(void)state;

	assert_int_equal(deconf_sign(key, msg, sizeof(msg), sig), 0);
	for (size_t i = 0; i < 8 * sizeof(msg); i++) {
		memcpy(bad_msg, msg, sizeof(msg));
		bad_msg[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(deconf_verify(key, bad_msg, sizeof(bad_msg), sig, sizeof(sig)),
				 DECONF_E_BADSIG);
	}
	for (size_t i = 0; i < 8 * sizeof(sig); i++) {
		memcpy(bad_sig, sig, sizeof(sig));
		bad_sig[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(deconf_verify(key, msg, sizeof(msg), bad_sig, sizeof(bad_sig)),
				 DECONF_E_BADSIG);
	}
	/* A shortened message fails too. */
	assert_int_equal(deconf_verify(key, msg, sizeof(msg) - 1, sig, sizeof(sig)),
			 DECONF_E_BADSIG);
	/* The untouched pair still verifies. */
	assert_int_equal(deconf_verify(key, msg, sizeof(msg), sig, sizeof(sig)), 0);
	deconf_sign_key_free(key);
}

static void test_wrong_sig_length(void **state)
{
	struct deconf_sign_key *key = gen_key();
	uint8_t sig[DECONF_SIG_LEN + 1];
	(void)state;

	assert_int_equal(deconf_sign(key, msg, sizeof(msg), sig), 0);
	sig[DECONF_SIG_LEN] = 0;
	assert_int_equal(deconf_verify(key, msg, sizeof(msg), sig, DECONF_SIG_LEN), 0);
	/* The valid 64 bytes followed by one more, or missing the last one. */
	assert_int_equal(deconf_verify(key, msg, sizeof(msg), sig, DECONF_SIG_LEN + 1),
			 DECONF_E_BADSIG);
	assert_int_equal(deconf_verify(key, msg, sizeof(msg), sig, DECONF_SIG_LEN - 1),
			 DECONF_E_BADSIG);
	assert_int_equal(deconf_verify(key, msg, sizeof(msg), sig, 0), DECONF_E_BADSIG);
	assert_int_equal(deconf_verify(key, msg, sizeof(msg), sig, 32), DECONF_E_BADSIG);
	deconf_sign_key_free(key);
}

static void test_public_only_key(void **state)
{
	struct fixture *f = *state;
	struct deconf_sign_key *key = gen_key(), *pubkey = NULL;
	uint8_t raw[DECONF_PUBKEY_LEN], raw2[DECONF_PUBKEY_LEN], sig[DECONF_SIG_LEN],
		sig2[DECONF_SIG_LEN];
	char path[512], err[512] = "";

	assert_int_equal(deconf_sign_key_public(key, raw), 0);
	assert_int_equal(deconf_sign_key_from_public(&pubkey, raw), 0);
	assert_non_null(pubkey);
	assert_int_equal(deconf_sign_key_is_private(pubkey), 0);
	assert_int_equal(deconf_sign_key_public(pubkey, raw2), 0);
	assert_memory_equal(raw, raw2, sizeof(raw));

	assert_int_equal(deconf_sign(key, msg, sizeof(msg), sig), 0);
	assert_int_equal(deconf_verify(pubkey, msg, sizeof(msg), sig, sizeof(sig)), 0);
	sig[0] ^= 1;
	assert_int_equal(deconf_verify(pubkey, msg, sizeof(msg), sig, sizeof(sig)),
			 DECONF_E_BADSIG);

	/* It cannot sign, nor be saved as a private key. */
	assert_int_equal(deconf_sign(pubkey, msg, sizeof(msg), sig2), DECONF_E_INVAL);
	path_in(path, sizeof(path), f, "pub-only.key");
	assert_int_equal(deconf_sign_key_save_private(pubkey, path, err, sizeof(err)),
			 DECONF_E_INVAL);
	assert_true(err[0] != '\0');
	assert_int_equal(access(path, F_OK), -1);
	/* But it can be saved as a public key. */
	assert_int_equal(deconf_sign_key_save_public(pubkey, path, err, sizeof(err)), 0);
	deconf_sign_key_free(pubkey);
	pubkey = load_key(path);
	assert_int_equal(deconf_sign_key_public(pubkey, raw2), 0);
	assert_memory_equal(raw, raw2, sizeof(raw));

	deconf_sign_key_free(pubkey);
	deconf_sign_key_free(key);
}

static void test_save_private_mode_and_exclusive(void **state)
{
	struct fixture *f = *state;
	struct deconf_sign_key *key = gen_key(), *other = gen_key();
	char path[512], err[512] = "";
	uint8_t *before, *after;
	size_t before_len, after_len;
	mode_t old_umask = umask(0); /* 0600 must come from the code, not the umask */

	path_in(path, sizeof(path), f, "agency.key");
	assert_int_equal(deconf_sign_key_save_private(key, path, err, sizeof(err)), 0);
	umask(old_umask);
	assert_int_equal(file_mode(path), 0600);
	before = (uint8_t *)read_file(path, &before_len);
	assert_non_null(strstr((char *)before, "-----BEGIN PRIVATE KEY-----"));

	/* A second save (even of another key) refuses and leaves the file alone. */
	err[0] = '\0';
	assert_int_equal(deconf_sign_key_save_private(other, path, err, sizeof(err)),
			 DECONF_E_EXISTS);
	assert_non_null(strstr(err, path));
	after = (uint8_t *)read_file(path, &after_len);
	assert_int_equal(before_len, after_len);
	assert_memory_equal(before, after, before_len);
	assert_int_equal(file_mode(path), 0600);

	free(before);
	free(after);
	deconf_sign_key_free(key);
	deconf_sign_key_free(other);
}

static void test_save_public(void **state)
{
	struct fixture *f = *state;
	struct deconf_sign_key *key = gen_key(), *other = gen_key(), *loaded;
	uint8_t raw[DECONF_PUBKEY_LEN], raw2[DECONF_PUBKEY_LEN], *pem;
	char path[512], err[512] = "";
	size_t len;
	mode_t old_umask = umask(077);

	path_in(path, sizeof(path), f, "agency.pub");
	assert_int_equal(deconf_sign_key_save_public(key, path, err, sizeof(err)), 0);
	umask(old_umask);
	assert_int_equal(file_mode(path), 0644);
	pem = (uint8_t *)read_file(path, &len);
	assert_non_null(strstr((char *)pem, "-----BEGIN PUBLIC KEY-----"));
	assert_null(strstr((char *)pem, "PRIVATE"));
	free(pem);

	loaded = load_key(path);
	assert_int_equal(deconf_sign_key_is_private(loaded), 0);
	assert_int_equal(deconf_sign_key_public(key, raw), 0);
	assert_int_equal(deconf_sign_key_public(loaded, raw2), 0);
	assert_memory_equal(raw, raw2, sizeof(raw));
	deconf_sign_key_free(loaded);

	/* Public keys are not exclusive: saving again replaces the file. */
	assert_int_equal(deconf_sign_key_save_public(other, path, err, sizeof(err)), 0);
	loaded = load_key(path);
	assert_int_equal(deconf_sign_key_public(other, raw), 0);
	assert_int_equal(deconf_sign_key_public(loaded, raw2), 0);
	assert_memory_equal(raw, raw2, sizeof(raw));

	deconf_sign_key_free(loaded);
	deconf_sign_key_free(key);
	deconf_sign_key_free(other);
}

static void test_load_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct deconf_sign_key *key = gen_key(), *priv, *pub;
	uint8_t raw[DECONF_PUBKEY_LEN], raw_priv[DECONF_PUBKEY_LEN],
		raw_pub[DECONF_PUBKEY_LEN], sig[DECONF_SIG_LEN], sig2[DECONF_SIG_LEN];
	char ppath[512], kpath[512], err[512] = "";

	path_in(kpath, sizeof(kpath), f, "a.key");
	path_in(ppath, sizeof(ppath), f, "a.pub");
	assert_int_equal(deconf_sign_key_save_private(key, kpath, err, sizeof(err)), 0);
	assert_int_equal(deconf_sign_key_save_public(key, ppath, err, sizeof(err)), 0);

	priv = load_key(kpath);
	pub = load_key(ppath);
	assert_int_equal(deconf_sign_key_is_private(priv), 1);
	assert_int_equal(deconf_sign_key_is_private(pub), 0);

	assert_int_equal(deconf_sign_key_public(key, raw), 0);
	assert_int_equal(deconf_sign_key_public(priv, raw_priv), 0);
	assert_int_equal(deconf_sign_key_public(pub, raw_pub), 0);
	assert_memory_equal(raw, raw_priv, sizeof(raw));
	assert_memory_equal(raw, raw_pub, sizeof(raw));

	/* Same private key, same (deterministic) signature. */
	assert_int_equal(deconf_sign(key, msg, sizeof(msg), sig), 0);
	assert_int_equal(deconf_sign(priv, msg, sizeof(msg), sig2), 0);
	assert_memory_equal(sig, sig2, sizeof(sig));
	assert_int_equal(deconf_verify(pub, msg, sizeof(msg), sig, sizeof(sig)), 0);
	assert_int_equal(deconf_verify(priv, msg, sizeof(msg), sig, sizeof(sig)), 0);
	assert_int_equal(deconf_sign(pub, msg, sizeof(msg), sig2), DECONF_E_INVAL);

	deconf_sign_key_free(key);
	deconf_sign_key_free(priv);
	deconf_sign_key_free(pub);
}

static void test_load_private_perm(void **state)
{
	struct fixture *f = *state;
	struct deconf_sign_key *key = gen_key(), *loaded = NULL;
	char path[512], err[512] = "";
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0606, 0700 | 0004 };

	path_in(path, sizeof(path), f, "a.key");
	assert_int_equal(deconf_sign_key_save_private(key, path, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(path, bad[i]), 0);
		err[0] = '\0';
		loaded = (struct deconf_sign_key *)1;
		assert_int_equal(deconf_sign_key_load(&loaded, path, err, sizeof(err)),
				 DECONF_E_PERM);
		assert_null(loaded);
		assert_non_null(strstr(err, path));
	}
	/* Owner-only modes are fine. */
	assert_int_equal(chmod(path, 0400), 0);
	deconf_sign_key_free(load_key(path));
	assert_int_equal(chmod(path, 0600), 0);
	deconf_sign_key_free(load_key(path));
	deconf_sign_key_free(key);
}

/* Load path and expect DECONF_E_MALFORMED. */
static void expect_malformed(const char *path)
{
	struct deconf_sign_key *key = (struct deconf_sign_key *)1;
	char err[512] = "";
	int rc = deconf_sign_key_load(&key, path, err, sizeof(err));

	if (rc != DECONF_E_MALFORMED)
		fail_msg("%s: expected DECONF_E_MALFORMED, got %d (%s)", path, rc, err);
	assert_null(key);
	assert_non_null(strstr(err, path));
}

static void test_load_malformed(void **state)
{
	struct fixture *f = *state;
	struct deconf_sign_key *key = gen_key(), *loaded = NULL;
	static const char garbage[] = "this is not a key\n\x01\x02\x03\xff\n";
	static const char fake_pub[] = "-----BEGIN PUBLIC KEY-----\nAAAA!!!!\n"
				       "-----END PUBLIC KEY-----\n";
	static const char fake_priv[] = "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n"
					"-----END PRIVATE KEY-----\n";
	char path[512], cmd[2048], err[512] = "";
	uint8_t *pem;
	size_t len;

	path_in(path, sizeof(path), f, "garbage");
	write_file(path, garbage, sizeof(garbage) - 1, 0600);
	expect_malformed(path);
	assert_int_equal(chmod(path, 0644), 0); /* public-looking: no mode check */
	expect_malformed(path);

	path_in(path, sizeof(path), f, "empty");
	write_file(path, "", 0, 0600);
	expect_malformed(path);

	path_in(path, sizeof(path), f, "fake.pub");
	write_file(path, fake_pub, sizeof(fake_pub) - 1, 0644);
	expect_malformed(path);
	path_in(path, sizeof(path), f, "fake.key");
	write_file(path, fake_priv, sizeof(fake_priv) - 1, 0600);
	expect_malformed(path);

	/* A real Ed25519 PEM cut in half. */
	path_in(path, sizeof(path), f, "cut.key");
	assert_int_equal(deconf_sign_key_save_private(key, path, err, sizeof(err)), 0);
	pem = (uint8_t *)read_file(path, &len);
	assert_int_equal(unlink(path), 0);
	write_file(path, pem, len / 2, 0600);
	free(pem);
	expect_malformed(path);

	/* Keys of other algorithms, private and public, made by openssl. */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 "
		 "-out rsa.key 2>/dev/null && openssl pkey -in rsa.key -pubout -out rsa.pub "
		 "2>/dev/null && openssl genpkey -algorithm EC -pkeyopt "
		 "ec_paramgen_curve:P-256 -out ec.key 2>/dev/null && openssl pkey -in "
		 "ec.key -pubout -out ec.pub 2>/dev/null && openssl genpkey -algorithm "
		 "X25519 -out x25519.key 2>/dev/null && chmod 600 rsa.key ec.key x25519.key",
		 f->dir);
	assert_int_equal(run(cmd), 0);
	path_in(path, sizeof(path), f, "rsa.key");
	expect_malformed(path);
	path_in(path, sizeof(path), f, "rsa.pub");
	expect_malformed(path);
	path_in(path, sizeof(path), f, "ec.key");
	expect_malformed(path);
	path_in(path, sizeof(path), f, "ec.pub");
	expect_malformed(path);
	path_in(path, sizeof(path), f, "x25519.key");
	expect_malformed(path);

	/* A missing file is an errno. */
	path_in(path, sizeof(path), f, "missing.key");
	assert_int_equal(deconf_sign_key_load(&loaded, path, err, sizeof(err)), ENOENT);
	assert_null(loaded);
	deconf_sign_key_free(key);
}

static void test_openssl_verifies_deconf(void **state)
{
	struct fixture *f = *state;
	struct deconf_sign_key *key = gen_key();
	uint8_t big[1000], sig[DECONF_SIG_LEN];
	char mpath[512], ppath[512], spath[512], kpath[512], cmd[4096], err[512] = "";

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31 + 7); /* includes NUL bytes */
	path_in(mpath, sizeof(mpath), f, "msg");
	path_in(ppath, sizeof(ppath), f, "deconf.pub");
	path_in(kpath, sizeof(kpath), f, "deconf.key");
	path_in(spath, sizeof(spath), f, "sig");
	write_file(mpath, big, sizeof(big), 0600);
	assert_int_equal(deconf_sign_key_save_public(key, ppath, err, sizeof(err)), 0);
	assert_int_equal(deconf_sign_key_save_private(key, kpath, err, sizeof(err)), 0);

	assert_int_equal(deconf_sign(key, big, sizeof(big), sig), 0);
	write_file(spath, sig, sizeof(sig), 0600);
	snprintf(cmd, sizeof(cmd),
		 "openssl pkeyutl -verify -pubin -inkey '%s' -rawin -in '%s' -sigfile '%s' "
		 ">/dev/null 2>&1",
		 ppath, mpath, spath);
	assert_int_equal(run(cmd), 0);

	/* The CLI check can fail: a damaged signature is refused by openssl too. */
	sig[10] ^= 0x20;
	assert_int_equal(unlink(spath), 0);
	write_file(spath, sig, sizeof(sig), 0600);
	assert_int_not_equal(run(cmd), 0);

	/* openssl reads the PKCS#8 private key deconf wrote and signs the same. */
	sig[10] ^= 0x20;
	snprintf(cmd, sizeof(cmd),
		 "openssl pkeyutl -sign -inkey '%s' -rawin -in '%s' -out '%s.ossl' "
		 ">/dev/null 2>&1",
		 kpath, mpath, spath);
	assert_int_equal(run(cmd), 0);
	{
		char opath[600];
		uint8_t *osig;
		size_t olen;

		snprintf(opath, sizeof(opath), "%s.ossl", spath);
		osig = (uint8_t *)read_file(opath, &olen);
		assert_int_equal(olen, DECONF_SIG_LEN);
		assert_memory_equal(osig, sig, DECONF_SIG_LEN);
		free(osig);
	}
	deconf_sign_key_free(key);
}

static void test_deconf_verifies_openssl(void **state)
{
	struct fixture *f = *state;
	struct deconf_sign_key *priv, *pub, *raw_pub = NULL;
	uint8_t *sig, big[777], mysig[DECONF_SIG_LEN], raw[DECONF_PUBKEY_LEN],
		raw2[DECONF_PUBKEY_LEN];
	char mpath[512], cmd[4096];
	size_t sig_len;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	path_in(mpath, sizeof(mpath), f, "msg");
	write_file(mpath, big, sizeof(big), 0600);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && umask 077 && openssl genpkey -algorithm ed25519 -out o.key "
		 "2>/dev/null && chmod 600 o.key && openssl pkey -in o.key -pubout -out o.pub "
		 "2>/dev/null && openssl pkeyutl -sign -inkey o.key -rawin -in msg -out o.sig "
		 ">/dev/null 2>&1",
		 f->dir);
	assert_int_equal(run(cmd), 0);

	{
		char kpath[512], ppath[512], spath[512];

		path_in(kpath, sizeof(kpath), f, "o.key");
		path_in(ppath, sizeof(ppath), f, "o.pub");
		path_in(spath, sizeof(spath), f, "o.sig");
		priv = load_key(kpath);
		pub = load_key(ppath);
		sig = (uint8_t *)read_file(spath, &sig_len);
	}
	assert_int_equal(sig_len, DECONF_SIG_LEN);
	assert_int_equal(deconf_sign_key_is_private(priv), 1);
	assert_int_equal(deconf_sign_key_is_private(pub), 0);

	assert_int_equal(deconf_verify(pub, big, sizeof(big), sig, sig_len), 0);
	assert_int_equal(deconf_verify(priv, big, sizeof(big), sig, sig_len), 0);
	/* ... and through the raw 32 bytes a DirectoryEntry would carry. */
	assert_int_equal(deconf_sign_key_public(pub, raw), 0);
	assert_int_equal(deconf_sign_key_public(priv, raw2), 0);
	assert_memory_equal(raw, raw2, sizeof(raw));
	assert_int_equal(deconf_sign_key_from_public(&raw_pub, raw), 0);
	assert_int_equal(deconf_verify(raw_pub, big, sizeof(big), sig, sig_len), 0);
	big[500] ^= 1;
	assert_int_equal(deconf_verify(raw_pub, big, sizeof(big), sig, sig_len),
			 DECONF_E_BADSIG);
	big[500] ^= 1;

	/* deconf signing with openssl's key gives openssl's signature. */
	assert_int_equal(deconf_sign(priv, big, sizeof(big), mysig), 0);
	assert_memory_equal(mysig, sig, DECONF_SIG_LEN);

	free(sig);
	deconf_sign_key_free(priv);
	deconf_sign_key_free(pub);
	deconf_sign_key_free(raw_pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_sign_verify),
		cmocka_unit_test(test_verify_other_key),
		cmocka_unit_test(test_flipped_bits),
		cmocka_unit_test(test_wrong_sig_length),
		cmocka_unit_test_setup_teardown(test_public_only_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_private_mode_and_exclusive, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_save_public, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_private_perm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_openssl_verifies_deconf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deconf_verifies_openssl, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
