/*
 * cgireq.c — a request of calltrail-token from its CGI variables
 * (RFC 3875), as nginx's fastcgi_params or a CGI server's environment
 * gives them: the method, the path, the body's type and length, and the
 * Origin header.  loop.c reads them from a FastCGI request, main.c's
 * serve_cgi from the environment; handler.c answers the request.
 */
#include <stdio.h>
#include <string.h>

#include "handler.h"

/* The path without its query: DOCUMENT_URI, else SCRIPT_NAME + PATH_INFO,
 * else REQUEST_URI up to '?'; built in buf when it must be, NULL when it
 * does not fit. */
static const char *
reqpath(char *buf, size_t sz, const char *doc, const char *script,
        const char *info, const char *uri)
{
	size_t n;
	int len;

	if (doc && *doc)
		return doc;
	if ((script && *script) || (info && *info)) {
		len = snprintf(buf, sz, "%s%s", script ? script : "", info ? info : "");
		return len >= 0 && (size_t)len < sz ? buf : NULL;
	}
	if (uri == NULL)
		return NULL;
	n = strcspn(uri, "?");
	if (n >= sz)
		return NULL;
	memcpy(buf, uri, n);
	buf[n] = '\0';
	return buf;
}

void
ct_http_req_cgi(struct ct_http_req *rq, char *pbuf, size_t sz,
                ct_cgi_getter get, void *ctx)
{
	rq->method = get(ctx, "REQUEST_METHOD");
	rq->path = reqpath(pbuf, sz, get(ctx, "DOCUMENT_URI"), get(ctx, "SCRIPT_NAME"),
	                   get(ctx, "PATH_INFO"), get(ctx, "REQUEST_URI"));
	rq->content_type = get(ctx, "CONTENT_TYPE");
	rq->content_length = get(ctx, "CONTENT_LENGTH");
	rq->origin = get(ctx, "HTTP_ORIGIN");
}
