/* Command-line parsing for immigrate-imsim. Secrets come from files, never argv. */
#include "config.h"

#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: immigrate-imsim --listen HOST:PORT --sdkappid N --admin ID --key-file F\n"
		"                       [--state FILE.db] [--latency MS] [--faults SPEC] [--qps-scale X]\n"
		"                       [--port-file F] [--callback-url URL [--callback-token-file F]\n"
		"                       [--before-callbacks]]\n"
		"                       [--tls-cert F --tls-key F] [--hang-ms MS] [--rule NAME=VALUE]... [-v]\n"
		"\n"
		"A local emulator of the Tencent Cloud IM REST API. PORT 0 picks a free port\n"
		"(written to --port-file). See immigrate-imsim(1).\n");
}

static int parse_uint(const char *opt, const char *v, unsigned long long max, unsigned long long *out)
{
	char *end;
	if (!v[0] || v[0] == '-')
		goto bad;
	unsigned long long n = strtoull(v, &end, 10);
	if (*end || n > max)
		goto bad;
	*out = n;
	return 0;
bad:
	fprintf(stderr, "immigrate-imsim: %s wants an integer in 0..%llu, not '%s'\n", opt, max, v);
	return -1;
}

static int parse_listen(const char *v, struct sim_options *o)
{
	static char host[256];
	const char *colon = strrchr(v, ':');
	unsigned long long port;
	if (!colon || colon == v || (size_t)(colon - v) >= sizeof host) {
		fprintf(stderr, "immigrate-imsim: --listen wants HOST:PORT, not '%s'\n", v);
		return -1;
	}
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	if (parse_uint("--listen port", colon + 1, 65535, &port))
		return -1;
	o->listen_host = host;
	o->listen_port = (unsigned)port;
	return 0;
}

int sim_options_parse(int argc, char **argv, struct sim_options *o, struct im_rules *rules)
{
	enum { O_LISTEN = 256, O_SDKAPPID, O_ADMIN, O_KEY_FILE, O_STATE, O_LATENCY, O_FAULTS, O_QPS_SCALE,
	       O_PORT_FILE, O_CB_URL, O_CB_TOKEN_FILE, O_CB_TOKEN, O_BEFORE, O_TLS_CERT, O_TLS_KEY, O_HANG, O_RULE,
	       O_VERSION };
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, O_LISTEN},
		{"sdkappid", required_argument, NULL, O_SDKAPPID},
		{"admin", required_argument, NULL, O_ADMIN},
		{"key-file", required_argument, NULL, O_KEY_FILE},
		{"state", required_argument, NULL, O_STATE},
		{"latency", required_argument, NULL, O_LATENCY},
		{"faults", required_argument, NULL, O_FAULTS},
		{"qps-scale", required_argument, NULL, O_QPS_SCALE},
		{"port-file", required_argument, NULL, O_PORT_FILE},
		{"callback-url", required_argument, NULL, O_CB_URL},
		{"callback-token-file", required_argument, NULL, O_CB_TOKEN_FILE},
		{"callback-token", required_argument, NULL, O_CB_TOKEN},
		{"before-callbacks", no_argument, NULL, O_BEFORE},
		{"tls-cert", required_argument, NULL, O_TLS_CERT},
		{"tls-key", required_argument, NULL, O_TLS_KEY},
		{"hang-ms", required_argument, NULL, O_HANG},
		{"rule", required_argument, NULL, O_RULE},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, O_VERSION},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->qps_scale = 1.0;
	o->hang_ms = 15000;
	im_rules_defaults(rules);
	unsigned long long n;
	char err[256];
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			if (parse_listen(optarg, o))
				return -1;
			break;
		case O_SDKAPPID:
			if (parse_uint("--sdkappid", optarg, UINT32_MAX, &n))
				return -1;
			o->sdkappid = n;
			break;
		case O_ADMIN: o->admin = optarg; break;
		case O_KEY_FILE: o->key_file = optarg; break;
		case O_STATE: o->state_file = optarg; break;
		case O_LATENCY:
			if (parse_uint("--latency", optarg, 600000, &n))
				return -1;
			o->latency_ms = (unsigned)n;
			break;
		case O_HANG:
			if (parse_uint("--hang-ms", optarg, 3600000, &n))
				return -1;
			o->hang_ms = (unsigned)n;
			break;
		case O_FAULTS: o->faults_spec = optarg; break;
		case O_QPS_SCALE: {
			char *end;
			o->qps_scale = strtod(optarg, &end);
			if (*end || end == optarg || !(o->qps_scale > 0) || o->qps_scale > 1e6) {
				fprintf(stderr, "immigrate-imsim: --qps-scale wants a positive number, not '%s'\n",
					optarg);
				return -1;
			}
			break;
		}
		case O_PORT_FILE: o->port_file = optarg; break;
		case O_CB_URL: o->callback_url = optarg; break;
		case O_CB_TOKEN_FILE: o->callback_token_file = optarg; break;
		case O_BEFORE: o->before_callbacks = true; break;
		case O_CB_TOKEN:
			/* Deliberately not accepted: argv is visible to every local user. */
			fprintf(stderr, "immigrate-imsim: --callback-token would expose the token in the process "
					"list; use --callback-token-file F or IMSIM_CALLBACK_TOKEN\n");
			return -1;
		case O_TLS_CERT: o->tls_cert = optarg; break;
		case O_TLS_KEY: o->tls_key = optarg; break;
		case O_RULE:
			if (im_rules_set(rules, optarg, err, sizeof err)) {
				fprintf(stderr, "immigrate-imsim: --rule: %s\n", err);
				return -1;
			}
			break;
		case 'v': o->verbose++; break;
		case 'h': usage(stdout); return 1;
		case O_VERSION: printf("immigrate-imsim %s\n", PACKAGE_VERSION); return 1;
		default:
			fprintf(stderr, "immigrate-imsim: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "immigrate-imsim: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	const char *missing = !o->listen_host ? "--listen" : !o->sdkappid ? "--sdkappid"
			    : !o->admin ? "--admin" : !o->key_file ? "--key-file" : NULL;
	if (missing) {
		fprintf(stderr, "immigrate-imsim: %s is required\n", missing);
		usage(stderr);
		return -1;
	}
	if (!o->tls_cert != !o->tls_key) {
		fprintf(stderr, "immigrate-imsim: --tls-cert and --tls-key go together\n");
		return -1;
	}
	if ((o->callback_token_file || o->before_callbacks) && !o->callback_url) {
		fprintf(stderr, "immigrate-imsim: --callback-token-file and --before-callbacks need --callback-url\n");
		return -1;
	}
	return 0;
}
