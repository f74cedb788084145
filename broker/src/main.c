/* main.c — deconf-broker, the federation's matching service. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "deconf/conf.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "ingest.h"
#include "matcher.h"
#include "metrics.h"
#include "deconf/util.h"
#include "deconf/version.h"

extern char **environ;

#define MAX_SETS 64

static const char usage[] =
	"usage: deconf-broker -c broker.conf [--set key=value]...\n"
	"\n"
	"The federation side of deconf, in two parts (broker.parts):\n"
	"  ingest   reads every agency's submit topic, verifies each signed submission\n"
	"           against the directory and turns it into token ops on deconf.tokens,\n"
	"           or a reject on the agency's rejects topic;\n"
	"  matcher  keeps the state of deconf.tokens' partitions (LMDB, matcher.state_dir;\n"
	"           rebuilt from deconf.state when missing) and sends conflict notices,\n"
	"           expiry warnings, audit and ops events.\n"
	"Each works in Kafka transactions, exactly once; run more processes with distinct\n"
	"broker.instance to share the partitions. /metrics, /healthz and /readyz are\n"
	"served on http.address:http.port. SIGTERM or SIGINT finishes the current batch\n"
	"and stops; SIGHUP reopens log.file.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE      broker configuration (INI); see --help-config\n"
	"      --set KEY=VALUE    override one configuration key (repeatable)\n"
	"  -h, --help             this help\n"
	"      --help-config      every configuration key, its type, default and meaning\n"
	"      --version          the version, commit and wire version\n"
	"\n"
	"Exit status: 0 stopped cleanly; 1 a fatal Kafka error; 2 bad configuration.\n";

static volatile int stop, reopen;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen = 1;
	else
		stop = 1;
}

struct part {
	const char *name;
	struct brk *b;
	struct brk_metrics *mx;
	int rc;
	char errstr[1024];
	pthread_t th;
};

static void *ingest_main(void *arg)
{
	struct part *p = arg;

	p->rc = brk_ingest_run(p->b, p->mx, &stop, p->errstr, sizeof(p->errstr));
	stop = 1; /* one part failing stops the process: its supervisor restarts it */
	return NULL;
}

static void *matcher_main(void *arg)
{
	struct part *p = arg;

	p->rc = brk_matcher_run(p->b, p->mx, &stop, p->errstr, sizeof(p->errstr));
	stop = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "help-config", no_argument, NULL, 'H' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa = { .sa_handler = on_signal };
	char *sets[MAX_SETS], errstr[1024] = "";
	const char *config = getenv("DECONF_CONFIG");
	size_t n_sets = 0;
	struct brk b;
	struct brk_metrics *mx = NULL;
	struct part parts[2];
	int ch, rc, n_parts = 0;

	deconf_log_set_program("deconf-broker");
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 's':
			if (n_sets == MAX_SETS) {
				fprintf(stderr, "deconf-broker: too many --set options\n");
				return DECONF_CONF_EXIT;
			}
			sets[n_sets++] = optarg;
			break;
		case 'h': fputs(usage, stdout); return 0;
		case 'H': deconf_conf_print_help(brk_conf_table, brk_conf_table_n, stdout); return 0;
		case 'V':
			deconf_version_line("deconf-broker", errstr, sizeof(errstr));
			puts(errstr);
			return 0;
		default: fputs(usage, stderr); return DECONF_CONF_EXIT;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "deconf-broker: unexpected argument '%s' (--help for usage)\n",
			argv[optind]);
		return DECONF_CONF_EXIT;
	}
	if ((rc = brk_load(&b, config, environ, sets, n_sets, errstr, sizeof(errstr)))) {
		fprintf(stderr, "deconf-broker: %s\n", errstr);
		brk_close(&b);
		return rc == DECONF_E_NOMEM ? 1 : DECONF_CONF_EXIT;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* the parts are known (not ready) before /readyz can be asked */
	if (!(rc = brk_metrics_new(&mx))) {
		brk_metrics_set_stall(mx, b.set.http_stall_after);
		brk_metrics_set_directory(mx, b.dir); /* the watch desk lists it */
		if (b.run_ingest)
			brk_metrics_part(mx, "ingest");
		if (b.run_matcher)
			brk_metrics_part(mx, "matcher");
	}
	if (rc ||
	    (rc = brk_http_start(mx, b.set.http_address, (int)b.set.http_port, errstr,
				 sizeof(errstr)))) {
		fprintf(stderr, "deconf-broker: %s\n", errstr[0] ? errstr : deconf_strerror(rc));
		brk_metrics_free(mx);
		brk_close(&b);
		return 1;
	}
	if (b.run_ingest) {
		parts[n_parts] = (struct part){ .name = "ingest", .b = &b, .mx = mx };
		if (pthread_create(&parts[n_parts].th, NULL, ingest_main, &parts[n_parts]) == 0)
			n_parts++;
	}
	if (b.run_matcher) {
		parts[n_parts] = (struct part){ .name = "matcher", .b = &b, .mx = mx };
		if (pthread_create(&parts[n_parts].th, NULL, matcher_main, &parts[n_parts]) == 0)
			n_parts++;
	}
	while (!stop) {
		usleep(100000);
		if (reopen) {
			reopen = 0;
			if (deconf_log_reopen())
				deconf_log(DECONF_LOG_ERR, "BROKER", "could not reopen the log file");
		}
	}
	rc = 0;
	for (int i = 0; i < n_parts; i++) {
		pthread_join(parts[i].th, NULL);
		if (parts[i].rc) {
			fprintf(stderr, "deconf-broker: %s: %s\n", parts[i].name,
				parts[i].errstr[0] ? parts[i].errstr : deconf_strerror(parts[i].rc));
			rc = 1;
		}
	}
	brk_metrics_free(mx);
	brk_close(&b);
	return rc;
}
