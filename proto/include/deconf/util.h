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

/* Wall-clock Unix time in milliseconds. */
int64_t deconf_now_ms(void);

/* Monotonic clock in microseconds. */
int64_t deconf_mono_us(void);

#endif
