/* test_pki.c — the federation's certificates (proto/src/pki.c): the CA key's
 * custody (mode, passphrase) and an agency's request, issued without its
 * private key ever reaching the operator. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deconf/err.h"
#include "deconf/pki.h"

static char dir[256];

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/test_pki.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static const char *p(char *buf, const char *name)
{
	snprintf(buf, 300, "%s/%s", dir, name);
	return buf;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *c;

	assert_non_null(f);
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(c);
	return c;
}

/* cert is signed by ca's key, for a client, with subject CN cn. */
static void check_issued(const char *ca_path, const char *cert_path, const char *cn)
{
	X509 *ca = load_cert(ca_path), *c = load_cert(cert_path);
	char got[256];

	assert_int_equal(X509_verify(c, X509_get0_pubkey(ca)), 1);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, got,
					      sizeof(got)) > 0);
	assert_string_equal(got, cn);
	assert_true(X509_get_extended_key_usage(c) & XKU_SSL_CLIENT);
	assert_int_equal(X509_check_ca(c), 0);
	X509_free(ca);
	X509_free(c);
}

static void test_ca_key_mode(void **state)
{
	char ca[300], key[300], cert[300], ckey[300], errstr[512];

	(void)state;
	assert_int_equal(deconf_pki_ca_new(p(ca, "ca.pem"), p(key, "ca.key"), "test CA", 30, NULL,
					   errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_pki_issue(ca, key, NULL, "agency-a", NULL, 0, 0, 30,
					  p(cert, "a.pem"), p(ckey, "a.key"), errstr,
					  sizeof(errstr)),
			 0);
	check_issued(ca, cert, "agency-a");
	/* a CA key others can read makes principals for anyone who reads it */
	assert_int_equal(chmod(key, 0640), 0);
	errstr[0] = '\0';
	assert_int_not_equal(deconf_pki_issue(ca, key, NULL, "agency-b", NULL, 0, 0, 30,
					      p(cert, "b.pem"), p(ckey, "b.key"), errstr,
					      sizeof(errstr)),
			     0);
	assert_non_null(strstr(errstr, "readable by group or others"));
	assert_int_equal(access(cert, F_OK), -1); /* nothing issued */
	assert_int_equal(access(ckey, F_OK), -1);
}

static void test_ca_passphrase(void **state)
{
	struct deconf_pki_pass pass = { 0 }, wrong = { 0 };
	char ca[300], key[300], cert[300], ckey[300], pf[300], wf[300], errstr[512];

	(void)state;
	write_text(p(pf, "pass"), "correct horse battery staple\n", 0600);
	write_text(p(wf, "wrong"), "incorrect\n", 0600);
	pass.file = pf;
	wrong.file = wf;
	assert_int_equal(deconf_pki_ca_new(p(ca, "ca.pem"), p(key, "ca.key"), "test CA", 30, &pass,
					   errstr, sizeof(errstr)),
			 0);
	assert_non_null(strstr(slurp(key), "ENCRYPTED PRIVATE KEY"));
	/* no passphrase given, standard input no terminal: said how to */
	errstr[0] = '\0';
	assert_int_not_equal(deconf_pki_issue(ca, key, NULL, "agency-a", NULL, 0, 0, 30,
					      p(cert, "a.pem"), p(ckey, "a.key"), errstr,
					      sizeof(errstr)),
			     0);
	assert_non_null(strstr(errstr, "encrypted"));
	assert_non_null(strstr(errstr, "--ca-passphrase-file"));
	errstr[0] = '\0';
	assert_int_not_equal(deconf_pki_issue(ca, key, &wrong, "agency-a", NULL, 0, 0, 30, cert,
					      ckey, errstr, sizeof(errstr)),
			     0);
	assert_non_null(strstr(errstr, "wrong passphrase"));
	assert_int_equal(access(cert, F_OK), -1);
	assert_int_equal(deconf_pki_issue(ca, key, &pass, "agency-a", NULL, 0, 0, 30, cert, ckey,
					  errstr, sizeof(errstr)),
			 0);
	check_issued(ca, cert, "agency-a");
	/* the passphrase file is a secret too */
	assert_int_equal(chmod(pf, 0644), 0);
	assert_int_not_equal(deconf_pki_issue(ca, key, &pass, "agency-b", NULL, 0, 0, 30,
					      p(cert, "b.pem"), p(ckey, "b.key"), errstr,
					      sizeof(errstr)),
			     0);
	assert_non_null(strstr(errstr, "readable by group or others"));
}

/* The agency makes its key and request; the operator issues from the
 * request alone. */
static void test_request(void **state)
{
	char ca[300], key[300], akey[300], csr[300], cert[300], errstr[512];
	X509 *c;
	EVP_PKEY *k;
	FILE *f;

	(void)state;
	assert_int_equal(deconf_pki_ca_new(p(ca, "ca.pem"), p(key, "ca.key"), "test CA", 30, NULL,
					   errstr, sizeof(errstr)),
			 0);
	assert_int_equal(deconf_pki_request("agency-a", p(akey, "agency.key"),
					    p(csr, "agency.csr"), errstr, sizeof(errstr)),
			 0);
	assert_non_null(strstr(slurp(csr), "BEGIN CERTIFICATE REQUEST"));
	assert_null(strstr(slurp(csr), "PRIVATE"));
	{
		struct stat st;
		assert_int_equal(stat(akey, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* never over an existing key */
	assert_int_equal(deconf_pki_request("agency-a", akey, p(cert, "other.csr"), errstr,
					    sizeof(errstr)),
			 DECONF_E_EXISTS);
	/* issued for the request's key: the certificate matches the agency's
	 * own private key */
	assert_int_equal(deconf_pki_issue_request(ca, key, NULL, csr, "agency-a", 30,
						  p(cert, "agency.pem"), errstr, sizeof(errstr)),
			 0);
	check_issued(ca, cert, "agency-a");
	c = load_cert(cert);
	assert_non_null(f = fopen(akey, "r"));
	assert_non_null(k = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	assert_int_equal(X509_check_private_key(c, k), 1);
	EVP_PKEY_free(k);
	X509_free(c);

	/* a request for another principal is refused: Kafka's ACLs go by CN */
	errstr[0] = '\0';
	assert_int_equal(deconf_pki_issue_request(ca, key, NULL, csr, "agency-b", 30,
						  p(cert, "b.pem"), errstr, sizeof(errstr)),
			 DECONF_E_MALFORMED);
	assert_non_null(strstr(errstr, "CN \"agency-a\", not \"agency-b\""));
	assert_int_equal(access(cert, F_OK), -1);
}

static void test_hostile_requests(void **state)
{
	char ca[300], key[300], csr[300], cert[300], errstr[512], *text;
	EVP_PKEY *rsa;
	X509_REQ *req;
	FILE *f;

	(void)state;
	assert_int_equal(deconf_pki_ca_new(p(ca, "ca.pem"), p(key, "ca.key"), "test CA", 30, NULL,
					   errstr, sizeof(errstr)),
			 0);
	/* not a request */
	write_text(p(csr, "junk.csr"), "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", 0644);
	assert_int_equal(deconf_pki_issue_request(ca, key, NULL, csr, "agency-a", 30,
						  p(cert, "x.pem"), errstr, sizeof(errstr)),
			 DECONF_E_MALFORMED);
	assert_non_null(strstr(errstr, "not a certificate request"));

	/* a request whose signature does not match its contents: one byte of
	 * its subject changed (agency-a -> agency-b) */
	assert_int_equal(deconf_pki_request("agency-a", p(key, "k1"), p(csr, "a.csr"), errstr,
					    sizeof(errstr)),
			 0);
	{
		X509_REQ *r;
		unsigned char *der = NULL, *hit;
		const unsigned char *q;
		int len;

		assert_non_null(f = fopen(csr, "r"));
		assert_non_null(r = PEM_read_X509_REQ(f, NULL, NULL, NULL));
		fclose(f);
		assert_true((len = i2d_X509_REQ(r, &der)) > 0);
		X509_REQ_free(r);
		assert_non_null(hit = memmem(der, (size_t)len, "agency-a", 8));
		hit[7] = 'b';
		q = der;
		assert_non_null(r = d2i_X509_REQ(NULL, &q, len));
		OPENSSL_free(der);
		assert_non_null(f = fopen(p(csr, "tampered.csr"), "w"));
		assert_int_equal(PEM_write_X509_REQ(f, r), 1);
		fclose(f);
		X509_REQ_free(r);
	}
	assert_int_equal(deconf_pki_issue_request(ca, p(key, "ca.key"), NULL, csr, "agency-b", 30,
						  p(cert, "t.pem"), errstr, sizeof(errstr)),
			 DECONF_E_MALFORMED);
	assert_non_null(strstr(errstr, "does not verify"));

	/* an RSA key: not what the federation's TLS takes */
	assert_non_null(rsa = EVP_RSA_gen(2048));
	assert_non_null(req = X509_REQ_new());
	assert_int_equal(X509_REQ_set_pubkey(req, rsa), 1);
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
				   (const unsigned char *)"agency-a", -1, -1, 0);
	assert_true(X509_REQ_sign(req, rsa, EVP_sha256()) > 0);
	assert_non_null(f = fopen(p(csr, "rsa.csr"), "w"));
	assert_int_equal(PEM_write_X509_REQ(f, req), 1);
	fclose(f);
	X509_REQ_free(req);
	EVP_PKEY_free(rsa);
	assert_int_equal(deconf_pki_issue_request(ca, p(key, "ca.key"), NULL, csr, "agency-a", 30,
						  p(cert, "r.pem"), errstr, sizeof(errstr)),
			 DECONF_E_MALFORMED);
	assert_non_null(strstr(errstr, "P-256"));
	text = slurp(p(csr, "a.csr"));
	assert_non_null(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ca_key_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_passphrase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_requests, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
