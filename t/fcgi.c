/* t/fcgi.c — the FastCGI record layer (cgi/fcgi.c): what a web server
 * may send, cut at every byte, and what we answer. */
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>

#include "fcgi.h"
#include "tap.h"

/* ---- building what a web server sends -------------------------------- */

static void
rec(struct ct_buf *b, int type, unsigned id, const void *c, size_t n, int pad)
{
	unsigned char h[8] = { 1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
	                       (unsigned char)(n >> 8), (unsigned char)n, (unsigned char)pad, 0 };
	static const unsigned char zeros[255];

	ct_buf_add(b, h, 8);
	if (n)
		ct_buf_add(b, c, n);
	if (pad)
		ct_buf_add(b, zeros, (size_t)pad);
}

static void
len(struct ct_buf *b, size_t n)
{
	unsigned char l[4] = { (unsigned char)(0x80 | n >> 24), (unsigned char)(n >> 16),
	                       (unsigned char)(n >> 8), (unsigned char)n };

	if (n < 128) {
		l[0] = (unsigned char)n;
		ct_buf_add(b, l, 1);
	} else {
		ct_buf_add(b, l, 4);
	}
}

static void
nv(struct ct_buf *b, const char *name, const char *value)
{
	len(b, strlen(name));
	len(b, strlen(value));
	ct_buf_adds(b, name);
	ct_buf_adds(b, value);
}

static void
begin(struct ct_buf *b, unsigned id, int role, int flags)
{
	unsigned char body[8] = { (unsigned char)(role >> 8), (unsigned char)role,
	                          (unsigned char)flags, 0, 0, 0, 0, 0 };

	rec(b, FCGI_BEGIN_REQUEST, id, body, 8, 0);
}

/* nginx's request: BEGIN (keep), PARAMS in two records, STDIN. */
static void
request(struct ct_buf *b, unsigned id, int keep, const char *body)
{
	struct ct_buf p;
	char longv[300];

	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	ct_buf_init(&p, 0);
	nv(&p, "REQUEST_METHOD", "POST");
	nv(&p, "DOCUMENT_URI", "/api/token");
	nv(&p, "CONTENT_LENGTH", "5");
	nv(&p, "HTTP_X_LONG", longv);   /* a 4-byte value length */
	nv(&p, "EMPTY", "");
	begin(b, id, FCGI_RESPONDER, keep ? FCGI_KEEP_CONN : 0);
	rec(b, FCGI_PARAMS, id, p.p, 20, 4);                 /* cut mid-pair, padded */
	rec(b, FCGI_PARAMS, id, p.p + 20, p.len - 20, 0);
	rec(b, FCGI_PARAMS, id, NULL, 0, 0);
	if (body && *body)
		rec(b, FCGI_STDIN, id, body, strlen(body), 3);
	rec(b, FCGI_STDIN, id, NULL, 0, 0);
	ct_buf_free(&p);
}

/* ---- reading what we answer -------------------------------------------- */

struct answer {
	struct ct_buf stdout_;
	int stdout_end;              /* an empty STDOUT record seen */
	int end, app, proto;         /* END_REQUEST seen, its statuses */
	unsigned id;
	int other_type;              /* GET_VALUES_RESULT, UNKNOWN_TYPE, ... */
	struct ct_buf other;
	int bad;                     /* records that do not parse */
};

static void
parse(const struct ct_buf *out, struct answer *a)
{
	const unsigned char *p = (const unsigned char *)out->p;
	size_t o = 0;

	memset(a, 0, sizeof(*a));
	ct_buf_init(&a->stdout_, 0);
	ct_buf_init(&a->other, 0);
	while (out->len - o >= 8) {
		size_t n = (size_t)p[o + 4] << 8 | p[o + 5], tot = 8 + n + p[o + 6];
		int type = p[o + 1];

		if (p[o] != 1 || out->len - o < tot) {
			a->bad = 1;
			return;
		}
		if (type == FCGI_STDOUT) {
			if (n == 0)
				a->stdout_end = 1;
			else
				ct_buf_add(&a->stdout_, p + o + 8, n);
			a->id = (unsigned)p[o + 2] << 8 | p[o + 3];
		} else if (type == FCGI_END_REQUEST && n == 8) {
			a->end++;
			a->id = (unsigned)p[o + 2] << 8 | p[o + 3];
			a->app = p[o + 8] << 24 | p[o + 9] << 16 | p[o + 10] << 8 | p[o + 11];
			a->proto = p[o + 12];
		} else {
			a->other_type = type;
			ct_buf_add(&a->other, p + o + 8, n);
		}
		o += tot;
	}
	if (o != out->len)
		a->bad = 1;
}

static void
answer_free(struct answer *a)
{
	ct_buf_free(&a->stdout_);
	ct_buf_free(&a->other);
}

/* Feed in[0..n) the way loop.c does, `step` bytes arriving at a time;
 * returns the last result, *at the bytes used when it came. */
static int
feed_steps(struct ct_fcgi_req *r, const char *in, size_t n, size_t step,
           struct ct_buf *out, size_t *at, char *err)
{
	size_t have = 0, p = 0, used;
	int rc = CT_FCGI_MORE;

	while (have < n) {
		have = have + step > n ? n : have + step;
		rc = ct_fcgi_feed(r, (const unsigned char *)in + p, have - p, &used, out, err);
		p += used;
		if (rc != CT_FCGI_MORE)
			break;
	}
	*at = p;
	return rc;
}

int
main(void)
{
	struct ct_fcgi_req r;
	struct ct_buf in, out;
	struct answer a;
	char err[CT_ERRLEN], buf[64];
	size_t used, step, at;
	int rc, all;

	plan(46);

	/* A whole request at once. */
	ct_buf_init(&in, 0);
	ct_buf_init(&out, 0);
	request(&in, 1, 1, "hello");
	ct_fcgi_init(&r);
	rc = ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err);
	is_int(CT_FCGI_READY, rc, "a whole request is ready");
	is_int((long long)in.len, (long long)used, "every byte used");
	is_str("POST", ct_fcgi_param(&r, "REQUEST_METHOD"), "REQUEST_METHOD");
	is_str("/api/token", ct_fcgi_param(&r, "DOCUMENT_URI"), "DOCUMENT_URI, cut across records");
	ok(ct_fcgi_param(&r, "HTTP_X_LONG") && strlen(ct_fcgi_param(&r, "HTTP_X_LONG")) == 299,
	   "a value with a 4-byte length");
	is_str("", ct_fcgi_param(&r, "EMPTY"), "an empty value");
	ok(ct_fcgi_param(&r, "NOPE") == NULL, "an absent variable is NULL");
	is_int(5, ct_fcgi_read(&r, buf, sizeof(buf)), "the body is read");
	ok(memcmp(buf, "hello", 5) == 0, "the body's bytes");
	is_int(0, ct_fcgi_read(&r, buf, sizeof(buf)), "then its end");
	is_int(0, (long long)out.len, "nothing said yet");

	/* The answer. */
	is_int(CT_OK, ct_fcgi_respond(&r, "Status: 200 OK\r\n\r\n", 18, "{}", 2, &out), "respond");
	parse(&out, &a);
	ok(!a.bad && a.stdout_end && a.end == 1, "STDOUT, its end, END_REQUEST");
	ok(a.stdout_.len == 20 && memcmp(a.stdout_.p, "Status: 200 OK\r\n\r\n{}", 20) == 0,
	   "the head and body, in order");
	ok(a.id == 1 && a.app == 0 && a.proto == FCGI_REQUEST_COMPLETE, "request 1 complete");
	ok(!r.close && !r.active, "a kept connection stays open");
	answer_free(&a);

	/* The next request on the same connection. */
	ct_buf_reset(&in);
	ct_buf_reset(&out);
	request(&in, 7, 0, "");
	rc = ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err);
	is_int(CT_FCGI_READY, rc, "a second request on the connection");
	is_int(0, ct_fcgi_read(&r, buf, sizeof(buf)), "with an empty body");
	ct_fcgi_respond(&r, "x", 1, NULL, 0, &out);
	ok(r.close, "without FCGI_KEEP_CONN the connection closes after it");
	ct_fcgi_free(&r);

	/* Cut at every byte, and in a few other sizes. */
	ct_buf_reset(&in);
	request(&in, 3, 1, "hello");
	all = 1;
	for (step = 1; step <= 64; step = step < 10 ? step + 1 : step * 2) {
		ct_fcgi_init(&r);
		ct_buf_reset(&out);
		rc = feed_steps(&r, in.p, in.len, step, &out, &at, err);
		if (rc != CT_FCGI_READY || at != in.len || out.len != 0 ||
		    strcmp(ct_fcgi_param(&r, "CONTENT_LENGTH"), "5") != 0) {
			diag("step %zu: rc %d at %zu of %zu: %s", step, rc, at, in.len, err);
			all = 0;
		}
		ct_fcgi_free(&r);
	}
	ok(all, "the same request however the bytes arrive");

	/* A second request while one is in flight: refused, the first goes on. */
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	ct_buf_reset(&out);
	begin(&in, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
	begin(&in, 2, FCGI_RESPONDER, FCGI_KEEP_CONN);
	rc = ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err);
	parse(&out, &a);
	ok(rc == CT_FCGI_MORE && a.end == 1 && a.id == 2 && a.proto == FCGI_CANT_MPX_CONN,
	   "a multiplexed request is refused with CANT_MPX_CONN");
	ok(r.active && r.id == 1, "the first request goes on");
	answer_free(&a);
	ct_buf_reset(&in);
	begin(&in, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
	is_int(CT_FCGI_BAD, ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err),
	       "the same request begun twice is an error");
	ct_fcgi_free(&r);

	/* Another role. */
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	ct_buf_reset(&out);
	begin(&in, 4, FCGI_AUTHORIZER, 0);
	rec(&in, FCGI_PARAMS, 4, NULL, 0, 0);
	rc = ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err);
	parse(&out, &a);
	ok(rc == CT_FCGI_MORE && a.end == 1 && a.proto == FCGI_UNKNOWN_ROLE && r.close,
	   "the AUTHORIZER role is refused, and its records dropped");
	answer_free(&a);
	ct_fcgi_free(&r);

	/* Management records. */
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	ct_buf_reset(&out);
	{
		struct ct_buf q;

		ct_buf_init(&q, 0);
		nv(&q, "FCGI_MPXS_CONNS", "");
		nv(&q, "FCGI_UNHEARD_OF", "");
		nv(&q, "FCGI_MAX_REQS", "");
		rec(&in, FCGI_GET_VALUES, 0, q.p, q.len, 0);
		ct_buf_free(&q);
	}
	rec(&in, 200, 0, "abc", 3, 0);
	rc = ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err);
	is_int(CT_FCGI_MORE, rc, "management records need no request");
	{
		const unsigned char *p = (const unsigned char *)out.p;
		size_t n1 = (size_t)p[4] << 8 | p[5];

		ok(p[1] == FCGI_GET_VALUES_RESULT && n1 == 2 + 15 + 1 + 2 + 13 + 4 &&
		   memcmp(p + 8, "\x0f\x01" "FCGI_MPXS_CONNS" "0", 18) == 0 &&
		   memcmp(p + 26, "\x0d\x04" "FCGI_MAX_REQS" "1024", 19) == 0,
		   "GET_VALUES: not multiplexed; the unknown name left out");
		ok(p[8 + n1 + 1] == FCGI_UNKNOWN_TYPE && p[8 + n1 + 8] == 200,
		   "an unknown management type: UNKNOWN_TYPE naming it");
	}
	ct_fcgi_free(&r);

	/* Abort. */
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	ct_buf_reset(&out);
	begin(&in, 9, FCGI_RESPONDER, FCGI_KEEP_CONN);
	rec(&in, FCGI_ABORT_REQUEST, 9, NULL, 0, 0);
	rec(&in, FCGI_STDIN, 9, "late", 4, 0);
	rec(&in, FCGI_STDIN, 9, NULL, 0, 0);
	rc = ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err);
	parse(&out, &a);
	ok(rc == CT_FCGI_MORE && used == in.len && a.end == 1 && a.id == 9 && !r.active,
	   "ABORT_REQUEST ends the request; its late records are dropped");
	answer_free(&a);
	ct_fcgi_free(&r);

	/* Large answers are split into records of at most 65535 bytes. */
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	ct_buf_reset(&out);
	request(&in, 5, 1, "x");
	ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err);
	{
		char *big = malloc(70000);

		memset(big, 'b', 70000);
		ct_fcgi_respond(&r, "H\r\n\r\n", 5, big, 70000, &out);
		free(big);
	}
	parse(&out, &a);
	ok(!a.bad && a.stdout_.len == 70005 && a.end == 1, "a 70,000-byte body in records");
	answer_free(&a);
	ct_fcgi_free(&r);

	/* What a web server must not send. */
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	request(&in, 1, 1, "");
	in.p[0] = 2;
	is_int(CT_FCGI_BAD, ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err),
	       "version 2 is refused");
	ok(strstr(err, "version 2") != NULL, "and said so: %s", err);
	ct_fcgi_free(&r);

	{
		static const char *const cases[][2] = {
			{ "\x04\x02" "NAME" "v",       "a value past the end" },
			{ "\x84\x00\x00\x01",          "a 4-byte length cut short" },
			{ "\x00\x01" "v",              "an empty name" },
			{ "\x04\x01" "NA\0E" "v",      "a NUL in a name" },
		};
		static const size_t lens[] = { 7, 4, 3, 7 };
		size_t i;

		for (i = 0; i < 4; i++) {
			ct_fcgi_init(&r);
			ct_buf_reset(&in);
			begin(&in, 1, FCGI_RESPONDER, 0);
			rec(&in, FCGI_PARAMS, 1, cases[i][0], lens[i], 0);
			rec(&in, FCGI_PARAMS, 1, NULL, 0, 0);
			is_int(CT_FCGI_BAD, ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used,
			                                 &out, err), "params: %s", cases[i][1]);
			ct_fcgi_free(&r);
		}
	}
	{
		char v[3] = { 'a', '\0', 'b' };
		struct ct_buf q;

		ct_buf_init(&q, 0);
		len(&q, 1);
		len(&q, 3);
		ct_buf_adds(&q, "N");
		ct_buf_add(&q, v, 3);
		ct_fcgi_init(&r);
		ct_buf_reset(&in);
		begin(&in, 1, FCGI_RESPONDER, 0);
		rec(&in, FCGI_PARAMS, 1, q.p, q.len, 0);
		rec(&in, FCGI_PARAMS, 1, NULL, 0, 0);
		is_int(CT_FCGI_BAD, ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err),
		       "params: a NUL in a value");
		ct_fcgi_free(&r);
		ct_buf_free(&q);
	}

	/* Params beyond their cap. */
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	begin(&in, 1, FCGI_RESPONDER, 0);
	{
		char *junk = calloc(1, 60000);
		rec(&in, FCGI_PARAMS, 1, junk, 60000, 0);
		free(junk);
	}
	is_int(CT_FCGI_BAD, ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err),
	       "params of more than 32 KiB are refused");
	ct_fcgi_free(&r);

	/* Records out of place. */
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	request(&in, 1, 1, "");
	rec(&in, FCGI_STDIN, 1, NULL, 0, 0);
	rc = ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err);
	is_int(CT_FCGI_READY, rc, "ready stops at the request's last record");
	ok(used < in.len, "and leaves the rest");
	ct_fcgi_free(&r);
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	begin(&in, 1, FCGI_RESPONDER, 0);
	rec(&in, FCGI_PARAMS, 1, NULL, 0, 0);
	rec(&in, FCGI_PARAMS, 1, NULL, 0, 0);
	is_int(CT_FCGI_BAD, ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err),
	       "PARAMS after their end");
	ct_fcgi_free(&r);
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	begin(&in, 1, FCGI_RESPONDER, 0);
	rec(&in, FCGI_STDOUT, 1, "x", 1, 0);
	is_int(CT_FCGI_BAD, ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err),
	       "STDOUT from the web server");
	ct_fcgi_free(&r);
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	rec(&in, FCGI_STDIN, 12, "x", 1, 0);
	rec(&in, FCGI_PARAMS, 12, "x", 1, 0);
	rc = ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err);
	ok(rc == CT_FCGI_MORE && used == in.len, "records of no request are dropped");
	ct_fcgi_free(&r);

	/* Bodies: the first 16 KiB + 1 kept, up to 1 MiB read, more refused. */
	ct_fcgi_init(&r);
	ct_buf_reset(&in);
	ct_buf_reset(&out);
	begin(&in, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
	rec(&in, FCGI_PARAMS, 1, NULL, 0, 0);
	{
		char *chunk = calloc(1, 65535);
		int i;

		memset(chunk, 'z', 65535);
		for (i = 0; i < 3; i++)
			rec(&in, FCGI_STDIN, 1, chunk, 65535, 0);
		rec(&in, FCGI_STDIN, 1, NULL, 0, 0);
		rc = ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err);
		ok(rc == CT_FCGI_READY && r.body.len == CT_FCGI_STDIN_KEEP && r.body_seen == 3 * 65535,
		   "a large body: 16 KiB + 1 kept, the rest read and dropped");
		ct_fcgi_free(&r);
		ct_fcgi_init(&r);
		ct_buf_reset(&in);
		begin(&in, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
		rec(&in, FCGI_PARAMS, 1, NULL, 0, 0);
		for (i = 0; i < 17; i++)
			rec(&in, FCGI_STDIN, 1, chunk, 65535, 0);
		free(chunk);
	}
	is_int(CT_FCGI_BAD, ct_fcgi_feed(&r, (unsigned char *)in.p, in.len, &used, &out, err),
	       "a body over 1 MiB closes the connection");
	ok(strstr(err, "more than 1048576") != NULL, "and says why: %s", err);
	ct_fcgi_free(&r);

	is_int(8 + 65535 + 255, (long long)ct_fcgi_record_len((const unsigned char *)
	       "\x01\x05\x00\x01\xff\xff\xff\x00"), "the longest record");

	ct_buf_free(&in);
	ct_buf_free(&out);
	return done();
}
