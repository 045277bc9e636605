/*
 * fuzz-fcgi.c — libFuzzer harness for the FastCGI record layer
 * (cgi/fcgi.c), the first code every byte from the web server meets.
 *
 * Input: one byte giving how many bytes arrive per read (1..256), then
 * the stream a web server sends.  It is fed the way cgi/loop.c feeds it
 * (the unused tail kept, room made for one whole record), and every
 * request that completes is answered.  Invariants:
 *   - ct_fcgi_feed never uses more than it was given, and stops only at
 *     a record boundary (what is left never holds a whole record unless
 *     it stopped for a ready request or an error);
 *   - a ready request has its params and body complete; the body kept is
 *     at most CT_FCGI_STDIN_KEEP bytes, and ct_fcgi_read hands out exactly
 *     the bytes kept;
 *   - an error always says why, in one printable line;
 *   - everything we write back parses as FastCGI version 1 records.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "check.h"

static void
check_out(const struct ct_buf *out)
{
	const unsigned char *p = (const unsigned char *)out->p;
	size_t o = 0;

	while (o < out->len) {
		CHECK(out->len - o >= 8, "a whole record header");
		CHECK(p[0 + o] == 1, "version 1");
		o += ct_fcgi_record_len(p + o);
		CHECK(o <= out->len, "a whole record");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_fcgi_req r;
	struct ct_buf out;
	char err[CT_ERRLEN], body[CT_FCGI_STDIN_KEEP + 16];
	unsigned char *in;
	size_t step, pos = 1, len = 0, used, i;
	int rc = CT_FCGI_MORE;

	if (size < 1)
		return 0;
	step = (size_t)data[0] + 1;
	if ((in = malloc(size + 1)) == NULL)
		return 0;
	ct_fcgi_init(&r);
	ct_buf_init(&out, 1024 * 1024);
	while (pos < size && rc != CT_FCGI_BAD) {
		size_t k = size - pos < step ? size - pos : step;

		memcpy(in + len, data + pos, k);
		len += k;
		pos += k;
		for (;;) {
			rc = ct_fcgi_feed(&r, in, len, &used, &out, err);
			CHECK(used <= len, "used within what was given");
			memmove(in, in + used, len - used);
			len -= used;
			if (rc == CT_FCGI_BAD) {
				CHECK(err[0] != '\0', "an error says why");
				for (i = 0; err[i]; i++)
					CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f,
					      "the error is one printable line");
				break;
			}
			if (rc == CT_FCGI_MORE) {
				CHECK(len < 8 || ct_fcgi_record_len(in) > len,
				      "stops only before an incomplete record");
				break;
			}
			CHECK(r.active && r.params_done && r.stdin_done, "ready means complete");
			CHECK(r.body.len <= CT_FCGI_STDIN_KEEP && r.body.len <= r.body_seen,
			      "the body kept is bounded");
			(void)ct_fcgi_param(&r, "REQUEST_METHOD");
			(void)ct_fcgi_param(&r, "CONTENT_LENGTH");
			CHECK(ct_fcgi_read(&r, body, sizeof(body)) == (long)r.body.len,
			      "the body read is the body kept");
			CHECK(ct_fcgi_read(&r, body, sizeof(body)) == 0, "then its end");
			if (ct_fcgi_respond(&r, "Status: 200 OK\r\n\r\n", 18, "{}", 2, &out) != CT_OK)
				break;
			CHECK(!r.active, "answered means ended");
			if (r.close)
				break;
		}
		check_out(&out);
		ct_buf_reset(&out);
		if (r.close)
			break;
	}
	ct_fcgi_free(&r);
	ct_buf_free(&out);
	free(in);
	return 0;
}
