/*
 * federation.c — deconfctl federation init | rotate-key | epochs: the
 * federation's CA and keys, its key epochs record, and the writer of the
 * directory topic (records sealed with the federation's key).
 */
#include <dirent.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/util.h"
#include "deconf/pki.h"

/* -------------------------------------------------- the directory topic */

int publish_directory(struct fed *f, struct brk_ctl_kafka *k, const struct dir_record *r,
		      size_t n)
{
	struct brk_ctl_record *rec = calloc(n ? n : 1, sizeof(*rec));
	uint8_t **bufs = calloc(n ? n : 1, sizeof(*bufs));
	char errstr[1024], topic[256];
	int rc = 0;

	if (!rec || !bufs) {
		free(rec);
		free(bufs);
		return fail(1, "out of memory");
	}
	snprintf(topic, sizeof(topic), "%sdirectory", f->prefix);
	if (fed_signing_key(f, "nothing was published")) {
		free(rec);
		free(bufs);
		return 1;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		size_t len;
		if ((rc = deconf_envelope_seal(r[i].msg, r[i].type, "federation", f->key, &bufs[i],
					       &len)))
			rc = fail(1, "sealing a directory record: %s", deconf_strerror(rc));
		else
			rec[i] = (struct brk_ctl_record){ r[i].key, r[i].key_len, bufs[i], len };
	}
	if (!rc && brk_ctl_kafka_publish(k, topic, rec, n, errstr, sizeof(errstr)))
		rc = fail(1, "%s", errstr);
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(rec);
	return rc;
}

/* ----------------------------------------------------------- key epochs */

/*
 * Which key epochs tokens may use is the federation's decision: a KeyEpochs
 * record signed with the federation's key, on the directory topic under
 * KEY_EPOCHS_KEY (never an agency id: those start with [a-z0-9]). The
 * federation directory keeps the last record made in KEY_EPOCHS_FILE, so
 * republishing it is idempotent (readers ignore a serial they already hold).
 */
#define KEY_EPOCHS_FILE "key-epochs.pb"
/* an epoch retired longer ago than this is dropped from the next record */
#define EPOCH_KEEP_MS (30 * DAY_MS)

void epochs_free(struct epochs *ep)
{
	free(ep->v);
	memset(ep, 0, sizeof(*ep));
}

static int epochs_add(struct epochs *ep, uint32_t epoch, int64_t activated_at, int64_t retire_at)
{
	Deconf__V1__KeyEpoch e = DECONF__V1__KEY_EPOCH__INIT;

	if (DECONF_GROW(ep->v, ep->n, ep->cap, 4))
		return DECONF_E_NOMEM;
	e.epoch = epoch;
	e.activated_at = activated_at;
	e.retire_at = retire_at;
	ep->v[ep->n++] = e;
	return DECONF_OK;
}

/* ep as a message; the returned pointer array (msg->epochs) is the
 * caller's to free, and ep must outlive msg. NULL when out of memory. */
static Deconf__V1__KeyEpoch **epochs_msg(const struct epochs *ep, Deconf__V1__KeyEpochs *msg)
{
	Deconf__V1__KeyEpochs init = DECONF__V1__KEY_EPOCHS__INIT;
	Deconf__V1__KeyEpoch **pv = calloc(ep->n ? ep->n : 1, sizeof(*pv));

	*msg = init;
	if (!pv)
		return NULL;
	for (size_t i = 0; i < ep->n; i++)
		pv[i] = &ep->v[i];
	msg->n_epochs = ep->n;
	msg->epochs = pv;
	msg->updated_at = ep->updated_at;
	msg->serial = ep->serial;
	return pv;
}

/* Write ep to path (packed KeyEpochs, 0644: it holds no secret). */
static int epochs_save(const struct epochs *ep, const char *path, char *errstr, size_t errstr_size)
{
	Deconf__V1__KeyEpochs msg;
	Deconf__V1__KeyEpoch **pv = epochs_msg(ep, &msg);
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (!pv || !(buf = malloc((len = deconf__v1__key_epochs__get_packed_size(&msg)) + 1))) {
		free(pv);
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	}
	deconf__v1__key_epochs__pack(&msg, buf);
	rc = deconf_file_write(path, buf, len, 0644, 0, errstr, errstr_size);
	free(buf);
	free(pv);
	return rc;
}

/* Read KEY_EPOCHS_FILE: 0, ENOENT (a federation made before it), or an
 * error with errstr. */
static int epochs_read(struct epochs *ep, char *errstr, size_t errstr_size)
{
	Deconf__V1__KeyEpochs *m;
	char *buf;
	size_t len;
	int rc;

	memset(ep, 0, sizeof(*ep));
	if ((rc = deconf_file_read(KEY_EPOCHS_FILE, 1 << 20, 0, &buf, &len, errstr, errstr_size)))
		return rc;
	m = deconf__v1__key_epochs__unpack(NULL, len, (const uint8_t *)buf);
	free(buf);
	if (!m)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s: not a KeyEpochs record", KEY_EPOCHS_FILE);
	rc = m->serial && m->n_epochs ? DECONF_OK : DECONF_E_MALFORMED;
	for (size_t i = 0; i < m->n_epochs && !rc; i++) {
		if (!m->epochs[i]->epoch || (i && m->epochs[i]->epoch <= m->epochs[i - 1]->epoch))
			rc = DECONF_E_MALFORMED;
		else
			rc = epochs_add(ep, m->epochs[i]->epoch, m->epochs[i]->activated_at,
					m->epochs[i]->retire_at);
	}
	ep->serial = m->serial;
	ep->updated_at = m->updated_at;
	deconf__v1__key_epochs__free_unpacked(m, NULL);
	if (rc) {
		epochs_free(ep);
		return deconf_err_set(errstr, errstr_size, rc,
				      "%s: %s (no serial, no epoch, or epochs not ascending)",
				      KEY_EPOCHS_FILE, deconf_strerror(rc));
	}
	return DECONF_OK;
}

/* When epoch was made (ms), from federation.keys' "epoch N HEX created T"
 * lines (the keyring API keeps it to itself); 0 if not found. */
static int64_t ring_created_ms(const char *text, uint32_t epoch)
{
	for (const char *p = text; p && *p;) {
		unsigned long e;
		long long t;
		if (sscanf(p, "epoch %lu %*s created %lld", &e, &t) == 2 && e == epoch)
			return t > 0 && t < INT64_MAX / 1000 ? (int64_t)t * 1000 : 0;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return 0;
}

/*
 * The federation's key epochs: KEY_EPOCHS_FILE, or for a federation made
 * before deconfctl kept it, one built from federation.keys (every epoch live
 * since it was made, serial 1). An epoch federation.keys holds above the
 * record's newest (a rotate-key stopped between the two files, or made by
 * an older deconfctl) is added live, under the next serial. What changed is
 * saved, and said. Returns 0 or an exit status, the reason printed.
 */
int epochs_load(struct epochs *ep)
{
	struct deconf_keyring *ring = NULL;
	char errstr[1024], *text = NULL;
	int64_t now = deconf_now_ms();
	size_t added = 0;
	int rc;

	memset(ep, 0, sizeof(*ep));
	if (deconf_keyring_load(&ring, "federation.keys", errstr, sizeof(errstr)) ||
	    deconf_file_read("federation.keys", 1 << 20, 1, &text, NULL, errstr, sizeof(errstr))) {
		rc = fail(1, "%s", errstr);
		goto out;
	}
	if ((rc = epochs_read(ep, errstr, sizeof(errstr))) == ENOENT) {
		rc = 0;
		ep->serial = 1;
		ep->updated_at = now;
		for (size_t i = 0; i < deconf_keyring_count(ring) && !rc; i++) {
			uint32_t e = deconf_keyring_epoch_at(ring, i);
			rc = epochs_add(ep, e, ring_created_ms(text, e), 0);
		}
		if (rc) {
			rc = fail(1, "%s", deconf_strerror(rc));
			goto out;
		}
		printf("key epochs: no %s (a federation made before it was kept): built from "
		       "federation.keys, every epoch live, serial 1\n",
		       KEY_EPOCHS_FILE);
		added = 1;
	} else if (rc) {
		rc = fail(1, "%s", errstr);
		goto out;
	} else {
		uint32_t newest = ep->v[ep->n - 1].epoch;
		for (size_t i = 0; i < ep->n; i++)
			if (!deconf_keyring_key(ring, ep->v[i].epoch)) {
				rc = fail(1, "%s lists epoch %" PRIu32 ", which federation.keys does "
					     "not hold: restore federation.keys from its backup",
					  KEY_EPOCHS_FILE, ep->v[i].epoch);
				goto out;
			}
		for (size_t i = 0; i < deconf_keyring_count(ring); i++) {
			uint32_t e = deconf_keyring_epoch_at(ring, i);
			if (e <= newest)
				continue;
			if ((rc = epochs_add(ep, e, ring_created_ms(text, e), 0))) {
				rc = fail(1, "%s", deconf_strerror(rc));
				goto out;
			}
			fprintf(stderr,
				"deconfctl: federation.keys holds epoch %" PRIu32 ", which %s "
				"does not list (a rotate-key that did not finish?): it is added "
				"live; older epochs stay live until the next rotate-key\n",
				e, KEY_EPOCHS_FILE);
			added++;
		}
		if (added) {
			ep->serial++;
			ep->updated_at = now;
		}
	}
	if (added && epochs_save(ep, KEY_EPOCHS_FILE, errstr, sizeof(errstr)))
		rc = fail(1, "%s", errstr);
out:
	if (rc)
		epochs_free(ep);
	deconf_keyring_free(ring);
	free(text);
	return rc;
}

/*
 * The next record when new_epoch is made current at now: every older live
 * epoch retires at now + overlap, an epoch already retiring keeps its time,
 * one retired more than EPOCH_KEEP_MS ago is dropped (its entries are long
 * gone), and the serial moves on.
 */
static int epochs_rotate(struct epochs *ep, uint32_t new_epoch, int64_t now, int64_t overlap_ms)
{
	size_t k = 0;

	for (size_t i = 0; i < ep->n; i++) {
		if (!ep->v[i].retire_at)
			ep->v[i].retire_at = now + overlap_ms;
		else if (ep->v[i].retire_at < now - EPOCH_KEEP_MS)
			continue;
		ep->v[k++] = ep->v[i];
	}
	ep->n = k;
	ep->serial++;
	ep->updated_at = now;
	return epochs_add(ep, new_epoch, now, 0);
}

/* ms as ISO 8601 UTC, e.g. 2025-11-28T03:20:00Z. */
static const char *iso_utc(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms)
		snprintf(buf, size, "unknown");
	else if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%" PRId64 " ms", ms);
	return buf;
}

static void epochs_print(const struct epochs *ep, int64_t now)
{
	char a[64], b[64];

	printf("key epochs: serial %" PRIu64 ", decided %s\n", ep->serial,
	       iso_utc(ep->updated_at, a, sizeof(a)));
	for (size_t i = 0; i < ep->n; i++) {
		const Deconf__V1__KeyEpoch *e = &ep->v[i];
		printf("  epoch %-4" PRIu32 " activated %-20s  ", e->epoch,
		       iso_utc(e->activated_at, a, sizeof(a)));
		if (!e->retire_at)
			printf("live%s\n", i == ep->n - 1 ? ", current" : "");
		else
			printf("%s %s\n", e->retire_at > now ? "retires" : "retired",
			       iso_utc(e->retire_at, b, sizeof(b)));
	}
}

/* "1 (retires 2025-...Z), 2": the epochs of ep, for one line. */
static const char *epochs_summary(const struct epochs *ep, char *buf, size_t size)
{
	size_t off = 0;
	char t[64];

	buf[0] = '\0';
	for (size_t i = 0; i < ep->n && off < size; i++) {
		const Deconf__V1__KeyEpoch *e = &ep->v[i];
		int w = e->retire_at ? snprintf(buf + off, size - off, "%s%" PRIu32 " (retire%s %s)",
						i ? ", " : "", e->epoch,
						e->retire_at > deconf_now_ms() ? "s" : "d",
						iso_utc(e->retire_at, t, sizeof(t)))
				     : snprintf(buf + off, size - off, "%s%" PRIu32, i ? ", " : "",
						e->epoch);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

/* Publish ep (alone, or after an agency's entry) through k and say so
 * once Kafka confirmed it. */
int epochs_publish(struct fed *f, struct brk_ctl_kafka *k, const struct epochs *ep,
		   const Deconf__V1__DirectoryEntry *entry)
{
	Deconf__V1__KeyEpochs msg;
	Deconf__V1__KeyEpoch **pv = epochs_msg(ep, &msg);
	struct dir_record r[2];
	size_t n = 0;
	char sum[1024];
	int rc;

	if (!pv)
		return fail(1, "out of memory");
	if (entry)
		r[n++] = (struct dir_record){ entry->agency_id.data, entry->agency_id.len,
					      K(MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY),
					      &entry->base };
	r[n++] = (struct dir_record){ KEY_EPOCHS_KEY, strlen(KEY_EPOCHS_KEY),
				      K(MESSAGE_TYPE__MESSAGE_TYPE_KEY_EPOCHS), &msg.base };
	if (!(rc = publish_directory(f, k, r, n)))
		printf("key epochs: serial %" PRIu64 " published (epochs: %s)\n", ep->serial,
		       epochs_summary(ep, sum, sizeof(sum)));
	free(pv);
	return rc;
}

int cmd_federation_init(int argc, char **argv)
{
	static const struct option o[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "bootstrap", required_argument, NULL, 'b' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "plaintext", no_argument, NULL, 'T' },
		{ "ca-cert", required_argument, NULL, 'C' },
		{ "ca-key", required_argument, NULL, 'K' },
		{ "ca-passphrase-file", required_argument, NULL, 'F' },
		{ "ca-passphrase", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_cert = NULL, *ca_key = NULL;
	struct deconf_pki_pass pass = { 0 };
	const char *hosts[16] = { "localhost", "127.0.0.1" }, *bootstrap = "localhost:9093";
	static const char syn[] =
		"federation init DIR [--host NAME]... [--bootstrap HOST:PORT] [--partitions N] "
		"[--prefix P] [--plaintext] [--ca-cert PEM --ca-key PEM] "
		"[--ca-passphrase | --ca-passphrase-file FILE]";
	const char *prefix = "deconf.";
	size_t n_hosts = 2;
	int partitions = 4, plaintext = 0, ch;
	char path[1200], path2[1200], errstr[1024] = "", text[4096], *dir;
	struct deconf_sign_key *key = NULL;
	struct deconf_keyring *ring = NULL;
	uint32_t epoch = 0;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		switch (ch) {
		case 'H':
			if (n_hosts == 16)
				return usage_error(syn, "too many --host (at most 14)");
			hosts[n_hosts++] = optarg;
			break;
		case 'b': bootstrap = optarg; break;
		case 'p':
			if ((partitions = parse_count(optarg, 1024)) < 1)
				return usage_error(syn, "--partitions %s: 1..1024", optarg);
			break;
		case 'P': prefix = optarg; break;
		case 'T': plaintext = 1; break;
		case 'C': ca_cert = optarg; break;
		case 'K': ca_key = optarg; break;
		case 'F': pass.file = optarg; break;
		case 'A': pass.prompt = 1; break;
		default: return bad_option(ch, argv, syn);
		}
	}
	if (optind != argc - 1)
		return usage_error(syn, optind < argc ? "one directory, not '%s' too"
						      : "the federation's directory is missing%s",
				   optind < argc ? argv[argc - 1] : "");
	if (!ca_cert != !ca_key)
		return usage_error(syn, "--ca-cert and --ca-key go together");
	if (pass.file && pass.prompt)
		return usage_error(syn, "--ca-passphrase asks on the terminal, "
					"--ca-passphrase-file reads a file: one of them");
	if (pass.prompt && !isatty(0))
		return usage_error(syn, "--ca-passphrase: standard input is not a terminal "
					"(--ca-passphrase-file FILE)");
	/* an organisation's CA key encrypted: asked for when needed */
	if (ca_key && !pass.file)
		pass.prompt = 1;
	dir = argv[optind];
	snprintf(path, sizeof(path), "%s/deconfctl.conf", dir);
	if (!access(path, F_OK))
		return fail(1, "%s: a federation exists there; refusing to overwrite it", dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return fail(1, "%s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/agencies", dir);
	if (mkdir(path, 0700) && errno != EEXIST)
		return fail(1, "%s: %s", path, strerror(errno));
	/* the CA and the broker's certificate */
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	snprintf(path2, sizeof(path2), "%s/ca.key", dir);
	if (ca_cert) {
		/* the organisation's CA, which its Kafka brokers already trust */
		char *pem = NULL;
		size_t len;
		int rc = deconf_file_read(ca_cert, 1 << 20, 0, &pem, &len, errstr, sizeof(errstr));
		if (!rc)
			rc = deconf_file_write(path, pem, len, 0644, 1, errstr, sizeof(errstr));
		free(pem);
		pem = NULL;
		/* the key that makes Kafka principals: refused if others can read it */
		if (!rc)
			rc = deconf_file_read(ca_key, 1 << 20, 1, &pem, &len, errstr, sizeof(errstr));
		if (!rc)
			rc = deconf_file_write(path2, pem, len, 0600, 1, errstr, sizeof(errstr));
		if (pem)
			OPENSSL_cleanse(pem, len);
		free(pem);
		if (rc)
			return fail(1, "%s", errstr);
	} else if (deconf_pki_ca_new(path, path2, "deconf federation CA", 3650, &pass, errstr,
				  sizeof(errstr))) {
		return fail(1, "%s", errstr);
	}
	{
		char cert[1200], kp[1200];
		snprintf(cert, sizeof(cert), "%s/broker.pem", dir);
		snprintf(kp, sizeof(kp), "%s/broker.key", dir);
		if (deconf_pki_issue(path, path2, &pass, "deconf-broker", hosts, n_hosts, 1, CERT_DAYS, cert, kp,
				  errstr, sizeof(errstr)))
			return fail(1, "%s", errstr);
	}
	/* two Ed25519 keys: the federation key signs the directory (whoever
	 * holds it can add and re-key agencies: the operator keeps it offline;
	 * the broker gets only federation.pub), the broker's signs notices */
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir,
			 i ? "broker-signing.key" : "federation-signing.key");
		snprintf(path2, sizeof(path2), "%s/%s", dir, i ? "broker.pub" : "federation.pub");
		if (deconf_sign_key_generate(&key, errstr, sizeof(errstr)) ||
		    deconf_sign_key_save_private(key, path, errstr, sizeof(errstr)) ||
		    deconf_sign_key_save_public(key, path2, errstr, sizeof(errstr))) {
			deconf_sign_key_free(key);
			return fail(1, "%s", errstr);
		}
		deconf_sign_key_free(key);
		key = NULL;
	}
	/* the federation key: agencies make tokens with it; the broker never
	 * loads it */
	snprintf(path, sizeof(path), "%s/federation.keys", dir);
	if (deconf_keyring_new(&ring) || deconf_keyring_rotate(ring, &epoch) ||
	    deconf_keyring_save(ring, path, 1, errstr, sizeof(errstr))) {
		deconf_keyring_free(ring);
		return fail(1, "%s", errstr);
	}
	deconf_keyring_free(ring);
	/* the live epochs, published by topics apply (no Kafka yet) */
	{
		struct epochs ep = { .serial = 1, .updated_at = deconf_now_ms() };
		snprintf(path, sizeof(path), "%s/%s", dir, KEY_EPOCHS_FILE);
		if (epochs_add(&ep, epoch, ep.updated_at, 0) ||
		    epochs_save(&ep, path, errstr, sizeof(errstr))) {
			epochs_free(&ep);
			return fail(1, "%s", errstr[0] ? errstr : "out of memory");
		}
		epochs_free(&ep);
	}
	snprintf(text, sizeof(text),
		 "; deconf broker — made by deconfctl federation init. Run it from this\n"
		 "; directory: deconf-broker -c broker.conf (all keys: --help-config).\n"
		 "[broker]\nsigning_key = broker-signing.key\nfederation_key = federation.pub\n"
		 "topic_prefix = %s\ninstance = 1\n"
		 "[matcher]\nstate_dir = broker-state\n"
		 "[http]\naddress = 127.0.0.1\nport = 9464\n"
		 "[kafka]\nbootstrap.servers = %s\n%s",
		 prefix, bootstrap,
		 plaintext ? ""
			   : "security.protocol = ssl\nssl.ca.location = ca.pem\n"
			     "ssl.certificate.location = broker.pem\nssl.key.location = broker.key\n");
	snprintf(path, sizeof(path), "%s/broker.conf", dir);
	if (write_text(path, text, 0600))
		return 1;
	snprintf(text, sizeof(text),
		 "; how deconfctl reaches Kafka (as the broker's principal)\n"
		 "[federation]\ntopic_prefix = %s\npartitions = %d\n"
		 "signing_key = federation-signing.key\npublic_key = federation.pub\n"
		 "broker_public_key = broker.pub\n"
		 "[kafka]\nbootstrap.servers = %s\n%s",
		 prefix, partitions, bootstrap,
		 plaintext ? ""
			   : "security.protocol = ssl\nssl.ca.location = ca.pem\n"
			     "ssl.certificate.location = broker.pem\nssl.key.location = broker.key\n");
	snprintf(path, sizeof(path), "%s/deconfctl.conf", dir);
	if (write_text(path, text, 0600))
		return 1;
	printf("federation created in %s:\n"
	       "  ca.pem, ca.key            the federation CA (keep ca.key offline)\n"
	       "  broker.pem, broker.key    the broker's TLS certificate (SAN:",
	       dir);
	for (size_t i = 0; i < n_hosts; i++)
		printf(" %s", hosts[i]);
	printf(")\n"
	       "  federation-signing.key    the federation key: signs the directory (who holds it\n"
	       "                            can add and re-key agencies): move it OFFLINE now;\n"
	       "                            deconfctl asks for it only to change the directory\n"
	       "  federation.pub            its public half (the broker checks the directory with it)\n"
	       "  broker-signing.key        the broker's Ed25519 key (notices); broker.pub its public half\n"
	       "  federation.keys           the token key, epoch %u (agencies get it; the broker never)\n"
	       "  key-epochs.pb             the live key epochs, signed and published by topics apply\n"
	       "  broker.conf               deconf-broker -c broker.conf, run from %s\n"
	       "next: deconfctl -f %s agency add ID --name ... (then topics apply)\n",
	       epoch, dir, dir);
	return 0;
}

/*
 * Add epoch N+1 to the federation key file and to every agency's bundle,
 * then decide the epochs anew (N+1 live, the older ones retiring after the
 * overlap), keep the record and publish it.
 */
int cmd_rotate_key(struct fed *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "overlap", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] = "federation rotate-key [--overlap DURATION]";
	struct deconf_keyring *ring = NULL;
	struct brk_ctl_kafka *k = NULL;
	struct epochs ep;
	char errstr[1024], path[1200], when[64];
	int64_t overlap = 30 * DAY_MS, now;
	uint32_t epoch = 0;
	DIR *d;
	struct dirent *de;
	int n = 0, ch, rc = 1;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		if (ch != 'o')
			return bad_option(ch, argv, syn);
		if ((overlap = parse_duration_ms(optarg)) < 0)
			return usage_error(syn, "--overlap %s: a duration like 30d, 12h, 90m or 0, at "
						"most 3650d",
					   optarg);
	}
	if (optind != argc)
		return usage_error(syn, "unexpected argument '%s'", argv[optind]);
	/* the record as it stands, before anything changes */
	if (epochs_load(&ep))
		return 1;
	/* Kafka first: a rotation the broker cannot be told of would leave the
	 * new key in every bundle and its tokens refused */
	if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, publisher_props,
			    "nothing was rotated (federation.keys and key-epochs.pb are unchanged)")))
		goto out;
	if (deconf_keyring_load(&ring, "federation.keys", errstr, sizeof(errstr))) {
		fail(1, "%s", errstr);
		goto out;
	}
	if (deconf_keyring_rotate(ring, &epoch) ||
	    deconf_keyring_save(ring, "federation.keys", 0, errstr, sizeof(errstr))) {
		fail(1, "federation.keys: %s", errstr);
		goto out;
	}
	/* federation.keys first: an epoch it holds and the record lacks is
	 * added by the next command (epochs_load); the reverse could not be
	 * repaired */
	now = deconf_now_ms();
	if (epochs_rotate(&ep, epoch, now, overlap) ||
	    epochs_save(&ep, KEY_EPOCHS_FILE, errstr, sizeof(errstr))) {
		fail(1, "epoch %" PRIu32 " is in federation.keys, but %s: %s", epoch,
		     KEY_EPOCHS_FILE, errstr);
		goto out;
	}
	/* each bundle gets the whole ring: the old epochs still verify and
	 * resubmit knows which entries to move */
	if ((d = opendir("agencies"))) {
		while ((de = readdir(d))) {
			struct stat st;
			snprintf(path, sizeof(path), "agencies/%s", de->d_name);
			if (de->d_name[0] == '.' || stat(path, &st) || !S_ISDIR(st.st_mode))
				continue;
			snprintf(path, sizeof(path), "agencies/%s/federation.keys", de->d_name);
			if (deconf_keyring_save(ring, path, 0, errstr, sizeof(errstr))) {
				closedir(d);
				fail(1, "%s (epoch %" PRIu32 " is in federation.keys and %s, and "
					"not yet published: deconfctl federation rotate-key is not done)",
				     errstr, epoch, KEY_EPOCHS_FILE);
				goto out;
			}
			n++;
		}
		closedir(d);
	}
	if (epochs_publish(f, k, &ep, NULL)) {
		fail(1, "epoch %" PRIu32 " is in federation.keys and in %d bundle(s), and the key "
			"epochs record (serial %" PRIu64 ") was saved in %s but not published: the "
			"broker refuses tokens under epoch %" PRIu32 " until it is. Do not hand out the "
			"new federation.keys yet; `deconfctl federation epochs --publish` retries",
		     epoch, n, ep.serial, KEY_EPOCHS_FILE, epoch);
		goto out;
	}
	printf("federation key rotated: epoch %" PRIu32 " is current. %d bundle(s) updated "
	       "(agencies/ID/federation.keys):\n"
	       "give each agency its new federation.keys; it replaces its own and runs\n"
	       "`deconf-adapter -c agency.conf resubmit`, which republishes its live entries\n"
	       "under epoch %" PRIu32 ". Matching happens within one epoch, so an agency is matched\n"
	       "across the rotation once both sides have resubmitted. The epochs that were live\n"
	       "retire at %s (one already retiring keeps its time): from then on the\n"
	       "broker refuses tokens under them and removes their entries (not at their TTL),\n"
	       "so every agency must resubmit before then.\n",
	       epoch, n, epoch, iso_utc(now + overlap, when, sizeof(when)));
	rc = 0;
out:
	brk_ctl_kafka_free(k);
	deconf_keyring_free(ring);
	epochs_free(&ep);
	return rc;
}

/* Print the federation's key epochs; with --publish, publish them again. */
int cmd_epochs(struct fed *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "publish", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] = "federation epochs [--publish]";
	struct brk_ctl_kafka *k;
	struct epochs ep;
	int publish = 0, rc = 0, ch;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		if (ch != 'p')
			return bad_option(ch, argv, syn);
		publish = 1;
	}
	if (optind != argc)
		return usage_error(syn, "unexpected argument '%s'", argv[optind]);
	if (epochs_load(&ep))
		return 1;
	epochs_print(&ep, deconf_now_ms());
	if (publish) {
		if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, publisher_props,
				    "the key epochs record was not published")))
			rc = 1;
		else
			rc = epochs_publish(f, k, &ep, NULL);
		brk_ctl_kafka_free(k);
	}
	epochs_free(&ep);
	return rc;
}
