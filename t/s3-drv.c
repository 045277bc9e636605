/*
 * t/s3-drv.c — a command-line driver over an s3:// target (ct_target_*,
 * which checks the keys and hands them to the S3 client), so t/s3.sh can
 * exercise it against s3rver behind t/s3-proxy.js without the exporter
 * around it.  Configuration is the real one (-c FILE and the
 * environment; credentials from the chain of ct_awscred.h), with target
 * = s3://BUCKET[/PREFIX] from -b and -p.
 *
 *   s3-drv [-c CONF] -b BUCKET [-p PREFIX] put KEY FILE [KEY FILE...]
 *   s3-drv [-c CONF] -b BUCKET [-p PREFIX] list [PREFIX]
 *   s3-drv [-c CONF] -b BUCKET [-p PREFIX] get KEY MAX
 *   s3-drv [-c CONF] -b BUCKET [-p PREFIX] getmany MAX KEY...
 *
 * getmany prints "KEY STATUS BYTES SHA256" per object.
 * put prints "KEY STATUS ATTEMPTS ERR" per object.  Exit: 0 success,
 * 1 CT_ERR_REMOTE, 2 CT_ERR_TEMP, 3 CT_ERR_NOTFOUND, 4 anything else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ct_target.h"

static int code(int rc)
{
	switch (rc) {
	case CT_OK: return 0;
	case CT_ERR_REMOTE: return 1;
	case CT_ERR_TEMP: return 2;
	case CT_ERR_NOTFOUND: return 3;
	case CT_ERR_CONFIG: return 78;
	}
	return 4;
}

static int print_key(void *arg, const char *key, uint64_t size)
{
	(void)arg;
	printf("%s %llu\n", key, (unsigned long long)size);
	return 0;
}

static int put(struct ct_target *s, int argc, char **argv, char *err)
{
	size_t n = (size_t)argc / 2;
	struct ct_obj *objs = calloc(n ? n : 1, sizeof(*objs));
	struct ct_buf *data = calloc(n ? n : 1, sizeof(*data));
	int rc = CT_OK;

	if (!objs || !data || argc % 2)
		return ct_seterr(err, CT_ERR_INPUT, "put KEY FILE [KEY FILE...]");
	for (size_t i = 0; i < n && rc == CT_OK; i++) {
		ct_buf_init(&data[i], 64 << 20);
		rc = ct_file_read(argv[2 * i + 1], 64 << 20, &data[i], err);
		objs[i].key = argv[2 * i];
		objs[i].data = data[i].p ? data[i].p : "";
		objs[i].len = data[i].len;
	}
	if (rc == CT_OK)
		rc = ct_target_put(s, objs, n, err);
	for (size_t i = 0; i < n; i++) {
		printf("%s %s %d %s\n", objs[i].key, objs[i].status == CT_OK ? "ok" :
		       ct_strerror(objs[i].status), objs[i].attempts, objs[i].err);
		ct_buf_free(&data[i]);
	}
	free(objs);
	free(data);
	return rc;
}

static int getmany(struct ct_target *t, int argc, char **argv, char *err)
{
	size_t n = argc > 1 ? (size_t)argc - 1 : 0, max;
	struct ct_get *g = calloc(n ? n : 1, sizeof(*g));
	int rc;

	if (!g || argc < 1)
		return ct_seterr(err, CT_ERR_INPUT, "getmany MAX KEY...");
	max = (size_t)strtoul(argv[0], NULL, 10);
	for (size_t i = 0; i < n; i++) {
		g[i].key = argv[i + 1];
		g[i].max = max;
		ct_buf_init(&g[i].data, max);
	}
	rc = ct_target_get_many(t, g, n, err);
	for (size_t i = 0; i < n; i++) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;

		printf("%s %s %zu ", g[i].key, g[i].status == CT_OK ? "ok" :
		       ct_strerror(g[i].status), g[i].data.len);
		EVP_Digest(g[i].data.p ? g[i].data.p : "", g[i].data.len, md, &mdlen,
		           EVP_sha256(), NULL);
		for (unsigned k = 0; k < mdlen; k++)
			printf("%02x", md[k]);
		printf("\n");
		ct_buf_free(&g[i].data);
	}
	free(g);
	return rc;
}

int main(int argc, char **argv)
{
	struct ct_conf c;
	struct ct_target *s = NULL;
	char url[2048];
	struct ct_buf out;
	const char *conf = NULL, *bucket = NULL, *prefix = "";
	char err[CT_ERRLEN] = "";
	int opt, rc;

	while ((opt = getopt(argc, argv, "c:b:p:")) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 'b': bucket = optarg; break;
		case 'p': prefix = optarg; break;
		default: return 4;
		}
	}
	argc -= optind;
	argv += optind;
	if (!bucket || argc < 1) {
		fprintf(stderr, "usage: s3-drv [-c CONF] -b BUCKET [-p PREFIX] put|list|get ...\n");
		return 4;
	}
	if ((rc = ct_conf_load(&c, conf, err)) != CT_OK) {
		fprintf(stderr, "s3-drv: %s\n", err);
		return 4;
	}
	snprintf(url, sizeof(url), "s3://%s%s%s", bucket, *prefix ? "/" : "", prefix);
	free(c.target);
	c.target = strdup(url);
	if ((rc = ct_target_open(&c, &s, err)) != CT_OK) {
		fprintf(stderr, "s3-drv: %s\n", err);
		ct_conf_free(&c);
		return rc == CT_ERR_CONFIG ? 78 : 4;
	}
	ct_buf_init(&out, 0);
	if (strcmp(argv[0], "put") == 0)
		rc = put(s, argc - 1, argv + 1, err);
	else if (strcmp(argv[0], "list") == 0)
		rc = ct_target_list(s, argc > 1 ? argv[1] : "", print_key, NULL, err);
	else if (strcmp(argv[0], "get") == 0 && argc == 3) {
		rc = ct_target_get(s, argv[1], (size_t)strtoul(argv[2], NULL, 10), &out, err);
		if (rc == CT_OK)
			fwrite(out.p, 1, out.len, stdout);
	} else if (strcmp(argv[0], "getmany") == 0)
		rc = getmany(s, argc - 1, argv + 1, err);
	else
		rc = ct_seterr(err, CT_ERR_INPUT, "unknown command %s", argv[0]);
	if (rc != CT_OK)
		fprintf(stderr, "s3-drv: %s\n", err);
	ct_buf_free(&out);
	ct_target_close(s);
	ct_conf_free(&c);
	return code(rc);
}
