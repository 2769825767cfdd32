/* Signs a UserSig for the conformance tests: mksig KEY-FILE SDKAPPID IDENTIFIER
 * [TIME [EXPIRE]]. TIME defaults to now, EXPIRE to one day. The key is read from a
 * file so it never appears in a process list. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "secret.h"
#include "usersig.h"

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: mksig KEY-FILE SDKAPPID IDENTIFIER [TIME [EXPIRE]]\n");
		return 2;
	}
	char err[256], *key, *sig;
	size_t key_len;
	if (im_secret_load_file(argv[1], &key, &key_len, err, sizeof err)) {
		fprintf(stderr, "mksig: %s\n", err);
		return 1;
	}
	int64_t when = argc > 4 ? strtoll(argv[4], NULL, 10) : (int64_t)time(NULL);
	int64_t expire = argc > 5 ? strtoll(argv[5], NULL, 10) : 86400;
	int rc = im_usersig_sign(key, key_len, strtoull(argv[2], NULL, 10), argv[3], when, expire, &sig);
	im_secret_free(key, key_len);
	if (rc) {
		fprintf(stderr, "mksig: cannot sign\n");
		return 1;
	}
	printf("%s\n", sig);
	free(sig);
	return 0;
}
