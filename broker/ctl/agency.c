/*
 * agency.c — deconfctl agency add | suspend | activate | list: an agency's
 * certificate, keys and bundle, its signed directory entry, and the reader
 * of the directory topic the other families use.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "deconf/enum.h"
#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/text.h"
#include "deconf/util.h"
#include "deconf/pki.h"
#include "deconf/scope.h"

/* A kafka.* value of the federation's configuration, or NULL. */
static const char *kafka_value(const struct fed *f, const char *name)
{
	for (size_t i = 0; i < deconf_conf_kafka_count(f->conf); i++) {
		const char *n, *v, *o;
		deconf_conf_kafka_get(f->conf, i, &n, &v, &o);
		if (!strcmp(n, name))
			return v;
	}
	return NULL;
}

static const char *level_name(char buf[DECONF_ENUM_NAME_SIZE], int level)
{
	return deconf_enum_name(buf, DECONF_ENUM_NAME_SIZE, &deconf__v1__agency_level__descriptor,
				level, "?");
}

/* src copied into the bundle dir as name, made exclusively with mode; a
 * secret (0600) read only from a private file, and wiped after. */
static int bundle_copy(const char *dir, const char *src, const char *name, mode_t mode,
		       char *errstr, size_t errstr_size)
{
	char path[1400], *data = NULL;
	int secret = mode == 0600, rc;
	size_t len = 0;

	if ((rc = deconf_file_read(src, 1 << 20, secret, &data, &len, errstr, errstr_size)))
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = deconf_file_write(path, data, len, mode, 1, errstr, errstr_size);
	if (secret)
		OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

int cmd_agency_add(struct fed *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "level", required_argument, NULL, 'l' },
		{ "country", required_argument, NULL, 'c' },
		{ "poc-name", required_argument, NULL, 'N' },
		{ "poc-phone", required_argument, NULL, 'P' },
		{ "poc-email", required_argument, NULL, 'E' },
		{ "csr", required_argument, NULL, 'R' },
		{ "signing-pub", required_argument, NULL, 'S' },
		{ "ca-passphrase-file", required_argument, NULL, 'F' },
		{ "disclose-to", required_argument, NULL, 'D' },
		{ "liaison-name", required_argument, NULL, 'L' },
		{ "liaison-phone", required_argument, NULL, 'H' },
		{ "liaison-email", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] =
		"agency add ID --name NAME --level federal|state|local|tribal|international "
		"--country CC --poc-name NAME --poc-phone PHONE --poc-email EMAIL "
		"[--csr agency.csr --signing-pub signing.pub] [--ca-passphrase-file FILE] "
		"[--disclose-to SPEC] [--liaison-name NAME --liaison-phone PHONE "
		"--liaison-email EMAIL]";
	const char *disclose = NULL;
	Deconf__V1__DisclosureScope *scope = NULL;
	Deconf__V1__PointOfContact liaison = DECONF__V1__POINT_OF_CONTACT__INIT;
	int has_liaison = 0;
	const char *csr = NULL, *spub = NULL;
	/* an encrypted CA key: the file's passphrase, else asked on a terminal */
	struct deconf_pki_pass pass = { .prompt = 1 };
	const char *name = NULL, *country = NULL, *pn = NULL, *pp = NULL, *pe = NULL, *id;
	struct brk_ctl_kafka *k = NULL;
	Deconf__V1__DirectoryEntry e = DECONF__V1__DIRECTORY_ENTRY__INIT;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	struct deconf_sign_key *key = NULL;
	struct epochs ep;
	uint8_t pub[DECONF_PUBKEY_LEN];
	char dir[1200], path[1400], path2[1400], errstr[1024] = "", text[4096],
		lb[DECONF_ENUM_NAME_SIZE];
	int level = 0, ch, rc;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		switch (ch) {
		case 'n': name = optarg; break;
		case 'l':
			if (!(level = deconf_enum_value(&deconf__v1__agency_level__descriptor,
							optarg)))
				return usage_error(syn, "--level %s: federal|state|local|tribal|"
							"international",
						   optarg);
			break;
		case 'c': country = optarg; break;
		case 'N': pn = optarg; break;
		case 'P': pp = optarg; break;
		case 'E': pe = optarg; break;
		case 'R': csr = optarg; break;
		case 'S': spub = optarg; break;
		case 'F': pass.file = optarg; break;
		case 'D':
			/* checked now, before anything is made; parsed again below */
			if (deconf_scope_parse(optarg, &scope, errstr, sizeof(errstr)))
				return usage_error(syn, "--disclose-to: %s", errstr);
			deconf_scope_free(scope);
			scope = NULL;
			disclose = optarg;
			break;
		case 'L': liaison.name = optarg, has_liaison = 1; break;
		case 'H': liaison.phone = optarg, has_liaison = 1; break;
		case 'M': liaison.email = optarg, has_liaison = 1; break;
		default: return bad_option(ch, argv, syn);
		}
	}
	if (optind != argc - 1)
		return usage_error(syn, optind < argc ? "one agency id, not '%s' too"
						      : "the agency id is missing%s",
				   optind < argc ? argv[argc - 1] : "");
	id = argv[optind];
	if (!deconf_agency_id_valid(id, strlen(id)))
		return fail(2, "'%s' is not an agency id: 2..63 of a-z, 0-9 and '-', not starting "
			       "with '-'",
			    id);
	/* its certificate's CN would be (or map to) a Kafka super user or one of
	 * the federation's own services: reading every agency's notices,
	 * deconf.tokens and the audit */
	if (deconf_agency_id_reserved(id, strlen(id)))
		return fail(2, "'%s' is a reserved id: its certificate would be, or could map to, "
			       "a Kafka super user or one of the federation's own services, with "
			       "more rights than an agency (the reserved ids: --help); choose another "
			       "id",
			    id);
	if (!name || !level || !country || !pn || !pp || !pe)
		return usage_error(syn, "agency add %s: --name, --level, --country, --poc-name, "
					"--poc-phone and --poc-email are required",
				   id);
	if (strlen(country) != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' ||
	    country[1] > 'Z')
		return usage_error(syn, "--country %s: an ISO 3166-1 alpha-2 code, e.g. US", country);
	if (!csr != !spub)
		return usage_error(syn, "--csr and --signing-pub go together (what deconf-adapter "
					"init made on the agency's machine)");
	/* the agency's public signing key, checked before anything is made */
	if (spub) {
		if ((rc = deconf_sign_key_load(&key, spub, errstr, sizeof(errstr))))
			return fail(2, "--signing-pub: %s", errstr);
		if (deconf_sign_key_is_private(key)) {
			deconf_sign_key_free(key);
			return fail(2, "--signing-pub %s is a PRIVATE key: the agency keeps it; "
				       "it sends signing.pub",
				    spub);
		}
	}
	/* the directory changes: the federation key, before anything is made */
	if (fed_signing_key(f, "nothing was made")) {
		deconf_sign_key_free(key);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/agencies/%s", f->dir, id);
	if (!access(dir, F_OK))
		return fail(1, "%s: the agency exists (agency suspend/activate changes it)", dir);
	/* published with the entry, so a broker started before topics apply
	 * learns which epochs the new agency's tokens may use */
	if (epochs_load(&ep)) {
		deconf_sign_key_free(key);
		return 1;
	}
	/* Kafka and the directory topic first: a bundle whose agency the broker
	 * was never told of must not look done */
	if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, publisher_props, "nothing was made"))) {
		epochs_free(&ep);
		deconf_sign_key_free(key);
		return 1;
	}
	{
		char topic[256];
		int np;
		snprintf(topic, sizeof(topic), "%sdirectory", f->prefix);
		if ((rc = brk_ctl_kafka_topic(k, topic, &np, errstr, sizeof(errstr)))) {
			fail(1, "%s%s: nothing was made", errstr,
			     rc == DECONF_E_UNKNOWN ? " (deconfctl topics apply creates the "
						      "federation's topics)"
						    : "");
			brk_ctl_kafka_free(k);
			epochs_free(&ep);
			deconf_sign_key_free(key);
			return 1;
		}
	}
	if (mkdir(dir, 0700)) {
		brk_ctl_kafka_free(k);
		epochs_free(&ep);
		deconf_sign_key_free(key);
		return fail(1, "%s: %s", dir,
			    errno == EEXIST ? "the agency exists (agency suspend/activate changes it)"
					    : strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/agency.pem", dir);
	snprintf(path2, sizeof(path2), "%s/agency.key", dir);
	if (csr) {
		/* the agency's own key, made on its machine: only its
		 * certificate is made here, and no private key is in the bundle */
		if ((rc = deconf_pki_issue_request("ca.pem", "ca.key", &pass, csr, id, CERT_DAYS,
						   path, errstr, sizeof(errstr))))
			goto out;
	} else {
		if ((rc = deconf_pki_issue("ca.pem", "ca.key", &pass, id, NULL, 0, 0, CERT_DAYS,
					   path, path2, errstr, sizeof(errstr))))
			goto out;
		snprintf(path, sizeof(path), "%s/signing.key", dir);
		if ((rc = deconf_sign_key_generate(&key, errstr, sizeof(errstr))) ||
		    (rc = deconf_sign_key_save_private(key, path, errstr, sizeof(errstr))))
			goto out;
	}
	/* what the agency takes: the CA, the token key, the broker's public key
	 * (notices, receipts) and the federation's (the directory) */
	if ((rc = bundle_copy(dir, "ca.pem", "ca.pem", 0644, errstr, sizeof(errstr))) ||
	    (rc = bundle_copy(dir, "federation.keys", "federation.keys", 0600, errstr,
			      sizeof(errstr))) ||
	    (rc = bundle_copy(dir, f->set.federation_broker_public_key, "broker.pub", 0644,
			      errstr, sizeof(errstr))) ||
	    (rc = bundle_copy(dir, f->set.federation_public_key, "federation.pub", 0644, errstr,
			      sizeof(errstr))))
		goto out;
	{
		char bootstrap[512];
		const char *proto = kafka_value(f, "security.protocol");
		snprintf(bootstrap, sizeof(bootstrap), "%s",
			 kafka_value(f, "bootstrap.servers") ? kafka_value(f, "bootstrap.servers")
							     : "localhost:9093");
		snprintf(text, sizeof(text),
			 "; %s — deconf adapter configuration, made by deconfctl agency add.\n"
			 "; Run deconf-adapter from this directory (paths are relative to it).\n"
			 "[agency]\nid = %s\nkey_file = federation.keys\nsigning_key = signing.key\n"
			 "broker_public_key = broker.pub\nfederation_public_key = federation.pub\n"
			 "topic_prefix = %s\ndefault_region = %s\n"
			 "[ledger]\ndir = ledger\n[run]\nspool_dir = spool\noutbox_file = notices.jsonl\n"
			 "[kafka]\nbootstrap.servers = %s\n%s",
			 name, id, f->prefix, country, bootstrap,
			 proto && !strcasecmp(proto, "ssl")
				 ? "security.protocol = ssl\nssl.ca.location = ca.pem\n"
				   "ssl.certificate.location = agency.pem\nssl.key.location = agency.key\n"
				 : "");
	}
	snprintf(path, sizeof(path), "%s/agency.conf", dir);
	if ((rc = deconf_file_write(path, text, strlen(text), 0600, 1, errstr, sizeof(errstr))))
		goto out;
	snprintf(text, sizeof(text),
		 "deconf bundle for %s (%s)\n"
		 "==========================================\n\n"
		 "For the agency's IT staff. This directory is everything your adapter needs:\n\n"
		 "  agency.conf       the adapter's configuration (edit bootstrap.servers if needed)\n"
		 "  agency.pem/.key   your TLS client certificate (CN = %s) and its key%s\n"
		 "  ca.pem            the federation CA, to trust the Kafka brokers\n"
		 "  signing.key       your Ed25519 key: signs your submissions%s\n"
		 "  federation.keys   the federation's token key: makes your indicators' hashes\n"
		 "  broker.pub        the broker's public key: verifies the notices you receive\n"
		 "  federation.pub    the federation's public key: verifies the directory\n\n"
		 "Keep agency.key, signing.key and federation.keys secret (mode 0600, on the\n"
		 "adapter's host only). Raw indicators never leave your network: the adapter\n"
		 "sends keyed hashes only.\n\n"
		 "1. Install deconf-adapter and copy this directory to its host.\n"
		 "2. From this directory: deconf-adapter -c agency.conf check cases.csv\n"
		 "   (formats: adapters/INPUT.md), then: deconf-adapter -c agency.conf submit cases.csv\n"
		 "3. Notices: deconf-adapter -c agency.conf notices --follow, or run the daemon:\n"
		 "   deconf-adapter -c agency.conf run (spool/ directory in, notices.jsonl out).\n"
		 "4. When the federation rotates its key you receive a new federation.keys:\n"
		 "   replace it, then deconf-adapter -c agency.conf resubmit, before the old\n"
		 "   key epoch's retire time (the federation tells you; default 30 days). From\n"
		 "   then on the broker refuses tokens under the old epoch and removes your\n"
		 "   entries made with it.\n",
		 name, id, id, csr ? " (the key: the one\n"
				     "                    deconf-adapter init made; put it here)" : "",
		 csr ? " (made by\n                    deconf-adapter init; put it here)" : "");
	snprintf(path, sizeof(path), "%s/README.txt", dir);
	if ((rc = deconf_file_write(path, text, strlen(text), 0644, 1, errstr, sizeof(errstr))))
		goto out;
	/* the directory entry */
	deconf_sign_key_public(key, pub);
	poc.name = (char *)pn;
	poc.phone = (char *)pp;
	poc.email = (char *)pe;
	e.agency_id.data = (uint8_t *)id;
	e.agency_id.len = strlen(id);
	e.name = (char *)name;
	e.level = level;
	e.country = (char *)country;
	e.watch_contact = &poc;
	e.signing_public_key.data = pub;
	e.signing_public_key.len = sizeof(pub);
	e.status = K(AGENCY_STATUS__AGENCY_STATUS_ACTIVE);
	e.updated_at = deconf_now_ms();
	e.tls_principal = (char *)id;
	if (disclose && (rc = deconf_scope_parse(disclose, &scope, errstr, sizeof(errstr))))
		goto out;
	e.scope = scope;
	if (has_liaison)
		e.liaison = &liaison;
	{
		/* kept, so suspend/activate can republish it */
		size_t plen = deconf__v1__directory_entry__get_packed_size(&e);
		uint8_t *pb = malloc(plen ? plen : 1);
		if (!pb) {
			rc = DECONF_E_NOMEM;
			goto out;
		}
		deconf__v1__directory_entry__pack(&e, pb);
		snprintf(path, sizeof(path), "%s/agencies/%s.entry", f->dir, id);
		rc = deconf_file_write(path, pb, plen, 0644, 0, errstr, sizeof(errstr));
		free(pb);
		if (rc)
			goto out;
	}
	if ((rc = epochs_publish(f, k, &ep, &e))) {
		fail(1, "agency %s is NOT in the federation yet: its bundle was written to %s and "
			"its entry to agencies/%s.entry, but Kafka did not confirm its directory "
			"entry and the key epochs record (above), so the broker may not know it. Do "
			"not hand the bundle over yet: `deconfctl agency activate %s` and `deconfctl "
			"federation epochs --publish` publish them again",
		     id, dir, id, id);
		goto out_quiet;
	}
	printf("agency %s (%s, %s, %s) added: its directory entry is published; bundle: %s%s\n"
	       "next: deconfctl topics apply (its topics and ACLs), then hand the bundle over\n",
	       id, name, level_name(lb, level), country, dir,
	       csr ? " (its certificate from its own request: no private key in it)" : "");
	goto out_quiet;
out:
	fail(1, "%s", errstr[0] ? errstr : deconf_strerror(rc));
	/* made by this run, empty before it: nothing half-made is left */
	if (remove_tree(dir))
		fail(1, "agency %s was not added (%s holds part of its bundle and could not be "
			"removed: remove it before adding the agency again)",
		     id, dir);
	else
		fail(1, "agency %s was not added; nothing of it was kept", id);
out_quiet:
	brk_ctl_kafka_free(k);
	epochs_free(&ep);
	deconf_sign_key_free(key);
	deconf_scope_free(scope);
	return rc ? 1 : 0;
}

/*
 * Change agency id's directory entry (the copy kept beside its bundle) with
 * change(e, opaque), publish it signed, and keep it; undo(e, opaque) (may
 * be NULL) takes back what change lent the entry before it is freed.
 * verb and what: the change in words ("made suspended", "now suspended"),
 * for the messages. Returns the exit status.
 */
static int entry_change(struct fed *f, const char *id, const char *verb, const char *what,
			int (*change)(Deconf__V1__DirectoryEntry *e, void *opaque),
			void (*undo)(Deconf__V1__DirectoryEntry *e, void *opaque), void *opaque)
{
	char path[1200], errstr[512], *buf;
	struct brk_ctl_kafka *k;
	size_t len, plen;
	Deconf__V1__DirectoryEntry *e;
	uint8_t *pb;
	int rc;

	snprintf(path, sizeof(path), "%s/agencies/%s.entry", f->dir, id);
	if (deconf_file_read(path, 1 << 20, 0, &buf, &len, errstr, sizeof(errstr)))
		return fail(1, "%s (no such agency in this federation?)", errstr);
	if (!(e = deconf__v1__directory_entry__unpack(NULL, len, (uint8_t *)buf))) {
		free(buf);
		return fail(1, "%s: unreadable", path);
	}
	free(buf);
	if ((rc = change(e, opaque))) {
		if (undo)
			undo(e, opaque);
		deconf__v1__directory_entry__free_unpacked(e, NULL);
		return rc;
	}
	e->updated_at = deconf_now_ms();
	if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, publisher_props, "nothing was changed"))) {
		if (undo)
			undo(e, opaque);
		deconf__v1__directory_entry__free_unpacked(e, NULL);
		return 1;
	}
	{
		struct dir_record r = { e->agency_id.data, e->agency_id.len,
					K(MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY), &e->base };
		rc = publish_directory(f, k, &r, 1);
	}
	brk_ctl_kafka_free(k);
	if (rc) {
		fail(1, "agency %s was not %s (its entry on Kafka is as it was)", id, verb);
		if (undo)
			undo(e, opaque);
		deconf__v1__directory_entry__free_unpacked(e, NULL);
		return 1;
	}
	/* kept, so the next change republishes what Kafka holds */
	plen = deconf__v1__directory_entry__get_packed_size(e);
	if (!(pb = malloc(plen ? plen : 1))) {
		rc = fail(1, "agency %s is %s on Kafka, but %s was not updated: out of memory", id,
			  what, path);
	} else {
		deconf__v1__directory_entry__pack(e, pb);
		if (deconf_file_write(path, pb, plen, 0644, 0, errstr, sizeof(errstr)))
			rc = fail(1, "agency %s is %s on Kafka, but %s was not updated: %s", id,
				  what, path, errstr);
		free(pb);
	}
	if (!rc)
		printf("agency %s is %s\n", id, what);
	if (undo)
		undo(e, opaque);
	deconf__v1__directory_entry__free_unpacked(e, NULL);
	return rc;
}

static int set_status(Deconf__V1__DirectoryEntry *e, void *opaque)
{
	e->status = *(int *)opaque;
	return 0;
}

int cmd_agency_status(struct fed *f, int argc, char **argv, int status)
{
	const char *syn = status == K(AGENCY_STATUS__AGENCY_STATUS_SUSPENDED) ? "agency suspend ID"
									       : "agency activate ID";
	const char *what = status == K(AGENCY_STATUS__AGENCY_STATUS_SUSPENDED) ? "now suspended"
									        : "now active";
	const char *id;
	int rc;

	if ((rc = no_options(argc, argv, syn)))
		return rc;
	if (optind != argc - 1)
		return usage_error(syn, optind < argc ? "one agency id, not '%s' too"
						      : "the agency id is missing%s",
				   optind < argc ? argv[argc - 1] : "");
	id = argv[optind];
	if (!deconf_agency_id_valid(id, strlen(id)))
		return usage_error(syn, "'%s' is not an agency id", id);
	return entry_change(f, id,
			    status == K(AGENCY_STATUS__AGENCY_STATUS_SUSPENDED) ? "made suspended"
										: "made active",
			    what, set_status, NULL, &status);
}

/* What agency add and set-scope take of a sharing scope. */
struct scope_args {
	Deconf__V1__DisclosureScope *scope; /* --disclose-to, parsed; NULL: not given */
	Deconf__V1__PointOfContact liaison;
	int has_liaison;
	/* the entry's own, while ours are lent to it */
	Deconf__V1__DisclosureScope *old_scope;
	Deconf__V1__PointOfContact *old_liaison;
};

/* One of --disclose-to, --liaison-name, --liaison-phone, --liaison-email:
 * 0, or the exit status of a usage error. */
static int scope_option(struct scope_args *sa, int ch, const char *arg, const char *syn)
{
	char errstr[512];

	switch (ch) {
	case 'D':
		deconf_scope_free(sa->scope);
		sa->scope = NULL;
		if (deconf_scope_parse(arg, &sa->scope, errstr, sizeof(errstr)))
			return usage_error(syn, "--disclose-to: %s", errstr);
		return 0;
	case 'L': sa->liaison.name = (char *)arg; break;
	case 'H': sa->liaison.phone = (char *)arg; break;
	case 'M': sa->liaison.email = (char *)arg; break;
	}
	sa->has_liaison = 1;
	return 0;
}

static int set_scope(Deconf__V1__DirectoryEntry *e, void *opaque)
{
	struct scope_args *sa = opaque;

	/* ours are lent to the entry, its own put back by unset_scope before
	 * it is freed */
	sa->old_scope = e->scope;
	sa->old_liaison = e->liaison;
	if (sa->scope)
		e->scope = sa->scope;
	if (sa->has_liaison)
		e->liaison = &sa->liaison;
	return 0;
}

static void unset_scope(Deconf__V1__DirectoryEntry *e, void *opaque)
{
	struct scope_args *sa = opaque;

	e->scope = sa->old_scope;
	e->liaison = sa->old_liaison;
}

int cmd_agency_set_scope(struct fed *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "disclose-to", required_argument, NULL, 'D' },
		{ "liaison-name", required_argument, NULL, 'L' },
		{ "liaison-phone", required_argument, NULL, 'H' },
		{ "liaison-email", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] = "agency set-scope ID --disclose-to SPEC [--liaison-name NAME "
				  "--liaison-phone PHONE --liaison-email EMAIL]";
	struct scope_args sa = { 0 };
	char what[600], text[512];
	const char *id;
	int ch, rc;

	deconf__v1__point_of_contact__init(&sa.liaison);
	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		if (ch == 'D' || ch == 'L' || ch == 'H' || ch == 'M') {
			if ((rc = scope_option(&sa, ch, optarg, syn))) {
				deconf_scope_free(sa.scope);
				return rc;
			}
		} else {
			deconf_scope_free(sa.scope);
			return bad_option(ch, argv, syn);
		}
	}
	if (optind != argc - 1 || (!sa.scope && !sa.has_liaison)) {
		deconf_scope_free(sa.scope);
		return usage_error(syn, "%s", optind != argc - 1 ? "one agency id"
								 : "--disclose-to or a --liaison-* "
								   "option is needed");
	}
	id = argv[optind];
	if (!deconf_agency_id_valid(id, strlen(id))) {
		deconf_scope_free(sa.scope);
		return usage_error(syn, "'%s' is not an agency id", id);
	}
	snprintf(what, sizeof(what), "now disclosed to: %s",
		 sa.scope ? deconf_scope_text(sa.scope, text, sizeof(text)) : "(scope unchanged)");
	rc = entry_change(f, id, "given its new scope", what, set_scope, unset_scope, &sa);
	deconf_scope_free(sa.scope);
	return rc;
}

/* Reading the directory topic: the broker's directory (directory.c) applies
 * each record, so deconfctl sees the agencies the broker sees; what it
 * refuses is kept to be said. */
struct dir_read {
	struct brk_directory *dir;
	struct dir_ignored *ig;
	int32_t partition;
};

static int dir_record_cb(const rd_kafka_message_t *m, void *opaque)
{
	struct dir_read *d = opaque;
	struct dir_ignored *ig = d->ig;
	char why[256];
	int rc;

	rc = brk_directory_apply(d->dir, m->key, m->key_len, m->payload, m->payload ? m->len : 0,
				 why, sizeof(why));
	if (rc == DECONF_E_NOMEM)
		return rc;
	if (rc) {
		if (ig->n < DIR_IGNORED_SHOWN) {
			ig->v[ig->n].partition = d->partition;
			ig->v[ig->n].offset = m->offset;
			/* the key is the writer's: named only when it is an id */
			snprintf(ig->v[ig->n].key, sizeof(ig->v[ig->n].key), "%.*s",
				 m->key && m->key_len < sizeof(ig->v[0].key) &&
						 (deconf_agency_id_valid(m->key, m->key_len) ||
						  (m->key_len == strlen(KEY_EPOCHS_KEY) &&
						   !memcmp(m->key, KEY_EPOCHS_KEY, m->key_len)))
					 ? (int)m->key_len
					 : 0,
				 m->key ? (const char *)m->key : "");
			snprintf(ig->v[ig->n].why, sizeof(ig->v[ig->n].why), "%s", why);
		}
		ig->n++;
	}
	return 0;
}

int read_directory(struct fed *f, struct brk_ctl_kafka *k, struct brk_directory **dir,
		   struct dir_ignored *ig, int *missing)
{
	struct dir_read d = { .ig = ig };
	char errstr[1024], topic[256];
	int np, rc;

	*dir = NULL;
	*missing = 0;
	memset(ig, 0, sizeof(*ig));
	if (brk_directory_new(&d.dir, f->fed_pub))
		return fail(1, "out of memory");
	snprintf(topic, sizeof(topic), "%sdirectory", f->prefix);
	snprintf(ig->topic, sizeof(ig->topic), "%s", topic);
	if ((rc = brk_ctl_kafka_topic(k, topic, &np, errstr, sizeof(errstr)))) {
		if (rc == DECONF_E_UNKNOWN) {
			*missing = 1;
			*dir = d.dir;
			return 0;
		}
		brk_directory_free(d.dir);
		return fail(1, "%s", errstr);
	}
	/* every partition: an agency's records are all in the one its id is
	 * hashed to, in order */
	for (int p = 0; p < np && !rc; p++) {
		d.partition = p;
		rc = brk_ctl_kafka_read(k, topic, p, dir_record_cb, &d, errstr, sizeof(errstr));
	}
	if (rc) {
		brk_directory_free(d.dir);
		return fail(1, "%s", rc == DECONF_E_NOMEM ? "out of memory" : errstr);
	}
	*dir = d.dir;
	return 0;
}

void directory_say_ignored(const struct dir_ignored *ig, FILE *out, const char *lead)
{
	if (!ig->n)
		return;
	fprintf(out, "%s%zu directory record(s) ignored, as the broker ignores them:\n", lead,
		ig->n);
	for (size_t i = 0; i < ig->n && i < DIR_IGNORED_SHOWN; i++)
		fprintf(out, "%s  %s [%" PRId32 "] offset %" PRId64 "%s%s: %s\n", lead, ig->topic,
			ig->v[i].partition, ig->v[i].offset, ig->v[i].key[0] ? ", key " : "",
			ig->v[i].key, ig->v[i].why);
	if (ig->n > DIR_IGNORED_SHOWN)
		fprintf(out, "%s  and %zu more\n", lead, ig->n - DIR_IGNORED_SHOWN);
}

const char *agency_status_name(char buf[DECONF_ENUM_NAME_SIZE], int status)
{
	return deconf_enum_name(buf, DECONF_ENUM_NAME_SIZE, &deconf__v1__agency_status__descriptor,
				status, "?");
}

int cmd_agency_list(struct fed *f, int argc, char **argv)
{
	struct brk_directory *dir;
	struct dir_ignored ig;
	struct brk_agency a;
	struct brk_ctl_kafka *k;
	int missing, rc;

	if ((rc = no_options(argc, argv, "agency list")))
		return rc;
	if (optind != argc)
		return usage_error("agency list", "unexpected argument '%s'", argv[optind]);
	if (!(k = fed_kafka(f, RD_KAFKA_CONSUMER, NULL, NULL)))
		return 1;
	rc = read_directory(f, k, &dir, &ig, &missing);
	brk_ctl_kafka_free(k);
	if (rc)
		return 1;
	if (missing) {
		brk_directory_free(dir);
		return fail(1, "%sdirectory: no such topic on this cluster (deconfctl topics apply "
			       "creates it): no agency is known",
			    f->prefix);
	}
	printf("%-24s %-10s %-13s %-3s %-32s %s\n", "AGENCY", "STATUS", "LEVEL", "CC", "NAME",
	       "DISCLOSED TO");
	for (size_t i = 0; !brk_directory_at(dir, i, &a); i++) {
		/* checked by the directory (no control characters); escaped
		 * for the terminal all the same */
		char name[4 * BRK_TEXT_MAX], cc[32], text[2048];
		char sb[DECONF_ENUM_NAME_SIZE], lb[DECONF_ENUM_NAME_SIZE];

		char scope[512];
		Deconf__V1__DisclosureScope *sc =
			a.scope_len ? deconf__v1__disclosure_scope__unpack(NULL, a.scope_len, a.scope)
				    : NULL;
		deconf_scope_text(sc, scope, sizeof(scope));
		if (sc)
			deconf__v1__disclosure_scope__free_unpacked(sc, NULL);
		printf("%-24s %-10s %-13s %-3s %-32s %s\n", a.id, agency_status_name(sb, a.status),
		       level_name(lb, a.level),
		       deconf_text_for_terminal(cc, sizeof(cc), a.country, strlen(a.country)),
		       deconf_text_for_terminal(name, sizeof(name), a.name, strlen(a.name)),
		       deconf_text_for_terminal(text, sizeof(text), scope, strlen(scope)));
	}
	directory_say_ignored(&ig, stdout, "");
	brk_directory_free(dir);
	return 0;
}
