/*
 * t/s3-fail.c — the S3 request path under allocation failure (issue 11:
 * "s3-run.c:start leaks the header list when an allocation fails
 * mid-way").  Run by t/s3.sh against s3rver behind t/s3-proxy.js:
 *
 *   s3-fail -c CONF -b BUCKET
 *
 * One operation is: open the s3:// target, PUT two objects, list them,
 * GET them both at once and one alone, close.  For every N the Nth
 * allocation of that operation fails — calltrail's own and the
 * header lists' (curl_slist_append, below) — and
 * each run must end in CT_OK or a clean error (a code and a message),
 * with every block it allocated freed again, and no crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ct_target.h"
#include "failmalloc.h"
#include "tap.h"

/*
 * libcurl's header lists, built here: this definition of
 * curl_slist_append takes the place of libcurl's for calltrail's code
 * (linked into this program), so its allocations are this program's and
 * failmalloc can fail them; libcurl frees the list with free() as it
 * would its own.  The contract is libcurl's: NULL on failure, the list
 * given is left as it was.  (libcurl's other allocations are not failed:
 * its own out-of-memory paths are libcurl's to test.)
 */
struct curl_slist *curl_slist_append(struct curl_slist *list, const char *data)
{
	struct curl_slist *n = malloc(sizeof(*n)), *last;

	if (!n)
		return NULL;
	if (!(n->data = strdup(data))) {
		free(n);
		return NULL;
	}
	n->next = NULL;
	if (!list)
		return n;
	for (last = list; last->next; last = last->next)
		;
	last->next = n;
	return list;
}

static struct ct_conf conf;

static int keyseen(void *arg, const char *key, uint64_t size)
{
	(void)key; (void)size;
	(*(int *)arg)++;
	return 0;
}

/* The whole operation; err says why when it is not CT_OK. */
static int operation(char *err)
{
	static const char a[] = "first object", b[] = "second object";
	struct ct_target *t = NULL;
	struct ct_obj objs[2];
	struct ct_get gets[2];
	struct ct_buf one;
	int rc, nkeys = 0;

	memset(objs, 0, sizeof(objs));
	memset(gets, 0, sizeof(gets));
	ct_buf_init(&one, 1024);
	objs[0] = (struct ct_obj){ .key = "fail/a=1.gz", .data = a, .len = sizeof(a) };
	objs[1] = (struct ct_obj){ .key = "fail/b=2.gz", .data = b, .len = sizeof(b) };
	for (int i = 0; i < 2; i++) {
		gets[i].key = objs[i].key;
		gets[i].max = 1024;
		ct_buf_init(&gets[i].data, 1024);
	}
	if ((rc = ct_target_open(&conf, &t, err)) != CT_OK)
		goto out;
	if ((rc = ct_target_put(t, objs, 2, err)) != CT_OK)
		goto out;
	if ((rc = ct_target_list(t, "fail/", keyseen, &nkeys, err)) != CT_OK)
		goto out;
	if (nkeys != 2) {
		rc = ct_seterr(err, CT_ERR_INPUT, "listed %d keys, not 2", nkeys);
		goto out;
	}
	if ((rc = ct_target_get_many(t, gets, 2, err)) != CT_OK)
		goto out;
	for (int i = 0; i < 2 && rc == CT_OK; i++)
		if ((rc = gets[i].status) != CT_OK)
			snprintf(err, CT_ERRLEN, "%s", gets[i].err);
	if (rc == CT_OK && (gets[1].data.len != sizeof(b) || memcmp(gets[1].data.p, b, sizeof(b))))
		rc = ct_seterr(err, CT_ERR_INPUT, "get_many: wrong bytes");
	if (rc == CT_OK && (rc = ct_target_get(t, "fail/a=1.gz", 1024, &one, err)) == CT_OK &&
	    (one.len != sizeof(a) || memcmp(one.p, a, sizeof(a))))
		rc = ct_seterr(err, CT_ERR_INPUT, "get: wrong bytes");
out:
	for (int i = 0; i < 2; i++)
		ct_buf_free(&gets[i].data);
	ct_buf_free(&one);
	ct_target_close(t);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cpath = NULL, *bucket = NULL;
	char err[CT_ERRLEN], url[300];
	long n, fired = 0, leaks = 0, unclean = 0, okruns = 0;
	int opt, rc;

	while ((opt = getopt(argc, argv, "c:b:")) != -1) {
		if (opt == 'c')
			cpath = optarg;
		else if (opt == 'b')
			bucket = optarg;
		else
			return 2;
	}
	if (!failmalloc_available()) {
		printf("1..0 # SKIP allocation failures cannot be injected under a sanitizer\n");
		return 0;
	}
	if (!cpath || !bucket || curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		return 2;
	if (ct_conf_load(&conf, cpath, err) != CT_OK) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	plan(5);
	snprintf(url, sizeof(url), "s3://%s/s3-fail", bucket);
	free(conf.target);
	conf.target = strdup(url);
	conf.s3_retries = 0;        /* a failed attempt is final: no backoff */
	conf.s3_concurrency = 2;

	/* once without failures: it works, and every lazy global of the
	 * libraries (OpenSSL's digests, curl's) is in place before counting */
	rc = operation(err);
	is_int(CT_OK, rc, "the operation succeeds with no allocation failing (%s)", err);
	rc = operation(err);
	for (n = 1; n < 100000; n++) {
		long live = failmalloc_live();

		err[0] = '\0';
		failmalloc_fail_at(n);
		rc = operation(err);
		failmalloc_fail_at(0);
		if (!failmalloc_fired())
			break;
		fired++;
		if (failmalloc_live() != live) {
			if (leaks++ < 5)
				diag("allocation %ld failing leaks %ld blocks (rc %d: %s)", n,
				     failmalloc_live() - live, rc, err);
		}
		if (rc == CT_OK)
			okruns++;
		else if (err[0] == '\0') {
			if (unclean++ < 5)
				diag("allocation %ld failing: code %d without a message", n, rc);
		}
	}
	ok(fired > 50, "%ld allocations of the operation were each made to fail", fired);
	is_int(0, leaks, "no failing allocation leaks a block");
	is_int(0, unclean, "every failure is a code with a message");
	diag("%ld of %ld runs still succeeded (a failed attempt retried or not needed)",
	     okruns, fired);
	is_int(CT_OK, operation(err), "afterwards the operation succeeds again (%s)", err);
	ct_conf_free(&conf);
	curl_global_cleanup();
	return done();
}
