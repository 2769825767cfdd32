/* Test helper: signatures the sync daemon checks.
 *   hooksig hmac SECRET_FILE TIMESTAMP BODY_FILE  -> hex HMAC-SHA256(secret, ts "." body)
 *   hooksig tencent TOKEN_FILE REQUEST_TIME        -> hex SHA-256(token || time) (spec §7.1)
 * Secrets come from files (one line), so they never appear in argv. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

static char *slurp(const char *path, size_t *len, int strip)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *s = malloc(cap);
	size_t k;
	while (s && (k = fread(s + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap)
			s = realloc(s, cap *= 2);
	}
	fclose(f);
	while (s && strip && n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	*len = n;
	return s;
}

static void hex(const unsigned char *md, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", md[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	size_t klen = 0, blen = 0;
	if (argc == 5 && strcmp(argv[1], "hmac") == 0) {
		char *key = slurp(argv[2], &klen, 1), *body = slurp(argv[4], &blen, 0);
		if (!key || !body)
			return 2;
		unsigned char md[32];
		size_t mdl = 0;
		char digest[] = "SHA256";
		OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
				  OSSL_PARAM_construct_end()};
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
		if (!c || EVP_MAC_init(c, (unsigned char *)key, klen, p) != 1 ||
		    EVP_MAC_update(c, (unsigned char *)argv[3], strlen(argv[3])) != 1 ||
		    EVP_MAC_update(c, (const unsigned char *)".", 1) != 1 ||
		    EVP_MAC_update(c, (unsigned char *)body, blen) != 1 || EVP_MAC_final(c, md, &mdl, 32) != 1)
			return 1;
		EVP_MAC_CTX_free(c);
		EVP_MAC_free(mac);
		hex(md, mdl);
		free(key);
		free(body);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "tencent") == 0) {
		char *tok = slurp(argv[2], &klen, 1);
		if (!tok)
			return 2;
		unsigned char md[32];
		unsigned int mdl = 0;
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(c, tok, klen) != 1 ||
		    EVP_DigestUpdate(c, argv[3], strlen(argv[3])) != 1 || EVP_DigestFinal_ex(c, md, &mdl) != 1)
			return 1;
		EVP_MD_CTX_free(c);
		hex(md, mdl);
		free(tok);
		return 0;
	}
	fprintf(stderr, "usage: hooksig hmac SECRET_FILE TS BODY_FILE | hooksig tencent TOKEN_FILE TIME\n");
	return 2;
}
