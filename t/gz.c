/*
 * t/gz.c — deterministic gzip (src/gz.c): the same bytes always give the
 * same object, the object gunzips to exactly the input, and gunzip is
 * bounded and strict (no trailing data, no truncation, no bad CRC).
 */
#include <stdlib.h>
#include <string.h>

#include "calltrail.h"
#include "tap.h"
#include "ct_gz.h"

static int roundtrip(const void *data, size_t len)
{
	struct ct_buf z, back;
	char err[CT_ERRLEN];
	int good;

	ct_buf_init(&z, 0);
	ct_buf_init(&back, 0);
	good = ct_gz_compress(data, len, &z, err) == CT_OK &&
	       ct_gz_decompress(z.p, z.len, len, &back, err) == CT_OK &&
	       back.len == len && (len == 0 || memcmp(back.p, data, len) == 0);
	ct_buf_free(&z);
	ct_buf_free(&back);
	return good;
}

int main(void)
{
	static const char rec[] = "{\"session_id\":\"voice_1_abc\",\"user_email\":\"\","
	                          "\"start_time\":\"2025-10-29T18:04:05Z\","
	                          "\"end_time\":\"2025-10-29T18:09:05Z\"}\n";
	struct ct_buf a, b, out;
	char err[CT_ERRLEN];
	unsigned char *big, *bad;
	size_t i, bomb = 16u << 20;
	int rc;

	plan(20);
	ct_buf_init(&a, 0);
	ct_buf_init(&b, 0);
	ct_buf_init(&out, 0);

	/* Determinism and the header fields that make it so. */
	ok(ct_gz_compress(rec, sizeof rec - 1, &a, err) == CT_OK, "compress a record");
	ok(ct_gz_compress(rec, sizeof rec - 1, &b, err) == CT_OK, "compress it again");
	ok(a.len == b.len && memcmp(a.p, b.p, a.len) == 0, "same bytes both times");
	ok(a.len > 18 && (unsigned char)a.p[0] == 0x1f && (unsigned char)a.p[1] == 0x8b &&
	   a.p[2] == 8, "gzip magic and deflate method");
	is_int(0, a.p[3], "no FNAME/FCOMMENT/FEXTRA flags");
	ok(a.p[4] == 0 && a.p[5] == 0 && a.p[6] == 0 && a.p[7] == 0, "mtime is 0");
	is_int(255, (unsigned char)a.p[9], "OS is 255 (unknown)");

	/* Round trips: empty, small, 1 MiB of mixed bytes. */
	ok(roundtrip("", 0), "empty input round-trips");
	ok(roundtrip(rec, sizeof rec - 1), "a record round-trips byte-exact");
	big = malloc(1u << 20);
	for (i = 0; i < (1u << 20); i++)
		big[i] = (unsigned char)((i * 2654435761u) >> 13);
	ok(big && roundtrip(big, 1u << 20), "1 MiB of binary round-trips");

	/* Bounds: exactly max is fine, one less is TOOBIG. */
	rc = ct_gz_decompress(a.p, a.len, sizeof rec - 1, &out, err);
	ok(rc == CT_OK && out.len == sizeof rec - 1, "gunzip with max = size succeeds");
	rc = ct_gz_decompress(a.p, a.len, sizeof rec - 2, &out, err);
	is_int(CT_ERR_TOOBIG, rc, "gunzip with max = size - 1 is TOOBIG (%s)", err);

	/* A bomb: 16 MiB of zeros stops at the cap, not at 16 MiB. */
	free(big);
	big = calloc(1, bomb);
	rc = big ? ct_gz_compress(big, bomb, &b, err) : CT_ERR_NOMEM;
	ok(rc == CT_OK && b.len < bomb / 100,
	   "16 MiB of zeros compresses small (%zu bytes)", b.len);
	rc = ct_gz_decompress(b.p, b.len, 1u << 20, &out, err);
	ok(rc == CT_ERR_TOOBIG && out.len <= (1u << 20), "bomb stops at the 1 MiB cap");

	/* Strictness. */
	bad = malloc(a.len + 4);
	memcpy(bad, a.p, a.len);
	memcpy(bad + a.len, "junk", 4);
	rc = ct_gz_decompress(bad, a.len + 4, 1u << 20, &out, err);
	is_int(CT_ERR_INPUT, rc, "trailing garbage is refused (%s)", err);
	rc = ct_gz_decompress(a.p, a.len - 5, 1u << 20, &out, err);
	is_int(CT_ERR_INPUT, rc, "a truncated member is refused (%s)", err);
	memcpy(bad, a.p, a.len);
	bad[a.len - 6] ^= 0x55;   /* inside the CRC32 */
	rc = ct_gz_decompress(bad, a.len, 1u << 20, &out, err);
	is_int(CT_ERR_INPUT, rc, "a bad CRC is refused (%s)", err);
	rc = ct_gz_decompress("hello", 5, 1u << 20, &out, err);
	is_int(CT_ERR_INPUT, rc, "not gzip at all is refused (%s)", err);
	rc = ct_gz_decompress("", 0, 1u << 20, &out, err);
	is_int(CT_ERR_INPUT, rc, "empty input is refused (%s)", err);

	/* The output buffer's own cap is honoured too. */
	{
		struct ct_buf small;
		ct_buf_init(&small, 16);
		rc = ct_gz_compress(big, 4096, &small, err);
		is_int(CT_ERR_TOOBIG, rc, "compress into a capped buffer is TOOBIG");
		ct_buf_free(&small);
	}

	free(big);
	free(bad);
	ct_buf_free(&a);
	ct_buf_free(&b);
	ct_buf_free(&out);
	return done();
}
