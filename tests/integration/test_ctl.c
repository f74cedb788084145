/*
 * test_ctl.c — deconfctl never claims what did not happen, on the real
 * Kafka (and on its own dev-kafka):
 *
 *   - bad usage (an unknown option, a stray argument) is refused with the
 *     command's usage and status 2 before anything is done, by deconfctl
 *     (every command) and by deconf-broker;
 *   - with nothing listening at the bootstrap address, every command that
 *     needs Kafka says "cannot reach Kafka at HOST:PORT (cause)" within its
 *     timeout (--timeout, DECONF_CTL_TIMEOUT, 10 s by default) and exits 1,
 *     having changed nothing: agency list prints no table, agency add makes
 *     no bundle, rotate-key rotates nothing;
 *   - run with an agency's certificate instead of the broker's, every
 *     publication to the directory is refused by Kafka's ACLs: each command
 *     exits 1 naming the cause, prints nothing as done, and the directory
 *     topic holds nothing of it;
 *   - offsets show reports records that DeleteRecords removed below a
 *     group's committed offset; accept-loss refuses while the group has a
 *     member, then commits the log start and says exactly what was lost;
 *     show is clean after;
 *   - the directory is read as the broker reads it (directory.c): a record
 *     signed by the federation whose key is not its entry's agency id, and
 *     one not signed by the federation, are not listed, alter no agency,
 *     and are said to be ignored, with their offsets;
 *   - dev-kafka says what it keeps, makes an agency's topics as its entry
 *     appears (receipts: one partition), says when it drops records, and
 *     topics apply there says what it does and succeeds.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP, _TLS and _TLS_DIR; exits 77 without them.
 */
#include <sys/prctl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/envelope.h"
#include "deconf/kafka.h"
#include "deconf/sign.h"
#include "deconf/util.h"

static const char *bootstrap, *bootstrap_tls, *tls_dir;
static char top[128], prefix[32];
static pid_t dev_pid;

static void kill_children(void)
{
	if (dev_pid > 0)
		kill(dev_pid, SIGKILL);
}

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The file at d/name, NUL-terminated (free it); "" if it is missing. */
static char *slurp(const char *d, const char *name)
{
	char path[512], *text = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", d, name);
	if (deconf_file_read(path, 16 << 20, 0, &text, &len, NULL, 0))
		return strdup("");
	return text;
}

/* Asserts that the file d/name contains (want) or lacks (!want) s. */
static void check(const char *d, const char *name, const char *s, int want)
{
	char *text = slurp(d, name);

	if ((strstr(text, s) != NULL) != want) {
		fprintf(stderr, "%s/%s %s '%s':\n%s\n", d, name, want ? "lacks" : "has", s, text);
		fail();
	}
	free(text);
}

/* Asserts that the file d/name is empty. */
static void check_empty(const char *d, const char *name)
{
	char *text = slurp(d, name);

	if (text[0]) {
		fprintf(stderr, "%s/%s is not empty:\n%s\n", d, name, text);
		fail();
	}
	free(text);
}

/* A row of offsets show for topic [partition]: committed, log start, end. */
static const char *row(char *buf, size_t size, const char *topic, int partition, const char *c,
		       const char *lo, const char *hi)
{
	char tp[300];

	snprintf(tp, sizeof(tp), "%s [%d]", topic, partition);
	snprintf(buf, size, "  %-40s %12s %12s %12s", tp, c, lo, hi);
	return buf;
}

/* deconfctl ARGS in federation fed, stdout to top/out.txt and stderr to
 * top/err.txt; its exit status, *ms how long it took. */
__attribute__((format(printf, 3, 4))) static int ctl(const char *fed, int64_t *ms,
						      const char *fmt, ...)
{
	char args[2048];
	va_list ap;
	int64_t t0 = deconf_mono_us();
	int rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	rc = sh("'%s' -f '%s' %s >'%s/out.txt' 2>'%s/err.txt'", CTL_BIN, fed, args, top, top);
	if (ms)
		*ms = (deconf_mono_us() - t0) / 1000;
	return rc;
}

static rd_kafka_t *plain_client(rd_kafka_type_t type, const char *const *props)
{
	rd_kafka_conf_t *kc = NULL;
	char errstr[512];
	rd_kafka_t *rk;

	assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-ctl", errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers", bootstrap, "t", errstr,
					       sizeof(errstr)),
			 0);
	for (size_t i = 0; props && props[i]; i += 2)
		assert_int_equal(deconf_kafka_conf_set(kc, props[i], props[i + 1], "t", errstr,
						       sizeof(errstr)),
				 0);
	assert_non_null(rk = deconf_kafka_new(type, kc, errstr, sizeof(errstr)));
	return rk;
}

/* n records of size bytes each to topic [partition], all delivered. */
static void produce(const char *bs, const char *topic, int32_t partition, int n, size_t size)
{
	const char *const props[] = { "bootstrap.servers", bs, "linger.ms", "5", NULL };
	rd_kafka_t *rk = plain_client(RD_KAFKA_PRODUCER, props);
	char *buf = calloc(1, size);

	assert_non_null(buf);
	for (int i = 0; i < n; i++) {
		rd_kafka_resp_err_t err;
		while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
						RD_KAFKA_V_PARTITION(partition),
						RD_KAFKA_V_VALUE(buf, size),
						RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 10);
		assert_int_equal(err, 0);
		rd_kafka_poll(rk, 0);
	}
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	free(buf);
	rd_kafka_destroy(rk);
}

/* A plaintext federation of its own prefix pfx at top/name, its topics
 * made; its directory path in fed. */
static void plain_federation(const char *name, const char *pfx, char *fed, size_t size)
{
	snprintf(fed, size, "%s/%s", top, name);
	assert_int_equal(sh("'%s' federation init '%s' --plaintext --bootstrap %s --prefix %s "
			    "--partitions 2 >/dev/null && '%s' -f '%s' topics apply >/dev/null",
			    CTL_BIN, fed, bootstrap, pfx, CTL_BIN, fed),
			 0);
}

/* ------------------------------------------------------------------ usage */

/* Refused before anything is done: status 2, the usage, and no wait for
 * the (unreachable) Kafka. */
static void test_bad_usage_refused(void **state)
{
	static const char *const bad[] = {
		"--bogus status",
		"--timeout 0 status",
		"--timeout x status",
		"status --bogus",
		"status extra",
		"agency list --bogus",
		"agency list extra",
		("agency add us-a --name A --level state --country US --poc-name x --poc-phone 1 "
		 "--poc-email x@y --bogus"),
		("agency add us-a us-b --name A --level state --country US --poc-name x "
		 "--poc-phone 1 --poc-email x@y"),
		"agency suspend --bogus us-a",
		"agency suspend us-a extra",
		"agency activate",
		"topics apply --bogus",
		"topics apply extra",
		"tail",
		"tail directory --bogus",
		"tail directory extra",
		"federation epochs --bogus",
		"federation epochs --publish extra",
		"federation rotate-key --bogus",
		"federation rotate-key --overlap",
		"federation rotate-key extra",
		"offsets show --bogus",
		"offsets show --partition tokens:0",
		"offsets show --group nope",
		"offsets accept-loss extra",
		"offsets accept-loss --partition tokens",
		"offsets accept-loss --partition tokens:x",
		"offsets",
		"agency",
		"bogus",
	};
	char fed[256];
	int64_t ms;

	(void)state;
	snprintf(fed, sizeof(fed), "%s/usage", top);
	assert_int_equal(sh("'%s' federation init '%s' --plaintext --bootstrap 127.0.0.1:1 "
			    ">/dev/null",
			    CTL_BIN, fed),
			 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ctl(fed, &ms, "%s", bad[i]);
		if (rc != 2 || ms > 2000) {
			fprintf(stderr, "deconfctl %s: status %d after %lld ms\n", bad[i], rc,
				(long long)ms);
			fail();
		}
		check(top, "err.txt", "usage: deconfctl ", 1);
		check_empty(top, "out.txt");
	}
	/* options of commands that need no federation */
	assert_int_equal(ctl(fed, &ms, "federation init '%s/x' --bogus", top), 2);
	check(top, "err.txt", "unknown option '--bogus'", 1);
	assert_int_equal(ctl(fed, &ms, "federation init '%s/x' '%s/y'", top, top), 2);
	assert_int_equal(sh("test -e '%s/x' || test -e '%s/y'", top, top), 1);
	assert_int_equal(ctl(fed, &ms, "dev-kafka --bogus"), 2);
	assert_int_equal(ctl(fed, &ms, "dev-kafka --partitions 0"), 2);
	assert_int_equal(ctl(fed, &ms, "dev-kafka extra"), 2);
	check(top, "err.txt", "unexpected argument 'extra'", 1);
	/* deconf-broker too */
	assert_int_equal(sh("'%s' --bogus >'%s/out.txt' 2>'%s/err.txt'", BROKER_BIN, top, top), 2);
	check(top, "err.txt", "usage: deconf-broker", 1);
	assert_int_equal(sh("cd '%s' && '%s' -c broker.conf extra >'%s/out.txt' 2>'%s/err.txt'",
			    fed, BROKER_BIN, top, top),
			 2);
	check(top, "err.txt", "unexpected argument 'extra'", 1);
	assert_int_equal(sh("cd '%s' && '%s' -c >'%s/out.txt' 2>'%s/err.txt'", fed, BROKER_BIN,
			    top, top),
			 2);
	check(top, "err.txt", "usage: deconf-broker", 1);
}

/* ------------------------------------------------------------ unreachable */

/* Nothing listens on 127.0.0.1:1: each command says so in bounded time and
 * changes nothing. */
static void test_unreachable(void **state)
{
	static const char *const cmds[] = {
		"agency list",
		"status",
		"topics apply",
		"tail directory",
		"tail audit --follow",
		"federation epochs --publish",
		"federation rotate-key",
		("agency add un-a --name A --level state --country US --poc-name x --poc-phone 1 "
		 "--poc-email x@y"),
		"offsets show",
		"offsets accept-loss",
	};
	char fed[256];
	int64_t ms;

	(void)state;
	unsetenv("DECONF_CTL_TIMEOUT");
	snprintf(fed, sizeof(fed), "%s/unreachable", top);
	assert_int_equal(sh("'%s' federation init '%s' --plaintext --bootstrap 127.0.0.1:1 "
			    ">/dev/null",
			    CTL_BIN, fed),
			 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int rc = ctl(fed, &ms, "--timeout 2 %s", cmds[i]);
		if (rc != 1 || ms > 6000) {
			fprintf(stderr, "deconfctl %s: status %d after %lld ms\n", cmds[i], rc,
				(long long)ms);
			fail();
		}
		check(top, "err.txt", "cannot reach Kafka at 127.0.0.1:1 (", 1);
		check(top, "err.txt", "Connection refused", 1);
		/* nothing claimed: no table, nothing published, created, added */
		check(top, "out.txt", "AGENCY", 0);
		check(top, "out.txt", "published", 0);
		check(top, "out.txt", "created", 0);
		check(top, "out.txt", "added", 0);
		check(top, "out.txt", "rotated", 0);
	}
	/* changed nothing */
	assert_int_equal(sh("test -e '%s/agencies/un-a'", fed), 1);
	assert_int_equal(sh("grep -q '^epoch 2 ' '%s/federation.keys'", fed), 1);
	/* the default: 10 s */
	assert_int_equal(ctl(fed, &ms, "agency list"), 1);
	check(top, "err.txt", "cannot reach Kafka at 127.0.0.1:1 (", 1);
	assert_true(ms >= 9000 && ms < 16000);
	/* and DECONF_CTL_TIMEOUT */
	setenv("DECONF_CTL_TIMEOUT", "3", 1);
	assert_int_equal(ctl(fed, &ms, "status"), 1);
	setenv("DECONF_CTL_TIMEOUT", "30", 1); /* the room the other tests get */
	check(top, "err.txt", "cannot reach Kafka at 127.0.0.1:1 (", 1);
	assert_true(ms >= 2500 && ms < 7000);

	/* a federation with a CA of its own against the test Kafka's TLS
	 * listener (whose certificate the test CA signed): said what it is and
	 * what to do, not "0 agencies" */
	snprintf(fed, sizeof(fed), "%s/own-ca", top);
	assert_int_equal(sh("'%s' federation init '%s' --bootstrap %s >/dev/null", CTL_BIN, fed,
			    bootstrap_tls),
			 0);
	assert_int_equal(ctl(fed, &ms, "--timeout 3 topics apply"), 1);
	check(top, "err.txt", "cannot reach Kafka at ", 1);
	check(top, "err.txt", "TLS: Kafka's certificate is not signed by this federation's CA", 1);
	check(top, "err.txt", "--ca-cert FILE --ca-key FILE", 1);
	check(top, "out.txt", "agencies in the directory", 0);
}

/* ----------------------------------------------------------------- denied */

/* The records of pfx's directory topic, as deconfctl tail decodes them, in
 * top/dir.txt (read as the broker, from fed). */
static void tail_directory(const char *fed)
{
	assert_int_equal(sh("'%s' -f '%s' tail directory --from-beginning >'%s/dir.txt'", CTL_BIN,
			    fed, top),
			 0);
}

/*
 * deconfctl run with an agency's certificate instead of the broker's: the
 * directory is the federation's to write, so Kafka refuses every
 * publication. Each command exits 1 with the cause and claims nothing.
 */
static void test_publication_denied(void **state)
{
	char fed[256], as[256], pfx[64], *entry, *entry2;

	(void)state;
	snprintf(fed, sizeof(fed), "%s/den", top);
	snprintf(as, sizeof(as), "%s/den-as-agency", top);
	snprintf(pfx, sizeof(pfx), "%sden.", prefix);
	assert_int_equal(sh("'%s' federation init '%s' --bootstrap %s --prefix %s --partitions 1 "
			    "--ca-cert %s/test-ca.pem --ca-key %s/test-ca.key >/dev/null && "
			    "'%s' -f '%s' topics apply >/dev/null && '%s' -f '%s' agency add den-a "
			    "--name A --level state --country US --poc-name x --poc-phone 1 "
			    "--poc-email x@y >/dev/null && '%s' -f '%s' topics apply >/dev/null",
			    CTL_BIN, fed, bootstrap_tls, pfx, tls_dir, tls_dir, CTL_BIN, fed,
			    CTL_BIN, fed, CTL_BIN, fed),
			 0);
	/* the same federation, reaching Kafka as den-a */
	assert_int_equal(sh("cp -a '%s' '%s' && sed -i "
			    "-e 's#^ssl.certificate.location = .*#ssl.certificate.location = "
			    "agencies/den-a/agency.pem#' "
			    "-e 's#^ssl.key.location = .*#ssl.key.location = "
			    "agencies/den-a/agency.key#' '%s/deconfctl.conf' && "
			    "grep -q 'agencies/den-a/agency.pem' '%s/deconfctl.conf'",
			    fed, as, as, as),
			 0);
	entry = slurp(as, "agencies/den-a.entry");
	/* suspend: refused, the local entry as it was */
	assert_int_equal(ctl(as, NULL, "agency suspend den-a"), 1);
	check(top, "err.txt", "TOPIC_AUTHORIZATION_FAILED", 1);
	check(top, "err.txt", "agency den-a was not made suspended", 1);
	check(top, "out.txt", "now", 0);
	entry2 = slurp(as, "agencies/den-a.entry");
	assert_string_equal(entry, entry2);
	free(entry);
	free(entry2);
	/* the key epochs record */
	assert_int_equal(ctl(as, NULL, "federation epochs --publish"), 1);
	check(top, "err.txt", "publishing to ", 1);
	check(top, "err.txt", "TOPIC_AUTHORIZATION_FAILED", 1);
	check(top, "out.txt", "key epochs: serial 1, decided ", 1);
	check(top, "out.txt", "published", 0);
	/* a rotation: kept locally, said to be unpublished, not "rotated" */
	assert_int_equal(ctl(as, NULL, "federation rotate-key --overlap 1h"), 1);
	check(top, "err.txt", "TOPIC_AUTHORIZATION_FAILED", 1);
	check(top, "err.txt", "(serial 2) was saved in key-epochs.pb but not published", 1);
	check(top, "err.txt", "`deconfctl federation epochs --publish` retries", 1);
	check(top, "out.txt", "rotated", 0);
	check(top, "out.txt", "published", 0);
	/* a new agency: the bundle is there, but it is said not to be in */
	assert_int_equal(ctl(as, NULL, "agency add den-b --name B --level state --country US "
				       "--poc-name x --poc-phone 1 --poc-email x@y"),
			 1);
	check(top, "err.txt", "agency den-b is NOT in the federation yet", 1);
	check(top, "err.txt", "`deconfctl agency activate den-b`", 1);
	check(top, "out.txt", "added", 0);
	/* topics apply: the agency may create nothing */
	assert_int_equal(ctl(as, NULL, "topics apply"), 1);
	check(top, "err.txt", "NOT created", 1);
	check(top, "err.txt", "not allowed", 1);
	check(top, "out.txt", "created topic", 0);
	check(top, "out.txt", "published", 0);
	/* and Kafka holds none of it: den-a active, no den-b, serial 1 only */
	tail_directory(fed);
	check(top, "dir.txt", "\"key\":\"den-a\"", 1);
	check(top, "dir.txt", "\"key\":\"den-b\"", 0);
	check(top, "dir.txt", "AGENCY_STATUS_SUSPENDED", 0);
	check(top, "dir.txt", "\"serial\":2", 0);
	check(top, "dir.txt", "\"serial\":1", 1);
	assert_int_equal(ctl(fed, NULL, "agency list"), 0);
	check(top, "out.txt", "den-a                    active", 1);
	check(top, "out.txt", "den-b", 0);
}

/* ------------------------------------------------------------- directory */

/*
 * A directory entry for agency_id (suspended, named name), sealed with the
 * key in signing_key_path (the federation's, or any other), published to
 * pfx"directory" under record key key. Returns its offset.
 */
static int64_t publish_entry(const char *pfx, const char *key, const char *agency_id,
			     const char *name, const char *signing_key_path)
{
	const char *const props[] = { "enable.idempotence", "true", NULL };
	Deconf__V1__DirectoryEntry e = DECONF__V1__DIRECTORY_ENTRY__INIT;
	struct deconf_sign_key *sk = NULL, *agency = NULL;
	uint8_t pub[DECONF_PUBKEY_LEN], *buf = NULL;
	char topic[128], errstr[512];
	int64_t lo = -1, hi = -1;
	size_t len;
	rd_kafka_t *rk;

	assert_int_equal(deconf_sign_key_load(&sk, signing_key_path, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_generate(&agency, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_public(agency, pub), 0);
	e.agency_id.data = (uint8_t *)agency_id;
	e.agency_id.len = strlen(agency_id);
	e.name = (char *)name;
	e.level = DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_STATE;
	e.country = "US";
	e.signing_public_key.data = pub;
	e.signing_public_key.len = sizeof(pub);
	e.status = DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_SUSPENDED;
	e.updated_at = deconf_now_ms();
	e.tls_principal = (char *)agency_id;
	assert_int_equal(deconf_envelope_seal(&e.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY,
					      "federation", sk, &buf, &len),
			 0);
	snprintf(topic, sizeof(topic), "%sdirectory", pfx);
	rk = plain_client(RD_KAFKA_PRODUCER, props);
	assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
					   RD_KAFKA_V_KEY(key, strlen(key)),
					   RD_KAFKA_V_VALUE(buf, len),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
			 0);
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	/* nothing else writes to this federation's directory meanwhile */
	assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000), 0);
	rd_kafka_destroy(rk);
	free(buf);
	deconf_sign_key_free(agency);
	deconf_sign_key_free(sk);
	return hi - 1;
}

/* deconfctl reads the directory through the broker's reader: what the
 * broker refuses, deconfctl neither lists nor takes for an agency, and it
 * says it ignored it, where. */
static void test_directory_refused_records(void **state)
{
	char fed[256], pfx[64], path[512], other[512], line[512];
	int64_t mismatched, forged;

	(void)state;
	snprintf(pfx, sizeof(pfx), "%sdir.", prefix);
	plain_federation("dir", pfx, fed, sizeof(fed));
	assert_int_equal(ctl(fed, NULL, "agency add dir-a --name Alpha --level state --country US "
					"--poc-name x --poc-phone 1 --poc-email x@y"),
			 0);
	/* signed by the federation, but under dir-a's key an entry of another
	 * agency, suspended: a reader trusting the entry's id would list
	 * dir-m, one trusting the key would suspend dir-a */
	snprintf(path, sizeof(path), "%s/federation-signing.key", fed);
	mismatched = publish_entry(pfx, "dir-a", "dir-m", "Mismatched", path);
	/* under its own key, but signed by a key that is not the federation's */
	snprintf(other, sizeof(other), "%s/agencies/dir-a/signing.key", fed);
	forged = publish_entry(pfx, "dir-f", "dir-f", "Forged", other);
	assert_true(mismatched >= 0 && forged == mismatched + 1);

	assert_int_equal(ctl(fed, NULL, "agency list"), 0);
	check(top, "out.txt",
	      "dir-a                    active     state         US  Alpha                            "
	      "all\n",
	      1);
	check(top, "out.txt", "dir-m", 0);
	check(top, "out.txt", "Mismatched", 0);
	check(top, "out.txt", "suspended", 0);
	check(top, "out.txt", "dir-f ", 0);
	check(top, "out.txt", "Forged", 0);
	check(top, "out.txt", "2 directory record(s) ignored, as the broker ignores them:\n", 1);
	snprintf(line, sizeof(line),
		 "  %sdirectory [0] offset %lld, key dir-a: entry's agency_id differs from the "
		 "record key\n",
		 pfx, (long long)mismatched);
	check(top, "out.txt", line, 1);
	snprintf(line, sizeof(line), "  %sdirectory [0] offset %lld, key dir-f: ", pfx,
		 (long long)forged);
	check(top, "out.txt", line, 1);
	check_empty(top, "err.txt");
	/* status: dir-a active and no other agency; the same said there (on a
	 * Kafka that is still making its consumer offsets topic, status says
	 * the groups' lag is incomplete and exits 1: asked again) */
	for (int i = 0; ctl(fed, NULL, "status"); i++) {
		if (i == 30) {
			sh("cat '%s/out.txt' '%s/err.txt' >&2", top, top);
			fail();
		}
		sleep(1);
	}
	check(top, "out.txt", "  dir-a                    active", 1);
	check(top, "out.txt", "dir-m", 0);
	check(top, "out.txt", "  2 directory record(s) ignored", 1);
	/* topics apply makes no topic for either, and says so on stderr */
	assert_int_equal(ctl(fed, NULL, "topics apply"), 0);
	check(top, "out.txt", "1 agencies in the directory", 1);
	check(top, "out.txt", "dir-m", 0);
	check(top, "out.txt", "dir-f", 0);
	check(top, "err.txt", "deconfctl: 2 directory record(s) ignored", 1);
}

/* ---------------------------------------------------------------- offsets */

/* Commit offset for group on topic [partition], as the group's consumer
 * would (outside any member: the group is empty). */
static void commit(const char *group, const char *topic, int32_t partition, int64_t offset)
{
	const char *const props[] = { "group.id", group, NULL };
	rd_kafka_t *rk = plain_client(RD_KAFKA_CONSUMER, props);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
	assert_int_equal(rd_kafka_commit(rk, l, 0), 0);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
}

/* What group has committed on topic [partition]. */
static int64_t committed(const char *group, const char *topic, int32_t partition)
{
	const char *const props[] = { "group.id", group, NULL };
	rd_kafka_t *rk = plain_client(RD_KAFKA_CONSUMER, props);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int64_t off;

	rd_kafka_topic_partition_list_add(l, topic, partition);
	assert_int_equal(rd_kafka_committed(rk, l, 10000), 0);
	off = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
	return off;
}

/* Remove the records of topic [partition] below offset. */
static void delete_records(const char *topic, int32_t partition, int64_t before)
{
	rd_kafka_t *rk = plain_client(RD_KAFKA_PRODUCER, NULL);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_DeleteRecords_t *del;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev;
	const rd_kafka_topic_partition_list_t *res;

	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = before;
	del = rd_kafka_DeleteRecords_new(l);
	rd_kafka_DeleteRecords(rk, &del, 1, NULL, q);
	assert_non_null(ev = rd_kafka_queue_poll(q, 30000));
	assert_int_equal(rd_kafka_event_error(ev), 0);
	res = rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
	assert_int_equal(res->cnt, 1);
	assert_int_equal(res->elems[0].err, 0);
	assert_int_equal(res->elems[0].offset, before);
	rd_kafka_event_destroy(ev);
	rd_kafka_DeleteRecords_destroy(del);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
}

static void test_offsets_accept_loss(void **state)
{
	char fed[256], pfx[64], tokens[128], submit[128], mgroup[128], igroup[128], line[512];
	rd_kafka_t *member;

	(void)state;
	snprintf(pfx, sizeof(pfx), "%soff.", prefix);
	plain_federation("off", pfx, fed, sizeof(fed));
	assert_int_equal(ctl(fed, NULL, "agency add off-a --name A --level state --country US "
					"--poc-name x --poc-phone 1 --poc-email x@y"),
			 0);
	assert_int_equal(ctl(fed, NULL, "topics apply"), 0);
	snprintf(tokens, sizeof(tokens), "%stokens", pfx);
	snprintf(submit, sizeof(submit), "%ssubmit.off-a", pfx);
	snprintf(mgroup, sizeof(mgroup), "%sbroker-matcher", pfx);
	snprintf(igroup, sizeof(igroup), "%sbroker-ingest", pfx);
	/* the broker read tokens [0] up to 3 and submit [0] up to 2; then
	 * records it had not read were removed */
	produce(bootstrap, tokens, 0, 10, 100);
	produce(bootstrap, submit, 0, 5, 100);
	commit(mgroup, tokens, 0, 3);
	commit(igroup, submit, 0, 2);
	commit(mgroup, tokens, 1, 0);
	delete_records(tokens, 0, 7);
	delete_records(submit, 0, 4);
	/* show: both losses, and a partition that lost nothing */
	assert_int_equal(ctl(fed, NULL, "offsets show"), 0);
	row(line, sizeof(line), tokens, 0, "3", "7", "10");
	strcat(line, "  LOST 4 records (offsets 3..6)\n");
	check(top, "out.txt", line, 1);
	row(line, sizeof(line), submit, 0, "2", "4", "5");
	strcat(line, "  LOST 2 records (offsets 2..3)\n");
	check(top, "out.txt", line, 1);
	row(line, sizeof(line), tokens, 1, "0", "0", "0");
	strcat(line, "\n");
	check(top, "out.txt", line, 1);
	check(top, "out.txt", "6 record(s) lost below the committed offset in 2 partition(s)", 1);
	snprintf(line, sizeof(line), "group %s (reads %stokens): empty, 0 member(s)\n", mgroup, pfx);
	check(top, "out.txt", line, 1);
	assert_int_equal(ctl(fed, NULL, "offsets show --group ingest"), 0);
	check(top, "out.txt", "LOST 2 records", 1);
	check(top, "out.txt", "LOST 4 records", 0);
	/* a partition the groups do not read */
	assert_int_equal(ctl(fed, NULL, "offsets accept-loss --partition ops:0"), 2);
	check(top, "err.txt", "not a partition the broker's groups read", 1);
	/* a broker is running (a member in the group): refused, nothing moved */
	{
		const char *const props[] = { "group.id", mgroup, "enable.auto.commit", "false",
					      "auto.offset.reset", "error", NULL };
		rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1), *a = NULL;
		member = plain_client(RD_KAFKA_CONSUMER, props);
		rd_kafka_poll_set_consumer(member);
		rd_kafka_topic_partition_list_add(sub, tokens, RD_KAFKA_PARTITION_UA);
		assert_int_equal(rd_kafka_subscribe(member, sub), 0);
		rd_kafka_topic_partition_list_destroy(sub);
		for (int i = 0; i < 300; i++) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(member, 100);
			if (m)
				rd_kafka_message_destroy(m);
			assert_int_equal(rd_kafka_assignment(member, &a), 0);
			if (a->cnt) {
				rd_kafka_topic_partition_list_destroy(a);
				break;
			}
			rd_kafka_topic_partition_list_destroy(a);
		}
	}
	assert_int_equal(ctl(fed, NULL, "offsets accept-loss"), 1);
	check(top, "err.txt", "a deconf-broker is running", 1);
	check(top, "err.txt", "nothing was changed", 1);
	check(top, "out.txt", "accepted", 0);
	assert_int_equal(committed(mgroup, tokens, 0), 3);
	assert_int_equal(committed(igroup, submit, 0), 2);
	rd_kafka_consumer_close(member);
	rd_kafka_destroy(member);
	/* stopped: the matcher's loss accepted, exactly; ingest's untouched */
	assert_int_equal(ctl(fed, NULL, "offsets accept-loss --group matcher"), 0);
	snprintf(line, sizeof(line),
		 "accepted: group %s, %s [0]: records 3..6 (4) are lost; its committed offset is "
		 "now 7\n",
		 mgroup, tokens);
	check(top, "out.txt", line, 1);
	check(top, "out.txt", "accepted losing 4 record(s) in 1 partition(s)", 1);
	assert_int_equal(committed(mgroup, tokens, 0), 7);
	assert_int_equal(committed(mgroup, tokens, 1), 0);
	assert_int_equal(committed(igroup, submit, 0), 2);
	/* ingest's, named by partition */
	assert_int_equal(ctl(fed, NULL, "offsets accept-loss --partition submit.off-a:0"), 0);
	snprintf(line, sizeof(line),
		 "accepted: group %s, %s [0]: records 2..3 (2) are lost; its committed offset is "
		 "now 4\n",
		 igroup, submit);
	check(top, "out.txt", line, 1);
	assert_int_equal(committed(igroup, submit, 0), 4);
	/* clean after */
	assert_int_equal(ctl(fed, NULL, "offsets show"), 0);
	check(top, "out.txt", "LOST", 0);
	check(top, "out.txt", "no records lost below a committed offset", 1);
	assert_int_equal(ctl(fed, NULL, "offsets accept-loss"), 0);
	check(top, "out.txt", "nothing to accept", 1);
}

/* -------------------------------------------------------------- dev-kafka */

/* Whether top/name gets s within seconds. */
static int appears(const char *name, const char *s, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		char *text = slurp(top, name);
		int found = strstr(text, s) != NULL;
		free(text);
		if (found)
			return 1;
		usleep(100000);
	}
	return 0;
}

static int partitions_of(const char *bs, const char *topic)
{
	const char *const props[] = { "bootstrap.servers", bs, NULL };
	rd_kafka_t *rk = plain_client(RD_KAFKA_PRODUCER, props);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	int n;

	assert_int_equal(rd_kafka_metadata(rk, 0, rkt, &md, 10000), 0);
	assert_int_equal(md->topics[0].err, 0);
	n = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return n;
}

/*
 * A broker told to stop stops, even when Kafka no longer answers: every wait
 * of its last commits is bounded (a send_offsets_to_transaction without a
 * timeout once kept it, and the quick start's clean-up, waiting for ever).
 * fed runs on dev-kafka (dev_pid), with agency dk-a; dev-kafka is paused
 * (SIGSTOP: connections hang, nothing refuses them) while the broker stops,
 * and continued after.
 */
static void broker_stops_without_kafka(const char *fed)
{
	char path[512];
	int64_t t0;
	pid_t b;
	int st = 0;

	b = fork();
	assert_true(b >= 0);
	if (!b) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(path, sizeof(path), "%s/dev-broker.log", top);
		if (!freopen(path, "w", stderr) || chdir(fed))
			_exit(127);
		snprintf(path, sizeof(path), "matcher.state_dir=%s/dev-state", top);
		execl(BROKER_BIN, BROKER_BIN, "-c", "broker.conf", "--set", "http.port=0", "--set",
		      path, (char *)NULL);
		_exit(127);
	}
	/* something to commit: a case of dk-a, confirmed (its chains moved, so
	 * the stop has a checkpoint to commit) */
	assert_int_equal(sh("cd '%s/agencies/dk-a' && printf 'case_ref,type,value\\nD-1,md5,%s\\n' "
			    "> cases.csv && '%s' -c agency.conf --no-progress submit cases.csv "
			    ">'%s/dev-submit.txt' 2>&1",
			    fed, "0123456789abcdef0123456789abcdef", ADAPTER_BIN, top),
			 0);
	check(top, "dev-submit.txt", "1 accepted", 1);
	assert_int_equal(kill(dev_pid, SIGSTOP), 0);
	t0 = deconf_mono_us();
	kill(b, SIGTERM);
	while (waitpid(b, &st, WNOHANG) == 0 && deconf_mono_us() - t0 < 30 * 1000000LL)
		usleep(100000);
	if (waitpid(b, &st, WNOHANG) == 0) {
		kill(b, SIGKILL);
		waitpid(b, &st, 0);
		kill(dev_pid, SIGCONT);
		fail_msg("the broker did not stop within 30 s of SIGTERM with Kafka paused "
			 "(log: %s/dev-broker.log)",
			 top);
	}
	print_message("the broker stopped %.1f s after SIGTERM, Kafka paused\n",
		      (double)(deconf_mono_us() - t0) / 1e6);
	assert_int_equal(kill(dev_pid, SIGCONT), 0);
}

static void test_dev_kafka(void **state)
{
	char fed[256], bs[128] = "", path[512];
	int st;

	(void)state;
	snprintf(fed, sizeof(fed), "%s/dev", top);
	dev_pid = fork();
	assert_true(dev_pid >= 0);
	if (!dev_pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test, even a crashed one */
		snprintf(path, sizeof(path), "%s/dev.out", top);
		if (!freopen(path, "w", stdout))
			_exit(127);
		snprintf(path, sizeof(path), "%s/dev.err", top);
		if (!freopen(path, "w", stderr))
			_exit(127);
		execl(CTL_BIN, CTL_BIN, "dev-kafka", "--partitions", "2", "--agency-partitions", "3",
		      (char *)NULL);
		_exit(127);
	}
	assert_true(appears("dev.out", "\n", 10));
	{
		char *out = slurp(top, "dev.out");
		snprintf(bs, sizeof(bs), "%.*s", (int)strcspn(out, "\n"), out);
		free(out);
	}
	/* what it keeps, said on start */
	assert_true(appears("dev.err", "it holds about:", 5));
	check(top, "dev.err", "dev-kafka keeps at most 5 MiB of each partition", 1);
	check(top, "dev.err", "deconf.tokens, deconf.state and deconf.audit: 2 partitions", 1);
	check(top, "dev.err", "deconf.submit.<agency>: 3 partitions", 1);
	assert_int_equal(sh("'%s' federation init '%s' --plaintext --bootstrap %s >/dev/null",
			    CTL_BIN, fed, bs),
			 0);
	/* topics apply says what it does there, and does it */
	assert_int_equal(ctl(fed, NULL, "topics apply"), 0);
	check(top, "out.txt", "this cluster is deconfctl dev-kafka", 1);
	check(top, "out.txt", "no ACLs and no client quotas", 1);
	check(top, "out.txt", "key epochs: serial 1 published (epochs: 1)", 1);
	assert_int_equal(ctl(fed, NULL, "agency add dk-a --name A --level state --country US "
					"--poc-name x --poc-phone 1 --poc-email x@y"),
			 0);
	check(top, "out.txt", "agency dk-a (A, state, US) added", 1);
	/* its topics, as its entry appeared */
	assert_true(appears("dev.err", "agency dk-a: made its topics", 10));
	assert_int_equal(partitions_of(bs, "deconf.submit.dk-a"), 3);
	assert_int_equal(partitions_of(bs, "deconf.notices.dk-a"), 3);
	assert_int_equal(partitions_of(bs, "deconf.receipts.dk-a"), 1);
	assert_int_equal(partitions_of(bs, "deconf.rejects.dk-a"), 1);
	assert_int_equal(partitions_of(bs, "deconf.tokens"), 2);
	assert_int_equal(ctl(fed, NULL, "agency list"), 0);
	check(top, "out.txt", "dk-a ", 1);
	assert_int_equal(ctl(fed, NULL, "status"), 0);
	check(top, "out.txt", "RECEIPTS", 1);
	/* more than it keeps: it says it dropped records */
	produce(bs, "deconf.ops", 0, 70, 100 * 1024);
	assert_true(appears("dev.err", "DROPPED records 0..", 15));
	check(top, "dev.err", "of deconf.ops [0]", 1);
	/* offsets: nothing to show there, and it says why */
	assert_int_equal(ctl(fed, NULL, "offsets show"), 1);
	check(top, "err.txt", "deconfctl dev-kafka", 1);
	broker_stops_without_kafka(fed);
	kill(dev_pid, SIGTERM);
	assert_int_equal(waitpid(dev_pid, &st, 0), dev_pid);
	dev_pid = 0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_cleanup(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_usage_refused),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_publication_denied),
		cmocka_unit_test(test_directory_refused_records),
		cmocka_unit_test(test_offsets_accept_loss),
		cmocka_unit_test(test_dev_kafka),
		cmocka_unit_test(test_cleanup),
	};
	uint8_t r[4];
	char hex[9];

	bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP");
	/* other Kafka tests run beside this one: deconfctl's waits get room
	 * (the test of the timeout itself sets its own) */
	setenv("DECONF_CTL_TIMEOUT", "30", 0);
	bootstrap_tls = getenv("DECONF_KRAFT_BOOTSTRAP_TLS");
	tls_dir = getenv("DECONF_KRAFT_TLS_DIR");
	if (!bootstrap || !bootstrap_tls || !tls_dir) {
		fprintf(stderr, "DECONF_KRAFT_* not set (tests/run.sh starts Kafka): skipped\n");
		return 77;
	}
	snprintf(top, sizeof(top), "/tmp/itest-ctl.XXXXXX");
	if (!mkdtemp(top))
		return 1;
	RAND_bytes(r, sizeof(r));
	snprintf(prefix, sizeof(prefix), "ic%s.", deconf_hex_encode(hex, r, sizeof(r)));
	atexit(kill_children);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
