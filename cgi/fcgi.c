/*
 * fcgi.c — FastCGI records to requests and responses to records (see
 * fcgi.h).  Why not libfcgi's FCGX_Accept_r: it serves one connection
 * per blocking thread, and each request is then a sleep and a wake-up of
 * a thread; measured behind nginx that cost more than minting the token
 * (bench/README.md).  This layer lets loop.c serve every connection of a
 * worker from one epoll loop.  Record layouts come from libfcgi's
 * <fastcgi.h>; the rules are the FastCGI 1.0 specification's.
 */
#include <string.h>

#include <fastcgi.h>

#include "fcgi.h"

/* Answers to FCGI_GET_VALUES: connections are not multiplexed. */
#define MAX_CONNS "1024"

void
ct_fcgi_init(struct ct_fcgi_req *r)
{
	memset(r, 0, sizeof(*r));
	ct_buf_init(&r->params, CT_FCGI_PARAMS_MAX);
	ct_buf_init(&r->env, CT_FCGI_PARAMS_MAX + 64);
	ct_buf_init(&r->body, CT_FCGI_STDIN_KEEP);
}

void
ct_fcgi_free(struct ct_fcgi_req *r)
{
	ct_buf_free(&r->params);
	ct_buf_free(&r->env);
	ct_buf_free(&r->body);
}

size_t
ct_fcgi_record_len(const unsigned char *h)
{
	return FCGI_HEADER_LEN + ((size_t)h[4] << 8 | h[5]) + h[6];
}

static int
header(struct ct_buf *out, int type, unsigned id, size_t clen)
{
	FCGI_Header h = {
		.version = FCGI_VERSION_1,
		.type = (unsigned char)type,
		.requestIdB1 = (unsigned char)(id >> 8),
		.requestIdB0 = (unsigned char)id,
		.contentLengthB1 = (unsigned char)(clen >> 8),
		.contentLengthB0 = (unsigned char)clen,
	};

	return ct_buf_add(out, &h, sizeof(h));
}

static int
end_request(struct ct_buf *out, unsigned id, int protocol_status)
{
	FCGI_EndRequestBody b;

	memset(&b, 0, sizeof(b));
	b.protocolStatus = (unsigned char)protocol_status;
	if (header(out, FCGI_END_REQUEST, id, sizeof(b)) != CT_OK)
		return CT_ERR_TOOBIG;
	return ct_buf_add(out, &b, sizeof(b));
}

/*
 * One name-value pair at p[0..n): lengths in 1 or 4 bytes (FastCGI 1.0
 * section 3.4).  Returns the bytes it takes, 0 when it does not fit.
 */
static size_t
pair(const unsigned char *p, size_t n, size_t *nl, size_t *vl)
{
	size_t o = 0, *len[2] = { nl, vl };
	int i;

	for (i = 0; i < 2; i++) {
		if (o >= n)
			return 0;
		if (p[o] & 0x80) {
			if (n - o < 4)
				return 0;
			*len[i] = ((size_t)(p[o] & 0x7f) << 24) | (size_t)p[o + 1] << 16 |
			          (size_t)p[o + 2] << 8 | p[o + 3];
			o += 4;
		} else {
			*len[i] = p[o++];
		}
	}
	if (*nl > n - o || *vl > n - o - *nl)
		return 0;
	return o;
}

/* PARAMS are complete: decode them into env, refusing what a CGI
 * variable cannot be (an empty name, a NUL anywhere). */
static int
decode(struct ct_fcgi_req *r, char *err)
{
	const unsigned char *p = (const unsigned char *)r->params.p;
	size_t n = r->params.len, o = 0, h, nl, vl;

	ct_buf_reset(&r->env);
	while (o < n) {
		if ((h = pair(p + o, n - o, &nl, &vl)) == 0) {
			ct_seterr(err, CT_ERR_INPUT, "FastCGI params: a name-value pair runs past the end");
			return CT_FCGI_BAD;
		}
		o += h;
		if (nl == 0 || memchr(p + o, '\0', nl + vl) != NULL) {
			ct_seterr(err, CT_ERR_INPUT, "FastCGI params: an empty name or a NUL byte");
			return CT_FCGI_BAD;
		}
		if (ct_buf_add(&r->env, p + o, nl) != CT_OK ||
		    ct_buf_add(&r->env, "", 1) != CT_OK ||
		    ct_buf_add(&r->env, p + o + nl, vl) != CT_OK ||
		    ct_buf_add(&r->env, "", 1) != CT_OK) {
			ct_seterr(err, CT_ERR_INPUT, "FastCGI params: more than %d bytes", CT_FCGI_PARAMS_MAX);
			return CT_FCGI_BAD;
		}
		o += nl + vl;
	}
	return CT_FCGI_MORE;
}

/* FCGI_GET_VALUES: answer the three variables we know, in one record. */
static int
get_values(const unsigned char *c, size_t n, struct ct_buf *out, char *err)
{
	static const char *const names[] = { FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS };
	static const char *const values[] = { MAX_CONNS, MAX_CONNS, "0" };
	unsigned char ans[128];
	size_t o = 0, a = 0, h, nl, vl, i;

	while (o < n) {
		if ((h = pair(c + o, n - o, &nl, &vl)) == 0) {
			ct_seterr(err, CT_ERR_INPUT, "FastCGI GET_VALUES: a name-value pair runs past the end");
			return CT_FCGI_BAD;
		}
		o += h;
		for (i = 0; i < 3; i++) {
			size_t k = strlen(names[i]), v = strlen(values[i]);

			if (nl == k && memcmp(c + o, names[i], k) == 0 && a + 2 + k + v <= sizeof(ans)) {
				ans[a++] = (unsigned char)k;
				ans[a++] = (unsigned char)v;
				memcpy(ans + a, names[i], k);
				memcpy(ans + a + k, values[i], v);
				a += k + v;
			}
		}
		o += nl + vl;
	}
	if (header(out, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID, a) != CT_OK ||
	    ct_buf_add(out, ans, a) != CT_OK) {
		ct_seterr(err, CT_ERR_INPUT, "FastCGI: output buffer full");
		return CT_FCGI_BAD;
	}
	return CT_FCGI_MORE;
}

/* A record with requestId 0. */
static int
management(int type, const unsigned char *c, size_t n, struct ct_buf *out, char *err)
{
	FCGI_UnknownTypeBody b;

	if (type == FCGI_GET_VALUES)
		return get_values(c, n, out, err);
	memset(&b, 0, sizeof(b));
	b.type = (unsigned char)type;
	if (header(out, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, sizeof(b)) != CT_OK ||
	    ct_buf_add(out, &b, sizeof(b)) != CT_OK) {
		ct_seterr(err, CT_ERR_INPUT, "FastCGI: output buffer full");
		return CT_FCGI_BAD;
	}
	return CT_FCGI_MORE;
}

static int
begin(struct ct_fcgi_req *r, unsigned id, const unsigned char *c, size_t n,
      struct ct_buf *out, char *err)
{
	const FCGI_BeginRequestBody *b = (const FCGI_BeginRequestBody *)c;
	int role;

	if (n != sizeof(*b)) {
		ct_seterr(err, CT_ERR_INPUT, "FastCGI BEGIN_REQUEST: %zu bytes of body, not 8", n);
		return CT_FCGI_BAD;
	}
	role = b->roleB1 << 8 | b->roleB0;
	if (r->active && id == r->id) {
		ct_seterr(err, CT_ERR_INPUT, "FastCGI BEGIN_REQUEST: request %u begun twice", id);
		return CT_FCGI_BAD;
	}
	if (r->active || role != FCGI_RESPONDER) {
		/* The request in flight goes on; this one is refused. */
		if (end_request(out, id, r->active ? FCGI_CANT_MPX_CONN : FCGI_UNKNOWN_ROLE) != CT_OK) {
			ct_seterr(err, CT_ERR_INPUT, "FastCGI: output buffer full");
			return CT_FCGI_BAD;
		}
		if (!r->active && !(b->flags & FCGI_KEEP_CONN))
			r->close = 1;
		return CT_FCGI_MORE;
	}
	r->active = 1;
	r->id = id;
	r->keep = (b->flags & FCGI_KEEP_CONN) != 0;
	r->params_done = r->stdin_done = 0;
	r->body_seen = r->body_off = 0;
	ct_buf_reset(&r->params);
	ct_buf_reset(&r->env);
	ct_buf_reset(&r->body);
	return CT_FCGI_MORE;
}

/* A stream record (PARAMS, STDIN) of the active request. */
static int
stream(struct ct_fcgi_req *r, int type, const unsigned char *c, size_t n, char *err)
{
	if (type == FCGI_PARAMS) {
		if (r->params_done) {
			ct_seterr(err, CT_ERR_INPUT, "FastCGI PARAMS after the end of the params");
			return CT_FCGI_BAD;
		}
		if (n == 0) {
			r->params_done = 1;
			return decode(r, err);
		}
		if (ct_buf_add(&r->params, c, n) != CT_OK) {
			ct_seterr(err, CT_ERR_INPUT, "FastCGI params: more than %d bytes", CT_FCGI_PARAMS_MAX);
			return CT_FCGI_BAD;
		}
		return CT_FCGI_MORE;
	}
	/* STDIN */
	if (r->stdin_done) {
		ct_seterr(err, CT_ERR_INPUT, "FastCGI STDIN after the end of the body");
		return CT_FCGI_BAD;
	}
	if (n == 0) {
		r->stdin_done = 1;
		return CT_FCGI_MORE;
	}
	if (n > CT_FCGI_STDIN_MAX - r->body_seen) {
		ct_seterr(err, CT_ERR_INPUT, "FastCGI STDIN: a body of more than %d bytes", CT_FCGI_STDIN_MAX);
		return CT_FCGI_BAD;
	}
	r->body_seen += n;
	/* Keep what the handler may read (it refuses longer bodies with 413
	 * by their Content-Length); the rest is read and dropped. */
	if (r->body.len < CT_FCGI_STDIN_KEEP) {
		size_t k = CT_FCGI_STDIN_KEEP - r->body.len;

		(void)ct_buf_add(&r->body, c, n < k ? n : k);
	}
	return CT_FCGI_MORE;
}

int
ct_fcgi_feed(struct ct_fcgi_req *r, const unsigned char *in, size_t n,
             size_t *used, struct ct_buf *out, char *err)
{
	size_t o = 0;
	int rc = CT_FCGI_MORE;

	err[0] = '\0';
	while (rc == CT_FCGI_MORE && n - o >= FCGI_HEADER_LEN) {
		const unsigned char *h = in + o, *c = h + FCGI_HEADER_LEN;
		size_t len = ct_fcgi_record_len(h), clen = (size_t)h[4] << 8 | h[5];
		unsigned id = (unsigned)h[2] << 8 | h[3];
		int type = h[1];

		if (h[0] != FCGI_VERSION_1) {
			ct_seterr(err, CT_ERR_INPUT, "FastCGI: record version %d, not 1", h[0]);
			rc = CT_FCGI_BAD;
			break;
		}
		if (n - o < len)
			break;
		o += len;
		if (id == FCGI_NULL_REQUEST_ID)
			rc = management(type, c, clen, out, err);
		else if (type == FCGI_BEGIN_REQUEST)
			rc = begin(r, id, c, clen, out, err);
		else if (!r->active || id != r->id)
			; /* a request we refused or ended: its records are dropped */
		else if (type == FCGI_ABORT_REQUEST)
			rc = ct_fcgi_respond(r, NULL, 0, NULL, 0, out) == CT_OK ? CT_FCGI_MORE : CT_FCGI_BAD;
		else if (type == FCGI_PARAMS || type == FCGI_STDIN)
			rc = stream(r, type, c, clen, err);
		else if (type != FCGI_DATA) {
			ct_seterr(err, CT_ERR_INPUT, "FastCGI: record type %d from the web server", type);
			rc = CT_FCGI_BAD;
		}
		if (rc == CT_FCGI_MORE && r->active && r->params_done && r->stdin_done)
			rc = CT_FCGI_READY;
	}
	if (rc == CT_FCGI_BAD && err[0] == '\0')
		ct_seterr(err, CT_ERR_TOOBIG, "FastCGI: output buffer full");
	*used = o;
	return rc;
}

const char *
ct_fcgi_param(const struct ct_fcgi_req *r, const char *name)
{
	const char *p = r->env.p, *end;

	if (p == NULL || !r->params_done)
		return NULL;   /* no params at all, or not yet */
	end = p + r->env.len;
	while (p < end) {
		size_t nl = strlen(p);
		const char *v = p + nl + 1;

		if (strcmp(p, name) == 0)
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}

long
ct_fcgi_read(void *ctx, char *buf, size_t n)
{
	struct ct_fcgi_req *r = ctx;
	size_t left = r->body.len - r->body_off;

	if (n > left)
		n = left;
	if (n)
		memcpy(buf, r->body.p + r->body_off, n);
	r->body_off += n;
	return (long)n;
}

/* data[0..n) as STDOUT records of at most 65535 bytes each. */
static int
stdout_records(unsigned id, const char *data, size_t n, struct ct_buf *out)
{
	while (n > 0) {
		size_t k = n > 65535 ? 65535 : n;

		if (header(out, FCGI_STDOUT, id, k) != CT_OK || ct_buf_add(out, data, k) != CT_OK)
			return CT_ERR_TOOBIG;
		data += k;
		n -= k;
	}
	return CT_OK;
}

int
ct_fcgi_respond(struct ct_fcgi_req *r, const char *head, size_t hlen,
                const char *body, size_t blen, struct ct_buf *out)
{
	int rc = CT_OK;

	if (stdout_records(r->id, head, hlen, out) != CT_OK ||
	    stdout_records(r->id, body, blen, out) != CT_OK ||
	    header(out, FCGI_STDOUT, r->id, 0) != CT_OK ||
	    end_request(out, r->id, FCGI_REQUEST_COMPLETE) != CT_OK)
		rc = CT_ERR_TOOBIG;
	r->active = 0;
	if (!r->keep)
		r->close = 1;
	return rc;
}
