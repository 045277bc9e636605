/*
 * handler.h — one HTTP request of calltrail-token, independent of how it
 * arrived (FastCGI, plain CGI, a unit test or a fuzzer).  The caller
 * fills a struct ct_http_req with ct_http_req_cgi (cgireq.c: loop.c from
 * a FastCGI request's parameters, main.c's serve_cgi from the
 * environment) and gives a reader for the body; the handler (handler.c)
 * decides everything else (SPEC section 3).
 */
#ifndef CT_HANDLER_H
#define CT_HANDLER_H

#include "ct_token.h"

#define CT_BODY_MAX   (16 * 1024)   /* request body, bytes */
#define CT_PATH_MAX   1024          /* longer paths are simply not found */

/*
 * Read up to n bytes of the body into buf; returns the count (0 at the
 * end of the body) or -1 on error.  The handler never asks for more than
 * the declared Content-Length.
 */
typedef long (*ct_body_reader)(void *ctx, char *buf, size_t n);

struct ct_http_req {
	const char *method;          /* REQUEST_METHOD */
	const char *path;            /* the path, no query string */
	const char *content_type;    /* CONTENT_TYPE or NULL */
	const char *content_length;  /* CONTENT_LENGTH or NULL */
	const char *origin;          /* HTTP_ORIGIN or NULL */
	ct_body_reader read;         /* NULL: no body can be read */
	void *read_ctx;
};

/*
 * The response and what the log line needs.  Reused across requests so
 * the buffers keep their memory: ct_handler_init once, ct_handler_run per
 * request, ct_handler_free at the end.
 */
struct ct_handler {
	const struct ct_conf *conf;  /* borrowed; lives as long as the worker */
	int status;
	const char *code;            /* error code, or NULL on success */
	struct ct_buf head;          /* "Status: …\r\n" + headers + "\r\n" */
	struct ct_buf body;          /* the JSON answer */
	struct ct_buf in;            /* the request body */
	char room[CT_TOKEN_ROOM_MAX];  /* "-" when no token was minted */
	char email[CT_MASKLEN];      /* masked email, "-" when none */
	char err[CT_ERRLEN];         /* detail for the log (never sent) */
	/* The 200 answer as a json-c tree, built on first use and only its
	 * values set per request (handler.c, success()). */
	struct json_object *ok, *ok_url, *ok_room, *ok_name, *ok_tok, *ok_url2, *ok_tok2;
};

/* A CGI variable by name, or NULL (getenv, or a FastCGI request's). */
typedef const char *(*ct_cgi_getter)(void *ctx, const char *name);

/*
 * Fill the CGI fields of rq from the variables get returns: the path is
 * nginx's DOCUMENT_URI, else SCRIPT_NAME + PATH_INFO, else REQUEST_URI up
 * to '?', built in pbuf (CT_PATH_MAX + 1 bytes) when it must be; NULL
 * when it is too long to be one of ours.  read and read_ctx are left.
 */
void ct_http_req_cgi(struct ct_http_req *rq, char *pbuf, size_t sz,
                     ct_cgi_getter get, void *ctx);

void ct_handler_init(struct ct_handler *h, const struct ct_conf *conf);
void ct_handler_free(struct ct_handler *h);

/*
 * Answer one request: after the call h->head and h->body hold the whole
 * CGI response (head ends with the blank line), h->status, h->code,
 * h->room and h->email what ct_handler_log prints.  Never fails: a
 * problem becomes an error response (500 server_error at worst).
 * now_us is the time the token is minted at.
 */
void ct_handler_run(struct ct_handler *h, const struct ct_http_req *rq,
                    int64_t now_us);

/* The one log line of a request (stderr via ct_log): status, duration in
 * microseconds, room, masked email, and the error detail if any. */
void ct_handler_log(const struct ct_handler *h, int64_t micros);

#endif /* CT_HANDLER_H */
