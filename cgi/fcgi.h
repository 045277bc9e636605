/*
 * fcgi.h — the FastCGI record layer of calltrail-token: bytes from the
 * web server in, one complete request out; a response in, records out.
 * No I/O here (loop.c reads and writes the sockets), so every byte a web
 * server can send goes through one function a unit test and a fuzzer
 * drive directly.  The record and body layouts are libfcgi's <fastcgi.h>.
 *
 * What we accept is what nginx, Apache's mod_proxy_fcgi and spawn-fcgi
 * send: one request at a time per connection (FCGI_MPXS_CONNS is 0), the
 * RESPONDER role, PARAMS then STDIN, each ended by an empty record.
 */
#ifndef CT_FCGI_H
#define CT_FCGI_H

#include <stddef.h>

#include "calltrail.h"

#define CT_FCGI_RECORD_MAX  (8 + 65535 + 255)  /* one record, whole */
#define CT_FCGI_PARAMS_MAX  (32 * 1024)        /* name-value bytes per request */
#define CT_FCGI_STDIN_KEEP  (16 * 1024 + 1)    /* body bytes kept (CT_BODY_MAX + 1) */
#define CT_FCGI_STDIN_MAX   (1024 * 1024)      /* body bytes read at all */

enum {
	CT_FCGI_BAD = -1,    /* protocol error: close the connection */
	CT_FCGI_MORE = 0,    /* every whole record used; read more */
	CT_FCGI_READY = 1,   /* a request is complete: answer it */
};

/* One connection's request state.  Zero it, then ct_fcgi_init. */
struct ct_fcgi_req {
	int active;            /* BEGIN_REQUEST seen, not yet answered */
	unsigned id;           /* its requestId */
	int keep;              /* FCGI_KEEP_CONN: the connection outlives it */
	int close;             /* close once the output is written */
	int params_done, stdin_done;
	struct ct_buf params;  /* raw name-value pairs, then decoded */
	struct ct_buf env;     /* "NAME\0VALUE\0" ..., once params_done */
	struct ct_buf body;    /* the first CT_FCGI_STDIN_KEEP bytes of STDIN */
	size_t body_seen;      /* STDIN bytes received in all */
	size_t body_off;       /* what ct_fcgi_read has handed out */
};

void ct_fcgi_init(struct ct_fcgi_req *r);
void ct_fcgi_free(struct ct_fcgi_req *r);

/*
 * Use the whole records at the start of in[0..n): *used is set to the
 * bytes consumed (a record cut short is left for the next call).
 * Replies the protocol needs by itself (FCGI_GET_VALUES_RESULT,
 * FCGI_UNKNOWN_TYPE, the FCGI_END_REQUEST refusing a second request on
 * the connection or another role) are appended to out.  Stops right after
 * the record that completes a request and returns CT_FCGI_READY; the
 * caller answers with ct_fcgi_respond before feeding more.  CT_FCGI_BAD
 * fills err (a bad version, a record where none may be, params that do
 * not decode or are too large, a NUL inside a name or value).
 */
int ct_fcgi_feed(struct ct_fcgi_req *r, const unsigned char *in, size_t n,
                 size_t *used, struct ct_buf *out, char *err);

/* The bytes a complete record needs, from its 8-byte header (n >= 8). */
size_t ct_fcgi_record_len(const unsigned char *hdr);

/* A CGI variable of the ready request, or NULL. */
const char *ct_fcgi_param(const struct ct_fcgi_req *r, const char *name);

/* A ct_body_reader over the ready request's body (ctx: the request). */
long ct_fcgi_read(void *ctx, char *buf, size_t n);

/*
 * Append the CGI response head and body as STDOUT records, the empty
 * STDOUT record and FCGI_END_REQUEST, and end the request (r->close is
 * set when the web server did not ask to keep the connection).
 * CT_ERR_TOOBIG when out would pass its cap.
 */
int ct_fcgi_respond(struct ct_fcgi_req *r, const char *head, size_t hlen,
                    const char *body, size_t blen, struct ct_buf *out);

#endif /* CT_FCGI_H */
