/*
 * fuzz-sts.c — libFuzzer harness for the STS AssumeRoleWithWebIdentity
 * reply parser, ct_awscred_sts_parse (src/awscred-sts.c), which reads what
 * a remote server sent through expat (ct_xml_parse).
 *
 * Beyond "does not crash": an accepted reply gives a non-empty access key,
 * secret and session token of printable ASCII that fit their fields, and
 * an expiry; a refused one is CT_ERR_REMOTE, CT_ERR_TEMP or CT_ERR_NOMEM
 * with a message that names STS, leaves the credentials zeroed, and never
 * quotes the secret or the token the reply carried.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_awscredint.h"
#include "check.h"

static int
printable(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap), i;

	if (n == 0 || n >= cap)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ct_awscred out, zero;
	char err[CT_ERRLEN] = "";
	int rc;

	rc = ct_awscred_sts_parse((const char *)data, size, &out, err);
	if (rc == CT_OK) {
		CHECK(printable(out.access_key, sizeof(out.access_key)), "access key");
		CHECK(printable(out.secret_key, sizeof(out.secret_key)), "secret key");
		CHECK(printable(out.token, sizeof(out.token)), "session token");
		CHECK(out.expires_us != 0, "an expiry");
		CHECK(out.source && strcmp(out.source, "web identity") == 0, "source");
		/* what a caller would log on a later failure is not the secret */
		CHECK(strstr(err, out.secret_key) == NULL, "err holds no secret");
	} else {
		CHECK(rc == CT_ERR_REMOTE || rc == CT_ERR_TEMP || rc == CT_ERR_NOMEM, "error code");
		CHECK(strstr(err, "STS") != NULL, "err names STS");
		CHECK(memcmp(&out, &zero, sizeof(out)) == 0, "refused: nothing kept");
	}
	memset(&out, 0, sizeof(out));
	return 0;
}
