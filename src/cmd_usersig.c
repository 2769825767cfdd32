/* immigrate usersig: print one UserSig, or verify one. The key comes from a file
 * or IMMIGRATE_SECRET_KEY, never from argv. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "log.h"
#include "secret.h"
#include "usersig.h"

#define DEFAULT_EXPIRE (180LL * 24 * 3600) /* the official libraries' default */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: immigrate usersig --sdkappid N --identifier ID [--key-file F] [--expire SECONDS] [--time UNIX]\n"
		"       immigrate usersig --verify SIG --sdkappid N --identifier ID [--key-file F] [--now UNIX]\n"
		"The key is read from --key-file, else from the environment variable IMMIGRATE_SECRET_KEY.\n");
}

/* Parses a decimal integer in [min, max]. Returns 0 or -1. */
static int parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int load_key(const char *key_file, char **key, size_t *key_len)
{
	char err[512];
	if (key_file) {
		if (im_secret_load_file(key_file, key, key_len, err, sizeof err) != 0) {
			im_error("%s", err);
			return -1;
		}
		return 0;
	}
	int rc = im_secret_load_env("IMMIGRATE_SECRET_KEY", key, key_len);
	if (rc == 1)
		im_error("no key: give --key-file F or set IMMIGRATE_SECRET_KEY");
	return rc == 0 ? 0 : -1;
}

int cmd_usersig(int argc, char **argv)
{
	static const struct option options[] = {
		{"sdkappid", required_argument, NULL, 'a'}, {"identifier", required_argument, NULL, 'i'},
		{"key-file", required_argument, NULL, 'k'}, {"expire", required_argument, NULL, 'e'},
		{"time", required_argument, NULL, 't'},     {"verify", required_argument, NULL, 'v'},
		{"now", required_argument, NULL, 'n'},      {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *identifier = NULL, *key_file = NULL, *verify = NULL;
	long long sdkappid = -1, expire = DEFAULT_EXPIRE, when = (long long)time(NULL), now = when;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 'a':
			bad = parse_int(optarg, 1, UINT32_MAX, &sdkappid);
			break;
		case 'i':
			identifier = optarg;
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'e':
			bad = parse_int(optarg, 1, INT32_MAX, &expire);
			break;
		case 't':
			bad = parse_int(optarg, 0, INT64_MAX / 2, &when);
			break;
		case 'n':
			bad = parse_int(optarg, 0, INT64_MAX / 2, &now);
			break;
		case 'v':
			verify = optarg;
			break;
		case 'h':
			usage(stdout);
			return IM_EXIT_OK;
		default:
			fprintf(stderr, "immigrate usersig: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return IM_EXIT_USAGE;
		}
		if (bad) {
			fprintf(stderr, "immigrate usersig: invalid value for --%s: '%s'\n",
				options[c == 'a' ? 0 : c == 'e' ? 3 : c == 't' ? 4 : 6].name, optarg);
			return IM_EXIT_USAGE;
		}
	}
	if (optind < argc || sdkappid < 0 || !identifier || !*identifier) {
		if (optind < argc)
			fprintf(stderr, "immigrate usersig: unexpected argument '%s'\n", argv[optind]);
		else
			fprintf(stderr, "immigrate usersig: --sdkappid and --identifier are required\n");
		usage(stderr);
		return IM_EXIT_USAGE;
	}

	char *key = NULL;
	size_t key_len = 0;
	if (load_key(key_file, &key, &key_len) != 0)
		return IM_EXIT_USAGE;

	int rc;
	if (verify) {
		int code = im_usersig_verify(verify, key, key_len, (uint64_t)sdkappid, identifier, now, NULL);
		if (code == IM_USERSIG_OK) {
			rc = IM_EXIT_OK;
		} else {
			fprintf(stderr, "immigrate usersig: invalid: %d %s\n", code, im_usersig_strerror(code));
			rc = IM_EXIT_FATAL;
		}
	} else {
		char *sig = NULL;
		if (im_usersig_sign(key, key_len, (uint64_t)sdkappid, identifier, when, expire, &sig) == 0) {
			printf("%s\n", sig);
			rc = IM_EXIT_OK;
		} else {
			im_error("cannot compute the UserSig (crypto or zlib failure)");
			rc = IM_EXIT_FATAL;
		}
		free(sig);
	}
	im_secret_free(key, key_len);
	return rc;
}
