/*
 * bench/handler-loop.c — the token request without a web server: the
 * browser's body through ct_handler_run N times in one thread, to separate
 * calltrail-token's own CPU cost per request (parse, validate, mint, sign,
 * answer) from the FastCGI and nginx around it.  Also what bench/README.md
 * profiles with perf and callgrind.
 *
 *   handler-loop N   prints "handler-loop N requests, X us/request"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf-sample.h"
#include "handler.h"

static const char body[] =
	"{\"user_email\":\"jane.doe@acme.com\","
	"\"room_config\":{\"agents\":[{\"agent_name\":\"sales-agent\"}]}}";

struct mem { size_t off; };

static long
memread(void *ctx, char *buf, size_t n)
{
	struct mem *m = ctx;
	size_t k = sizeof(body) - 1 - m->off < n ? sizeof(body) - 1 - m->off : n;

	memcpy(buf, body + m->off, k);
	m->off += k;
	return (long)k;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static struct ct_conf c;
	struct ct_handler h;
	char len[16];
	long i, n = argc > 1 ? atol(argv[1]) : 100000;
	double t0;

	conf_sample(&c, "bench-secret-0123456789abcdef-0123456789",
	            "https://www.example.com");
	snprintf(len, sizeof(len), "%zu", sizeof(body) - 1);
	ct_handler_init(&h, &c);
	t0 = now();
	for (i = 0; i < n; i++) {
		struct mem m = { 0 };
		struct ct_http_req rq = {
			.method = "POST", .path = "/api/connection-details",
			.content_type = "application/json", .content_length = len,
			.origin = "https://www.example.com", .read = memread, .read_ctx = &m,
		};

		ct_handler_run(&h, &rq, (int64_t)time(NULL) * 1000000);
		if (h.status != 200) {
			fprintf(stderr, "handler-loop: status %d\n", h.status);
			return 1;
		}
	}
	printf("handler-loop %ld requests, %.2f us/request\n", n, (now() - t0) / (double)n * 1e6);
	ct_handler_free(&h);
	return 0;
}
