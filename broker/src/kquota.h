/*
 * kquota.h — Kafka client quotas per agency principal (User:<agency-id>),
 * set through Kafka's own quota API, so that one agency sending as fast as
 * it can cannot starve the others on the brokers.
 *
 * Why a protocol client of its own: librdkafka 2.0.2 (Debian 12's) has no
 * admin API for client quotas (KIP-546). This module speaks exactly three
 * requests, each in its non-flexible version 0, one at a time on one
 * connection: ApiVersions (key 18) first, to refuse clearly a cluster that
 * lacks the other two (librdkafka's mock cluster, Kafka before 2.6);
 * DescribeClientQuotas (key 48); AlterClientQuotas (key 49). Request header
 * v1 (client id "deconfctl"), response header v0.
 *
 * What is managed: for entity [user = <name>] only (not client-id or
 * default-user entities), the three keys producer_byte_rate,
 * consumer_byte_rate and request_percentage. Other keys an operator set on
 * the same user (connection_creation_rate, ...) are left alone.
 *
 * Connection: the kafka.* keys of the configuration, read as librdkafka
 * reads them: bootstrap.servers (tried in order, the first that connects
 * and answers ApiVersions is used), security.protocol plaintext|ssl
 * (sasl_* is refused), and for ssl: ssl.ca.location (a file or a
 * directory; unset = the system's store), ssl.certificate.location +
 * ssl.key.location (+ ssl.key.password), ssl.crl.location,
 * ssl.cipher.suites, ssl.curves.list, ssl.sigalgs.list,
 * ssl.endpoint.identification.algorithm. Any other ssl.* key (inline PEMs,
 * PKCS#12 key stores, engines) and enable.ssl.certificate.verification =
 * false are refused (DECONF_E_CONFIG) rather than ignored: a key this module
 * cannot honour must not silently weaken or change how it authenticates.
 * Other keys (client.id, debug, ...) do not apply and are ignored.
 *
 * TLS (OpenSSL): TLS 1.2 or later; the server's chain is always verified
 * against ssl.ca.location. The server's name is checked as librdkafka 2.x
 * does by default (ssl.endpoint.identification.algorithm = https): the
 * certificate must name the host of bootstrap.servers (DNS SAN, or IP SAN
 * for an address), and a host name is sent as SNI. Set the key to none to
 * skip the name check (chain still verified) — the federation CA is
 * private, so a chain check alone already pins the server to it; the name
 * check is kept by default because it costs nothing and matches what every
 * other deconf client on the same configuration does.
 *
 * Bounds: a response is outside input. Each is at most 1 MiB
 * (BRK_KQUOTA_RESPONSE_MAX), every length and count is checked against the
 * bytes that remain, the correlation id must match, and trailing bytes are
 * an error. Text the server sends (error messages) reaches errstr with
 * every byte outside printable ASCII replaced by '?'. Every exchange
 * (TCP connect, TLS handshake, one request and its response) must finish
 * within 10 s, or kafka.socket.timeout.ms when that is set; a server that
 * trickles bytes cannot stretch it. Name resolution (getaddrinfo) has the
 * system resolver's own timeouts. SIGPIPE is never raised (all socket
 * writes use MSG_NOSIGNAL; TLS goes through memory BIOs).
 *
 * Errors: 0, or a negative DECONF_E_* with errstr naming the server and the
 * reason: DECONF_E_CONFIG (kafka.* keys), DECONF_E_INVAL (a bad quota or
 * user name, before anything is sent), DECONF_E_IO (cannot connect, TLS
 * failure, connection closed), DECONF_E_TIMEOUT, DECONF_E_VERSION (the
 * server does not offer version 0 of a request: nothing was changed),
 * DECONF_E_TOOBIG / DECONF_E_MALFORMED (a response outside the protocol),
 * DECONF_E_KAFKA (Kafka answered with an error: its name, code and message,
 * per entity for AlterClientQuotas), DECONF_E_NOMEM.
 */
#ifndef BRK_KQUOTA_H
#define BRK_KQUOTA_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "deconf/conf.h"

#define BRK_KQUOTA_RESPONSE_MAX (1 << 20)
#define BRK_KQUOTA_USER_MAX 63 /* bytes of a user (principal) name */

/* A quota that is not set: on describe, the user has none; on apply, the
 * key is removed if present. Test with brk_kquota_is_set(), never ==. */
#define BRK_KQUOTA_UNSET ((double)NAN)

static inline int brk_kquota_is_set(double v)
{
	return !isnan(v);
}

/*
 * One user's quotas. user: the principal's name without "User:" (the
 * certificate CN on deconf's mTLS listener), 1..63 bytes of printable ASCII
 * without spaces. Values: BRK_KQUOTA_UNSET, or > 0; the two byte rates (bytes
 * per second, per broker) must be whole numbers (Kafka refuses fractions);
 * request_percentage is a percentage of one request-handler/network thread's
 * time per quota window (it may exceed 100 on brokers with several threads).
 */
struct brk_kquota {
	char user[BRK_KQUOTA_USER_MAX + 1];
	double producer_byte_rate, consumer_byte_rate, request_percentage;
};

/*
 * Make each user's quotas equal want[0..n): describe every user, alter only
 * the users whose three values differ (a key unset in want is removed),
 * then wait (within the exchange timeout) until the server describes the new
 * values, so that a caller's next describe or apply sees them. Kafka
 * propagates altered quotas to brokers asynchronously; without this wait a
 * re-run right away could alter again.
 *
 * want is borrowed; user names must be distinct; every value is checked
 * before anything is sent. Users are altered in batches of 64. *changed
 * (may be NULL) is the number of users altered, also on failure: those of
 * the batches that succeeded (in a batch Kafka refused in part, it still
 * applies the entries it did not refuse; they are not counted, and the next
 * apply finds them done). n == 0 connects to nothing and returns 0.
 */
int brk_kquota_apply(const struct deconf_conf *conf, const struct brk_kquota *want, size_t n,
		     size_t *changed, char *errstr, size_t errstr_size);

/* Read one user's quotas into *out (out->user = user; a key the user does
 * not have is BRK_KQUOTA_UNSET). */
int brk_kquota_describe(const struct deconf_conf *conf, const char *user,
			struct brk_kquota *out, char *errstr, size_t errstr_size);

/* Whether a and b hold the same three values (user names not compared). */
int brk_kquota_equal(const struct brk_kquota *a, const struct brk_kquota *b);

/*
 * The response parsers, exposed for the fuzzer and the tests. buf is one
 * whole response as read after its 4-byte size: response header v0
 * (correlation id) and body. They read nothing outside buf[0..len), keep no
 * pointer into it, and fill errstr (without the server's name) on failure.
 *
 * ApiVersions v0: 0 if DescribeClientQuotas and AlterClientQuotas v0 are
 * both offered, DECONF_E_VERSION if not.
 */
int brk_kquota_parse_api_versions(const uint8_t *buf, size_t len, int32_t correlation_id,
				  char *errstr, size_t errstr_size);

/* DescribeClientQuotas v0 for [user = user], strict: at most one entry, for
 * that entity and no other. */
int brk_kquota_parse_describe(const uint8_t *buf, size_t len, int32_t correlation_id,
			      const char *user, struct brk_kquota *out, char *errstr,
			      size_t errstr_size);

/* AlterClientQuotas v0 for users[0..n): exactly one entry per user, in any
 * order; DECONF_E_KAFKA naming every user whose entry carries an error. */
int brk_kquota_parse_alter(const uint8_t *buf, size_t len, int32_t correlation_id,
			   const char *const *users, size_t n, char *errstr, size_t errstr_size);

#endif
