/*
 * deconf/enum.h — the printed names of the wire's enum values, taken from
 * protobuf-c's descriptors so that no table of names is copied by hand.
 *
 * A name is the value's name in deconf.proto without the prefix every value
 * of its enum shares, in lower case: NOTICE_KIND_QUERY_HIT → "query_hit",
 * AGENCY_LEVEL_TRIBAL → "tribal", OP_CLOSE_CASE → "close_case". The
 * *_UNSPECIFIED value means "not set" and has no name.
 */
#ifndef DECONF_ENUM_H
#define DECONF_ENUM_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Room for the longest name deconf.proto gives a value. */
#define DECONF_ENUM_NAME_SIZE 64

/*
 * The name of value v of enum d, written to buf (size bytes) and returned;
 * fallback (returned as is, not copied) when v is not a value of d, is the
 * UNSPECIFIED one, or its name does not fit. buf is borrowed, the result
 * valid while buf is.
 */
const char *deconf_enum_name(char *buf, size_t size, const ProtobufCEnumDescriptor *d, int v,
			     const char *fallback);

/* The value of enum d whose printed name (as above) is name, or 0 (the
 * UNSPECIFIED value) when none is: what a command line takes. */
int deconf_enum_value(const ProtobufCEnumDescriptor *d, const char *name);

#endif
