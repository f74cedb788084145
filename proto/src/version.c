/* version.c — the --version line every deconf program prints. */
#include "deconf/version.h"

#include <stdio.h>

#include "deconf/envelope.h"

int deconf_version_line(const char *program, char *buf, size_t size)
{
	/* the wire's own names: the protobuf package of the generated code and
	 * the Envelope format version the envelope module packs and accepts */
	const char *wire = deconf__v1__envelope__descriptor.package_name;
	const char *commit = DECONF_GIT_COMMIT;

	if (!program || !*program)
		program = "deconf";
	if (*commit)
		return snprintf(buf, size, "%s %s (commit %s; wire %s, envelope %d)", program,
				DECONF_VERSION, commit, wire, DECONF_ENVELOPE_VERSION);
	return snprintf(buf, size, "%s %s (wire %s, envelope %d)", program, DECONF_VERSION, wire,
			DECONF_ENVELOPE_VERSION);
}
