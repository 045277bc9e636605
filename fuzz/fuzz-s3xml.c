/*
 * fuzz-s3xml.c — libFuzzer harness for what an S3 server's XML replies
 * go through: a ListObjectsV2 page (s3_list_page, over ct_xml_parse) and
 * an error reply (s3_error_parse).
 *
 * Beyond "does not crash, does not leak", every answer is checked
 * against what the readers promise (ct_s3int.h):
 *   - every key handed out is non-empty, at most 1,024 bytes, free of
 *     control bytes, and was strictly under the listing's base;
 *   - a page that says more pages follow gives a non-empty token;
 *   - a page refused is CT_ERR_REMOTE with a message;
 *   - an error reply's Code, Message and Region are printable ASCII and
 *     fit their buffers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_s3int.h"
#include "check.h"

static int onkey(void *arg, const char *key, uint64_t size)
{
	size_t n = strlen(key);

	(void)size;
	(*(size_t *)arg)++;
	CHECK(n > 0 && n <= 1024, "a key is empty or too long");
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)key[i] >= 0x20 && key[i] != 0x7f, "a key holds a control byte");
	return 0;
}

static void printable(const char *s, size_t cap)
{
	CHECK(strlen(s) < cap, "a field overran its buffer");
	for (; *s; s++)
		CHECK(*s >= 0x20 && *s < 0x7f, "a field is not printable ASCII");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char token[S3_TOKEN_MAX + 1], err[CT_ERRLEN], code[64], msg[200], region[64];
	size_t keys = 0;
	int more = 0, rc;

	if (size > 256 * 1024)
		return 0;
	err[0] = '\0';
	token[0] = '\0';
	rc = s3_list_page((const char *)data, size, "pre/", onkey, &keys, &more, token, err);
	CHECK(rc == CT_OK || rc == CT_ERR_REMOTE || rc == CT_ERR_NOMEM,
	      "a page is read or refused as the server's fault");
	if (rc != CT_OK)
		CHECK(err[0] != '\0' && !more, "a refused page says why and gives no token");
	else if (more)
		CHECK(token[0] != '\0' && strlen(token) <= S3_TOKEN_MAX, "more pages, a token");

	s3_error_parse((const char *)data, size, code, sizeof(code), msg, sizeof(msg),
	               region, sizeof(region));
	printable(code, sizeof(code));
	printable(msg, sizeof(msg));
	printable(region, sizeof(region));
	return 0;
}
