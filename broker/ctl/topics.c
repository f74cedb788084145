/*
 * topics.c — deconfctl topics apply: the federation's topics, each agency's
 * topics and literal ACLs, and each agency's Kafka client quotas.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "deconf/err.h"
#include "deconf/util.h"
#include "kquota.h"

struct want_topic {
	char name[256];
	int partitions;
	const char *config[3][2];
};

/* Create what is missing of wt; print what was done (each topic Kafka
 * confirmed). */
/* Wait until every topic of nt has a leader for each of its partitions:
 * Kafka answers CreateTopics before its brokers' metadata shows them, and the
 * next command (agency add, a broker's start) would find them missing. */
static int wait_led(struct brk_ctl_kafka *k, const char *const *names, size_t n)
{
	rd_kafka_t *rk = brk_ctl_kafka_handle(k);
	int64_t end = deconf_mono_us() + (int64_t)brk_ctl_kafka_timeout_ms(k) * 1000;
	const char *missing = NULL;

	for (;;) {
		const struct rd_kafka_metadata *md = NULL;

		missing = NULL;
		if (rd_kafka_metadata(rk, 1, NULL, &md, 5000) || !md) {
			missing = names[0];
		} else {
			for (size_t i = 0; i < n && !missing; i++) {
				const char *name = names[i];
				int led = 0;
				for (int j = 0; j < md->topic_cnt; j++) {
					const struct rd_kafka_metadata_topic *t = &md->topics[j];
					if (strcmp(t->topic, name))
						continue;
					led = !t->err && t->partition_cnt > 0;
					for (int p = 0; p < t->partition_cnt; p++)
						led = led && t->partitions[p].leader >= 0;
				}
				if (!led)
					missing = name;
			}
			rd_kafka_metadata_destroy(md);
		}
		if (!missing)
			return 0;
		if (deconf_mono_us() > end)
			return fail(1, "topic %s: created, but Kafka shows no leader for it after %d s",
				    missing, brk_ctl_kafka_timeout_ms(k) / 1000);
		usleep(100000);
	}
}

static int apply_topics(struct brk_ctl_kafka *k, rd_kafka_queue_t *q, struct want_topic *wt,
			size_t n)
{
	rd_kafka_t *rk = brk_ctl_kafka_handle(k);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_NewTopic_t **nt = calloc(n ? n : 1, sizeof(*nt));
	const char **names = calloc(n ? n : 1, sizeof(*names));
	size_t n_new = 0, existing = 0, created = 0;
	int rf, min_isr;
	rd_kafka_resp_err_t err;
	rd_kafka_event_t *ev;
	char errstr[1024];
	int rc = 0;

	if (!nt || !names) {
		free(nt);
		free(names);
		return fail(1, "out of memory");
	}
	if ((err = rd_kafka_metadata(rk, 1, NULL, &md, brk_ctl_kafka_timeout_ms(k)))) {
		free(nt);
		free(names);
		return fail(1, "listing the cluster's topics: %s",
			    brk_ctl_kafka_cause(err, errstr, sizeof(errstr)));
	}
	/* as many copies as the cluster can hold, up to three; with three, a
	 * write needs two (acks=all): one node may fail without losing any */
	rf = md->broker_cnt < 3 ? md->broker_cnt : 3;
	if (rf < 1)
		rf = 1;
	min_isr = rf == 3 ? 2 : 1;
	printf("replication: %d cop%s of each partition (the cluster has %d broker(s)), "
	       "min.insync.replicas %d\n",
	       rf, rf == 1 ? "y" : "ies", md->broker_cnt, min_isr);
	for (size_t i = 0; i < n; i++) {
		int found = 0;
		for (int j = 0; j < md->topic_cnt && !found; j++)
			if (!strcmp(md->topics[j].topic, wt[i].name)) {
				found = 1;
				if (md->topics[j].partition_cnt < wt[i].partitions)
					printf("topic %s: exists with %d partition(s), fewer than %d: "
					       "left as is (adding partitions moves keys)\n",
					       wt[i].name, md->topics[j].partition_cnt,
					       wt[i].partitions);
				if (md->topics[j].partition_cnt > 0 &&
				    md->topics[j].partitions[0].replica_cnt < rf)
					printf("topic %s: exists with %d cop%s of each partition, fewer "
					       "than %d: left as is (kafka-reassign-partitions adds "
					       "replicas)\n",
					       wt[i].name, md->topics[j].partitions[0].replica_cnt,
					       md->topics[j].partitions[0].replica_cnt == 1 ? "y" : "ies",
					       rf);
			}
		if (found) {
			existing++;
			continue;
		}
		if (!(nt[n_new] = rd_kafka_NewTopic_new(wt[i].name, wt[i].partitions, rf, errstr,
							sizeof(errstr)))) {
			rc = fail(1, "%s: %s", wt[i].name, errstr);
			break;
		}
		for (int c = 0; c < 3 && wt[i].config[c][0]; c++)
			rd_kafka_NewTopic_set_config(nt[n_new], wt[i].config[c][0],
						     wt[i].config[c][1]);
		rd_kafka_NewTopic_set_config(nt[n_new], "min.insync.replicas",
					     min_isr == 2 ? "2" : "1");
		names[n_new++] = wt[i].name;
	}
	rd_kafka_metadata_destroy(md);
	if (!rc && n_new) {
		rd_kafka_AdminOptions_t *o = brk_ctl_kafka_admin_options(k, RD_KAFKA_ADMIN_OP_CREATETOPICS);
		rd_kafka_CreateTopics(rk, nt, n_new, o, q);
		rd_kafka_AdminOptions_destroy(o);
		if ((rc = brk_ctl_kafka_admin_wait(k, q, "creating topics", &ev, &err, errstr,
						   sizeof(errstr)))) {
			rc = fail(1, "%s (none is known to be created)", errstr);
		} else {
			size_t cnt;
			const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(
				rd_kafka_event_CreateTopics_result(ev), &cnt);
			for (size_t i = 0; i < cnt; i++) {
				if (rd_kafka_topic_result_error(res[i])) {
					rc = fail(1, "topic %s NOT created: %s",
						  rd_kafka_topic_result_name(res[i]),
						  brk_ctl_kafka_cause(rd_kafka_topic_result_error(res[i]),
								      errstr, sizeof(errstr)));
					continue;
				}
				printf("created topic %s\n", rd_kafka_topic_result_name(res[i]));
				created++;
			}
			if (!rc && cnt != n_new)
				rc = fail(1, "creating topics: Kafka answered for %zu of %zu", cnt, n_new);
			rd_kafka_event_destroy(ev);
		}
		if (!rc)
			rc = wait_led(k, names, n_new);
	}
	for (size_t i = 0; i < n_new; i++)
		rd_kafka_NewTopic_destroy(nt[i]);
	free(nt);
	free(names);
	if (!rc)
		printf("topics: %zu created, %zu already there\n", created, existing);
	return rc;
}

struct want_acl {
	char topic[256], principal[96];
	rd_kafka_AclOperation_t op;
};

/* Create the literal ACLs that are missing; print what was done (each one
 * Kafka confirmed). A cluster without an authorizer is said so, not failed:
 * it lets every principal do everything. */
static int apply_acls(struct brk_ctl_kafka *k, rd_kafka_queue_t *q, const struct want_acl *wa,
		      size_t n)
{
	rd_kafka_t *rk = brk_ctl_kafka_handle(k);
	rd_kafka_AclBindingFilter_t *filter;
	rd_kafka_AclBinding_t **nb = calloc(n ? n : 1, sizeof(*nb));
	const rd_kafka_AclBinding_t **have = NULL;
	size_t n_have = 0, n_new = 0, created = 0;
	rd_kafka_AdminOptions_t *o;
	rd_kafka_resp_err_t err;
	rd_kafka_event_t *ev;
	char errstr[1024];
	int rc = 0;

	if (!nb)
		return fail(1, "out of memory");
	filter = rd_kafka_AclBindingFilter_new(RD_KAFKA_RESOURCE_TOPIC, NULL,
					       RD_KAFKA_RESOURCE_PATTERN_LITERAL, NULL, NULL,
					       RD_KAFKA_ACL_OPERATION_ANY,
					       RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr,
					       sizeof(errstr));
	o = brk_ctl_kafka_admin_options(k, RD_KAFKA_ADMIN_OP_DESCRIBEACLS);
	rd_kafka_DescribeAcls(rk, filter, o, q);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_AclBinding_destroy(filter);
	if (brk_ctl_kafka_admin_wait(k, q, "reading the ACLs", &ev, &err, errstr, sizeof(errstr))) {
		free(nb);
		if (err == RD_KAFKA_RESP_ERR_SECURITY_DISABLED) {
			printf("ACLs: this cluster has no authorizer (a development cluster?): every "
			       "principal may do everything there; none applied\n");
			return 0;
		}
		return fail(1, "%s (no ACL created)", errstr);
	}
	have = rd_kafka_DescribeAcls_result_acls(rd_kafka_event_DescribeAcls_result(ev), &n_have);
	for (size_t i = 0; i < n && !rc; i++) {
		int found = 0;
		for (size_t j = 0; j < n_have && !found; j++)
			found = !strcmp(rd_kafka_AclBinding_name(have[j]), wa[i].topic) &&
				!strcmp(rd_kafka_AclBinding_principal(have[j]), wa[i].principal) &&
				rd_kafka_AclBinding_operation(have[j]) == wa[i].op;
		if (found)
			continue;
		if (!(nb[n_new] = rd_kafka_AclBinding_new(
			      RD_KAFKA_RESOURCE_TOPIC, wa[i].topic, RD_KAFKA_RESOURCE_PATTERN_LITERAL,
			      wa[i].principal, "*", wa[i].op, RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
			      errstr, sizeof(errstr))))
			rc = fail(1, "ACL %s %s: %s", wa[i].principal, wa[i].topic, errstr);
		else
			n_new++;
	}
	rd_kafka_event_destroy(ev);
	if (!rc && n_new) {
		o = brk_ctl_kafka_admin_options(k, RD_KAFKA_ADMIN_OP_CREATEACLS);
		rd_kafka_CreateAcls(rk, nb, n_new, o, q);
		rd_kafka_AdminOptions_destroy(o);
		if ((rc = brk_ctl_kafka_admin_wait(k, q, "creating ACLs", &ev, &err, errstr,
						   sizeof(errstr)))) {
			rc = fail(1, "%s (none is known to be created)", errstr);
		} else {
			size_t cnt;
			const rd_kafka_acl_result_t **res = rd_kafka_CreateAcls_result_acls(
				rd_kafka_event_CreateAcls_result(ev), &cnt);
			for (size_t i = 0; i < cnt && i < n_new; i++) {
				const rd_kafka_error_t *e = rd_kafka_acl_result_error(res[i]);
				if (e)
					rc = fail(1, "ACL NOT created: %s may %s topic %s: %s",
						  rd_kafka_AclBinding_principal(nb[i]),
						  rd_kafka_AclOperation_name(rd_kafka_AclBinding_operation(nb[i])),
						  rd_kafka_AclBinding_name(nb[i]),
						  brk_ctl_kafka_cause(rd_kafka_error_code(e), errstr,
								      sizeof(errstr)));
				else {
					printf("created ACL: %s may %s topic %s (literal)\n",
					       rd_kafka_AclBinding_principal(nb[i]),
					       rd_kafka_AclOperation_name(rd_kafka_AclBinding_operation(nb[i])),
					       rd_kafka_AclBinding_name(nb[i]));
					created++;
				}
			}
			if (!rc && cnt != n_new)
				rc = fail(1, "creating ACLs: Kafka answered for %zu of %zu", cnt, n_new);
			rd_kafka_event_destroy(ev);
		}
	}
	for (size_t i = 0; i < n_new; i++)
		rd_kafka_AclBinding_destroy(nb[i]);
	free(nb);
	if (!rc)
		printf("ACLs: %zu created, %zu already there\n", created, n - n_new);
	return rc;
}

/* Kafka client quotas per agency principal, so that one agency sending as
 * fast as it can does not starve the others (ingest has its own per-agency
 * rates: these bound what reaches Kafka at all). A cluster without the
 * quota API (the mock cluster of dev-kafka) is said so, not failed, as for
 * ACLs. */
static int apply_quotas(struct fed *f, struct brk_directory *dir)
{
	size_t n_ag = brk_directory_count(dir);
	struct brk_kquota *want = calloc(n_ag ? n_ag : 1, sizeof(*want));
	size_t n = 0, changed = 0;
	struct brk_agency ag;
	char errstr[2048];
	int rc;

	if (!want)
		return fail(1, "out of memory");
	for (size_t a = 0; n < n_ag && !brk_directory_at(dir, a, &ag); a++) {
		if (ag.status == K(AGENCY_STATUS__AGENCY_STATUS_REMOVED))
			continue;
		snprintf(want[n].user, sizeof(want[n].user), "%s", ag.id);
		want[n].producer_byte_rate = (double)f->set.quota_producer_byte_rate;
		want[n].consumer_byte_rate = (double)f->set.quota_consumer_byte_rate;
		want[n].request_percentage = (double)f->set.quota_request_percentage;
		n++;
	}
	rc = brk_kquota_apply(f->conf, want, n, &changed, errstr, sizeof(errstr));
	free(want);
	if (rc == DECONF_E_VERSION) {
		printf("quotas: %s: none applied\n", errstr);
		return 0;
	}
	if (rc)
		return fail(1, "quotas: %s (%zu agencies altered before)", errstr, changed);
	printf("quotas: %zu agencies altered, %zu already there\n", changed, n - changed);
	return 0;
}

/*
 * The key epochs record, unless the directory holds this serial already and
 * the federation key is offline: topics apply then still makes topics and
 * ACLs (a changed record needs the key, and says so).
 */
static int publish_epochs_if(struct fed *f, struct brk_ctl_kafka *k, const struct epochs *ep,
			     struct brk_directory *dir)
{
	struct brk_epochs pub;

	brk_directory_epochs(dir, &pub);
	if (pub.serial >= ep->serial &&
	    access(f->set.federation_signing_key, R_OK)) {
		printf("key epochs: serial %" PRIu64 " already published (the federation key is "
		       "offline: not published again)\n",
		       pub.serial);
		return 0;
	}
	return epochs_publish(f, k, ep, NULL);
}

int cmd_topics_apply(struct fed *f, int argc, char **argv)
{
	static const struct {
		const char *name;
		int per_partition;
		const char *config[3][2];
	} global[] = {
		{ "tokens", 1, { { 0 } } },
		/* tombstones must outlive matcher.state_max_age (12 h) */
		{ "state", 1, { { "cleanup.policy", "compact" }, { "delete.retention.ms", "604800000" } } },
		{ "audit", 0, { { "retention.ms", "-1" } } },
		{ "ops", 0, { { 0 } } },
		{ "directory", 0, { { "cleanup.policy", "compact" } } },
		/* seen submission ids: kept past the replay window (30 days) */
		{ "ingest.seen", 0, { { "cleanup.policy", "compact,delete" }, { "retention.ms", "3196800000" } } },
	};
#define N_GLOBAL (sizeof(global) / sizeof(global[0]))
	/* per agency: its own topics (one partition: its records stay in
	 * order), then what it shares */
	static const struct {
		const char *topic; /* per agency: "submit." id, or a shared topic */
		int per_agency;
		rd_kafka_AclOperation_t ops[2];
	} grants[] = {
		{ "submit.", 1, { RD_KAFKA_ACL_OPERATION_WRITE, RD_KAFKA_ACL_OPERATION_DESCRIBE } },
		{ "notices.", 1, { RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_DESCRIBE } },
		{ "rejects.", 1, { RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_DESCRIBE } },
		/* the broker's signed answer to each submission */
		{ "receipts.", 1, { RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_DESCRIBE } },
		{ "directory", 0, { RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_DESCRIBE } },
	};
#define N_GRANTS (sizeof(grants) / sizeof(grants[0]))
#define N_OWN 4 /* grants[0..N_OWN) are topics of the agency's own */
	int partitions = (int)f->set.federation_partitions;
	struct brk_directory *dir = NULL;
	struct dir_ignored ig;
	struct brk_agency ag;
	size_t n_ag = 0, nt = 0, na = 0;
	struct want_topic *wt = NULL;
	struct want_acl *wa = NULL;
	struct brk_ctl_kafka *k = NULL, *c = NULL;
	struct epochs ep;
	rd_kafka_queue_t *q = NULL;
	char errstr[1024];
	int rc = 1, missing, np;

	if ((rc = no_options(argc, argv, "topics apply")))
		return rc;
	if (optind != argc)
		return usage_error("topics apply", "unexpected argument '%s'", argv[optind]);
	rc = 1;
	if (epochs_load(&ep))
		return 1;
	if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, publisher_props, "nothing was applied")))
		goto out;
	/* dev-kafka marks its mock cluster: it has no Admin API for topics (no
	 * controller), ACLs or quotas, and makes the topics itself */
	if (!brk_ctl_kafka_topic(k, DEV_KAFKA_MARKER, &np, errstr, sizeof(errstr))) {
		printf("this cluster is deconfctl dev-kafka (librdkafka's in-memory mock cluster): it "
		       "has no Admin API, no ACLs and no client quotas. dev-kafka made the "
		       "federation's topics and makes each agency's as its directory entry appears; "
		       "topics apply creates no topic, grants no ACL and sets no quota here (every "
		       "client may read and write everything). It publishes the key epochs record.\n");
		rc = epochs_publish(f, k, &ep, NULL);
		goto out;
	}
	if (!(c = fed_kafka(f, RD_KAFKA_CONSUMER, NULL, "nothing was applied")) ||
	    read_directory(f, c, &dir, &ig, &missing))
		goto out;
	directory_say_ignored(&ig, stderr, "deconfctl: ");
	n_ag = brk_directory_count(dir);
	wt = calloc(N_GLOBAL + N_OWN * n_ag, sizeof(*wt));
	wa = calloc(2 * N_GRANTS * n_ag + 1, sizeof(*wa));
	if (!wt || !wa) {
		fail(1, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < N_GLOBAL; i++) {
		snprintf(wt[nt].name, sizeof(wt[nt].name), "%s%s", f->prefix, global[i].name);
		wt[nt].partitions = global[i].per_partition ? partitions : 1;
		memcpy(wt[nt].config, global[i].config, sizeof(wt[nt].config));
		nt++;
	}
	for (size_t a = 0; a < n_ag && !brk_directory_at(dir, a, &ag); a++) {
		if (ag.status == K(AGENCY_STATUS__AGENCY_STATUS_REMOVED))
			continue;
		for (size_t g = 0; g < N_OWN; g++) {
			snprintf(wt[nt].name, sizeof(wt[nt].name), "%s%s%s", f->prefix, grants[g].topic,
				 ag.id);
			wt[nt++].partitions = 1;
		}
		for (size_t g = 0; g < N_GRANTS; g++)
			for (int o = 0; o < 2; o++) {
				snprintf(wa[na].topic, sizeof(wa[na].topic), "%s%s%s", f->prefix,
					 grants[g].topic, grants[g].per_agency ? ag.id : "");
				snprintf(wa[na].principal, sizeof(wa[na].principal), "User:%s",
					 ag.id);
				wa[na++].op = grants[g].ops[o];
			}
	}
	q = rd_kafka_queue_new(brk_ctl_kafka_handle(k));
	printf("%zu agencies in the directory%s\n", n_ag,
	       missing ? " (its topic is made now)" : "");
	/* the key epochs once the directory topic exists: publishing the same
	 * serial again is harmless (readers ignore serials they hold) */
	if (!(rc = apply_topics(k, q, wt, nt)) && !(rc = publish_epochs_if(f, k, &ep, dir)) &&
	    !(rc = apply_acls(k, q, wa, na)))
		rc = apply_quotas(f, dir);
out:
	epochs_free(&ep);
	if (q)
		rd_kafka_queue_destroy(q);
	brk_ctl_kafka_free(c);
	brk_ctl_kafka_free(k);
	free(wt);
	free(wa);
	brk_directory_free(dir);
	return rc;
#undef N_GLOBAL
#undef N_GRANTS
#undef N_OWN
}
