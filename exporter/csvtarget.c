/*
 * csvtarget.c — calltrail-export csv --source target: the complete day
 * from the target's partition, as fast as the bucket answers.
 *
 * The listing is consumed as it comes (S3: page by page, one page in
 * memory): keys are gathered into a batch of ct_target_batch() keys, and
 * each full batch is fetched at once with ct_target_get_many (S3:
 * s3_concurrency GETs in flight on the client's reused connections),
 * gunzipped and handed to the aggregation (csv_take), before the listing
 * goes on.  Memory is one listing page, one batch of objects and the
 * aggregation, which follows the callers, not the objects: no key list
 * of the whole day is ever kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvtarget.h"
#include "export.h"

/* The batch being gathered from the listing. */
struct fetch {
	struct run *r;
	struct share *sh;
	struct ct_target *t;
	size_t plen;                     /* strlen of the day's prefix */
	struct ct_get *gets;
	char (*keys)[CT_TARGET_KEY_MAX + 1];
	size_t n, cap;
	struct ct_buf raw;               /* one gunzipped record */
	char *err;
};

/* Fetch the gathered batch and fold each record in.  A non-zero return
 * (with f->err set) stops the listing. */
static int drain(struct fetch *f)
{
	int rc;

	if (f->n == 0)
		return CT_OK;
	rc = ct_target_get_many(f->t, f->gets, f->n, f->err);
	for (size_t i = 0; rc == CT_OK && i < f->n; i++) {
		struct ct_get *g = &f->gets[i];
		char why[CT_ERRLEN];
		int st = g->status;

		snprintf(why, sizeof(why), "%s", g->err);
		if (st == CT_OK)
			st = ct_gz_decompress(g->data.p, g->data.len, CT_RECORD_MAX, &f->raw, why);
		if (st == CT_ERR_NOTFOUND || st == CT_ERR_INPUT || st == CT_ERR_TOOBIG) {
			/* gone since the listing, not gzip, or too large: the
			 * day goes on without it, and says so */
			f->sh->unreadable++;
			csv_report(f->r, g->key, why);
		} else if (st != CT_OK) {
			rc = ct_seterr(f->err, st, "%s", why);
		} else if ((rc = csv_take(f->sh, g->key, f->raw.p ? f->raw.p : "",
		                          f->raw.len)) != CT_OK)
			ct_seterr(f->err, rc, "out of memory");
	}
	for (size_t i = 0; i < f->n; i++)
		ct_buf_reset(&f->gets[i].data);
	f->n = 0;
	return rc;
}

/* ct_target_list callback: gather the partition's own *.json.gz (not
 * anything deeper), fetching each time the batch is full. */
static int gather(void *arg, const char *key, uint64_t size)
{
	struct fetch *f = arg;
	size_t n = strlen(key);

	(void)size;
	if (n < 8 || strcmp(key + n - 8, ".json.gz") != 0 || n > CT_TARGET_KEY_MAX ||
	    strchr(key + f->plen, '/') != NULL)
		return 0;
	memcpy(f->keys[f->n], key, n + 1);
	f->gets[f->n].key = f->keys[f->n];
	if (++f->n < f->cap)
		return 0;
	return drain(f);
}

int csv_from_target(struct run *r, struct share *sh, struct ct_target *t, char *err)
{
	char prefix[CT_TARGET_KEYLEN];
	struct fetch f;
	int rc;

	memset(&f, 0, sizeof(f));
	f.r = r;
	f.sh = sh;
	f.t = t;
	f.err = err;
	f.cap = ct_target_batch(t);
	ct_buf_init(&f.raw, CT_RECORD_MAX);
	if ((rc = ct_target_key(CT_KEY_DAY, r->day, NULL, NULL, prefix, sizeof(prefix))) != CT_OK) {
		rc = ct_seterr(err, CT_ERR_INPUT, "%s: not a day the archive files", r->day);
		goto out;
	}
	f.plen = strlen(prefix);
	if (!(f.gets = calloc(f.cap, sizeof(*f.gets))) || !(f.keys = calloc(f.cap, sizeof(*f.keys)))) {
		rc = ct_seterr(err, CT_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < f.cap; i++) {
		f.gets[i].max = GZ_MAX;
		ct_buf_init(&f.gets[i].data, GZ_MAX);
	}
	rc = ct_target_list(t, prefix, gather, &f, err);
	if (rc == CT_ERR_NOTFOUND)
		rc = CT_OK;   /* nothing was ever stored: an empty day */
	if (rc == CT_OK)
		rc = drain(&f);
	if (rc == CT_OK && (rc = csv_flush(sh)) != CT_OK)
		ct_seterr(err, rc, "out of memory");
out:
	for (size_t i = 0; f.gets && i < f.cap; i++)
		ct_buf_free(&f.gets[i].data);
	free(f.gets);
	free(f.keys);
	ct_buf_free(&f.raw);
	return rc;
}
