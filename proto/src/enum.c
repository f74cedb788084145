/* enum.c — printed names of enum values from protobuf-c's descriptors. */
#include <string.h>

#include "deconf/enum.h"

/* Bytes of the prefix every value name of d shares, cut after its last '_'
 * (NOTICE_KIND_CONFLICT, NOTICE_KIND_EXPIRED → "NOTICE_KIND_"). */
static size_t shared_prefix(const ProtobufCEnumDescriptor *d)
{
	const char *first = d->values[0].name;
	size_t n = strlen(first), cut = 0;

	for (unsigned i = 1; i < d->n_values; i++) {
		const char *s = d->values[i].name;
		size_t k = 0;

		while (k < n && s[k] == first[k])
			k++;
		n = k;
	}
	for (size_t k = 0; k < n; k++)
		if (first[k] == '_')
			cut = k + 1;
	return cut;
}

const char *deconf_enum_name(char *buf, size_t size, const ProtobufCEnumDescriptor *d, int v,
			     const char *fallback)
{
	const ProtobufCEnumValue *ev;
	const char *name;
	size_t len;

	if (!d || !d->n_values || !(ev = protobuf_c_enum_descriptor_get_value(d, v)))
		return fallback;
	name = ev->name + shared_prefix(d);
	len = strlen(name);
	if (!*name || !strcmp(name, "UNSPECIFIED") || len >= size)
		return fallback;
	for (size_t i = 0; i <= len; i++)
		buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + ('a' - 'A') : name[i]);
	return buf;
}

int deconf_enum_value(const ProtobufCEnumDescriptor *d, const char *name)
{
	char buf[DECONF_ENUM_NAME_SIZE];

	for (unsigned i = 0; d && name && i < d->n_values; i++) {
		const char *n = deconf_enum_name(buf, sizeof(buf), d, d->values[i].value, NULL);
		if (n && !strcmp(n, name))
			return d->values[i].value;
	}
	return 0;
}
