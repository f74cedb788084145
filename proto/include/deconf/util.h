/*
 * deconf/util.h — small helpers shared by libdeconf modules: hex, bounded
 * file reads, atomic private file writes, time.
 */
#ifndef DECONF_UTIL_H
#define DECONF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Lower-case hex of len bytes into out (2*len+1 bytes). Returns out. */
char *deconf_hex_encode(char *out, const uint8_t *in, size_t len);

/*
 * Decode exactly out_len bytes from the 2*out_len hex digits of in (either
 * case, no separators). Returns 0 or DECONF_E_MALFORMED.
 */
int deconf_hex_decode(uint8_t *out, size_t out_len, const char *in, size_t in_len);

/*
 * Read the whole file at path into a NUL-terminated buffer the caller frees.
 * Refuses files larger than max_size (DECONF_E_TOOBIG). With private set,
 * refuses a file readable or writable by group or others (DECONF_E_PERM).
 * Fills errstr naming the path.
 */
int deconf_file_read(const char *path, size_t max_size, int private_file, char **out,
		     size_t *out_len, char *errstr, size_t errstr_size);

/*
 * Write data to path atomically (temporary file in the same directory,
 * fsync, rename) with the given mode. With exclusive set, refuses
 * (DECONF_E_EXISTS) if path exists. Nothing is left half written.
 */
int deconf_file_write(const char *path, const void *data, size_t len, mode_t mode,
		      int exclusive, char *errstr, size_t errstr_size);

/*
 * 1 if id[0..len) is an agency id: 2..63 of [a-z0-9-], not starting with
 * '-'. Agency ids name topics and TLS principals (literal ACLs), so the
 * pattern is kept narrow.
 */
int deconf_agency_id_valid(const void *id, size_t len);

/*
 * 1 if id[0..len) is reserved: an agency may not have it, because its
 * certificate (CN = agency id) would be, or could be mapped to, a Kafka
 * principal with more rights than an agency's. Compared ASCII
 * case-insensitively, since a principal mapping rule (ssl.principal.mapping.
 * rules ".../L") can fold case. Reserved:
 *
 *   admin, anonymous      the operator's principal and Kafka's unauthenticated
 *                         one (ANONYMOUS), both super users of our Kafka
 *   deconf-*, kafka-*     the federation's own services (deconf-broker, a
 *                         super user, reads every notice, deconf.tokens and
 *                         the audit) and Kafka's own components
 *   deconf, kafka, broker, controller, deconfctl, federation, operator, root
 *                         names a service or person of the federation
 *                         could be given; "broker" and "federation" are also
 *                         the Envelope signers of the broker's and the
 *                         federation's records
 *
 * Every Kafka super user (super.users in deploy/kafka/kafka.sh, and in any
 * production cluster of a federation) must be a reserved name, or an agency
 * of that name would hold super-user rights. deconfctl refuses to issue
 * reserved ids; the broker ignores directory entries that carry one.
 * Does not check the id pattern: see deconf_agency_id_valid().
 */
int deconf_agency_id_reserved(const void *id, size_t len);

/*
 * Make room for one more element in a doubling array: DECONF_GROW(arr, n,
 * cap, first) is 0 when arr[n] can be written (the array grown to `first`
 * elements, or twice its capacity, when n == cap), or DECONF_E_NOMEM (arr
 * and cap unchanged). arr must be an lvalue pointer, n and cap size_t.
 */
#define DECONF_GROW(arr, n, cap, first)                                                   \
	((n) < (cap) ? 0 : deconf_grow_array(&(arr), &(cap), sizeof(*(arr)), (first)))

/* arrp points at the array's pointer (any object pointer type); it is read
 * and written with memcpy, so no pointer is accessed through another type. */
int deconf_grow_array(void *arrp, size_t *cap, size_t elem, size_t first);

/*
 * Make room for need elements (a byte buffer taking a piece of any size):
 * DECONF_GROW_TO(arr, need, cap, first) is 0 when arr holds at least need
 * elements (grown to `first`, then doubled until it does), or
 * DECONF_E_NOMEM (also when the size would overflow; arr and cap unchanged).
 */
#define DECONF_GROW_TO(arr, need, cap, first)                                             \
	((need) <= (cap) ? 0 : deconf_grow_array_to(&(arr), &(cap), (need), sizeof(*(arr)), (first)))

int deconf_grow_array_to(void *arrp, size_t *cap, size_t need, size_t elem, size_t first);

/*
 * A 64-bit hash of len bytes for in-memory tables (FNV-1a, its high bits
 * folded into the low ones so a power-of-two mask or a modulus sees them).
 * Not keyed: whoever chooses the keys can choose colliding ones.
 */
uint64_t deconf_hash_bytes(const void *p, size_t len);

/*
 * SipHash-2-4 of len bytes under a 16-byte secret key: for tables whose
 * keys a partner chooses (e.g. submission ids). Without the key, colliding
 * inputs cannot be chosen, so no partner can turn a table into a list.
 */
uint64_t deconf_hash_keyed(const uint8_t key[16], const void *p, size_t len);

/* Wall-clock Unix time in milliseconds. */
int64_t deconf_now_ms(void);

/* Monotonic clock in microseconds. */
int64_t deconf_mono_us(void);

#endif
