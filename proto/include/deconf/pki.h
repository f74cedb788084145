/*
 * pki.h — the federation's TLS certificates, made with OpenSSL's APIs: a
 * federation CA, the broker's server/client certificate (SAN for its host
 * names), one client certificate per agency (CN = the agency id, which
 * Kafka takes as the principal for the literal ACLs), and an agency's own
 * key and certificate request, made on the agency's machine so that its
 * private key never leaves it.
 *
 * Keys are ECDSA P-256 (what Kafka's Java TLS and librdkafka both take
 * everywhere); private keys are written 0600, atomically, and never
 * overwrite an existing file (DECONF_E_EXISTS). Every buffer that held a
 * private key or a passphrase is wiped before it is freed.
 *
 * The CA key is the one that makes Kafka principals: it is refused when
 * its file is readable by group or others, and may be encrypted with a
 * passphrase (AES-256), read from a file (0600, first line) or, when no
 * file is given and standard input is a terminal, from OpenSSL's prompt.
 */
#ifndef DECONF_PKI_H
#define DECONF_PKI_H

#include <stddef.h>

/* Where the CA key's passphrase comes from. Both unset: the CA key is not
 * encrypted (and an encrypted one is refused, saying how to give it). */
struct deconf_pki_pass {
	const char *file; /* first line of this file (0600) */
	int prompt;       /* OpenSSL's prompt on the terminal */
};

/* A self-signed CA: cert_path (PEM) and key_path (PEM, 0600; encrypted
 * when pass gives a passphrase). pass may be NULL. */
int deconf_pki_ca_new(const char *cert_path, const char *key_path, const char *name, int days,
		      const struct deconf_pki_pass *pass, char *errstr, size_t errstr_size);

/*
 * A certificate for cn, signed by the CA, with a new key. sans: DNS names
 * or IP addresses for the subjectAltName (may be NULL/0). server: also for
 * TLS servers (else client only).
 */
int deconf_pki_issue(const char *ca_cert, const char *ca_key, const struct deconf_pki_pass *pass,
		     const char *cn, const char *const *sans, size_t n_sans, int server, int days,
		     const char *cert_path, const char *key_path, char *errstr,
		     size_t errstr_size);

/*
 * A new key (key_path, 0600) and a certificate request for it (csr_path),
 * subject CN = cn: what an agency makes on its own machine and sends to
 * the operator.
 */
int deconf_pki_request(const char *cn, const char *key_path, const char *csr_path,
		       char *errstr, size_t errstr_size);

/*
 * A client certificate (cert_path) for the key of the request in csr_path,
 * signed by the CA. The request is an outsider's: its self-signature must
 * verify, its key must be P-256, and its subject's CN must be cn exactly
 * (Kafka's principal); nothing else of it (other names, extensions) is
 * copied into the certificate.
 */
int deconf_pki_issue_request(const char *ca_cert, const char *ca_key,
			     const struct deconf_pki_pass *pass, const char *csr_path,
			     const char *cn, int days, const char *cert_path, char *errstr,
			     size_t errstr_size);

#endif
