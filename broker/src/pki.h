/*
 * pki.h — the federation's TLS certificates, made with OpenSSL's APIs for
 * deconfctl: a federation CA, the broker's server/client certificate (SAN
 * for its host names) and one client certificate per agency (CN = the
 * agency id, which Kafka takes as the principal for the literal ACLs).
 *
 * Keys are ECDSA P-256 (what Kafka's Java TLS and librdkafka both take
 * everywhere); private keys are written 0600, atomically, and never
 * overwrite an existing file (DECONF_E_EXISTS).
 */
#ifndef BRK_PKI_H
#define BRK_PKI_H

#include <stddef.h>

/* A self-signed CA: cert_path (PEM) and key_path (PEM, 0600). */
int brk_pki_ca_new(const char *cert_path, const char *key_path, const char *name, int days,
		   char *errstr, size_t errstr_size);

/*
 * A certificate for cn, signed by the CA, with a new key. sans: DNS names
 * or IP addresses for the subjectAltName (may be NULL/0). server: also for
 * TLS servers (else client only).
 */
int brk_pki_issue(const char *ca_cert, const char *ca_key, const char *cn,
		  const char *const *sans, size_t n_sans, int server, int days,
		  const char *cert_path, const char *key_path, char *errstr, size_t errstr_size);

#endif
