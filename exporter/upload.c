/*
 * upload.c — calltrail-export upload (SPEC section 5).
 *
 * One run: take SPOOL/.lock without waiting (busy: someone else is doing
 * it, exit 0), put a crashed run's cur/ back into new/, claim new/ into
 * cur/, and for each record: validate (bad: failed/ + .why), gzip
 * deterministically, store under
 *   sessions/year=YYYY/month=MM/day=DD/<session_id>_<12 hex of sha256>.json.gz
 * and only once the target confirmed it, move the record to sent/DAY/.
 *
 * A record is therefore always in new/, cur/ (recovered next run),
 * sent/DAY/ or failed/; a kill at any moment loses nothing, and a
 * re-upload after a lost reply rewrites the same key with the same bytes.
 * Records are sent in batches, so memory is bounded by the batch size,
 * not the number of records waiting.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "calltrail.h"
#include "ct_record.h"
#include "ct_spool.h"
#include "ct_target.h"
#include "export.h"
#include "ct_time.h"
#include "ct_fs.h"
#include "ct_gz.h"

/* Memory: a batch ends once its gzipped records reach BATCH_BYTES, and a
 * slot that grew past SLOT_KEEP for a large record gives it back after
 * its batch, so a run holds about BATCH_BYTES + batch x SLOT_KEEP + one
 * GZ_MAX, whatever the records' sizes. */
#define BATCH_BYTES  (16 * 1024 * 1024)
#define SLOT_KEEP    (64 * 1024)

/* One record of the batch being stored. */
struct slot {
	const char *name;            /* spool name, points into the claim list */
	char day[11];
	char key[CT_TARGET_KEYLEN];
	struct ct_buf gz;
};

struct run {
	struct ct_spool sp;
	struct ct_target *t;
	size_t total, done, stored, refused, retried, left;
	int ioerr;                  /* a local failure: exit 74 */
	int config;                 /* the target's configuration (credentials,
	                             * region...) stopped the run: exit 78 */
	int stop;                   /* the target refused: keep the rest */
	char msg[CT_ERRLEN];        /* the first thing that went wrong */
	int bar;                    /* stderr is a terminal */
};

static volatile sig_atomic_t stopsig;

/* The first signal asks for a clean stop after the current batch; a
 * second one kills (default action restored), which is still safe. */
static void onsig(int sig)
{
	stopsig = sig;
	signal(sig, SIG_DFL);
}

/* Log a local failure; the first one becomes the run's message. */
static void note(struct run *r, const char *what)
{
	ct_log("upload: %s", what);
	if (r->msg[0] == '\0')
		snprintf(r->msg, sizeof r->msg, "%s", what);
}

static void progress(struct run *r)
{
	char line[96];
	int w = 40, fill, n;

	if (!r->bar || r->total == 0)
		return;
	fill = (int)((double)r->done / (double)r->total * w);
	n = snprintf(line, sizeof line, "\r[%.*s%*s] %zu/%zu", fill,
	             "########################################", w - fill, "",
	             r->done, r->total);
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

/* Put a claimed record back in new/ for the next run. */
static void keep(struct run *r, const char *name)
{
	char err[CT_ERRLEN];

	if (ct_spool_unclaim(&r->sp, name, err) != CT_OK) {
		/* It stays in cur/, which the next run recovers first. */
		ct_log("upload: %s", err);
	}
	r->left++;
}

/* Put claimed records back in new/ for the next run, all at once (one
 * fsync of new/ and one of cur/).  status: n ints of scratch. */
static void keep_many(struct run *r, const char **names, size_t n, int *status)
{
	char err[CT_ERRLEN];

	if (n > 0 && ct_spool_unclaim_many(&r->sp, (const char *const *)names, n,
	                                   status, err) != CT_OK) {
		/* Those that cannot move stay in cur/, which the next run
		 * recovers first. */
		ct_log("upload: %s", err);
	}
	r->left += n;
}

static void refuse(struct run *r, const char *name, const char *why)
{
	char err[CT_ERRLEN];

	ct_log("upload: refused %s: %s", name, why);
	if (ct_spool_fail(&r->sp, name, why, err) != CT_OK) {
		ct_log("upload: cannot quarantine %s", name);
		note(r, err);
		r->ioerr = 1;
		keep(r, name);
		return;
	}
	r->refused++;
}

/*
 * Read, check and gzip cur/NAME into s.  Returns 1 when s is ready to
 * store, 0 when the record was dealt with (refused or kept).
 */
static int prepare(struct run *r, const char *name, struct slot *s,
                   struct ct_buf *raw)
{
	char path[PATH_MAX], err[CT_ERRLEN], hex[13];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	struct ct_record rec;
	int rc;

	memset(&rec, 0, sizeof rec);
	snprintf(path, sizeof path, "%s/cur/%s", r->sp.dir, name);
	rc = ct_file_read(path, CT_RECORD_MAX, raw, err);
	if (rc == CT_ERR_TOOBIG) {
		refuse(r, name, "record over 1 MiB");
		return 0;
	}
	if (rc != CT_OK) {
		note(r, err);
		r->ioerr = 1;
		keep(r, name);
		return 0;
	}
	if (ct_record_parse(raw->p, raw->len, &rec, err) != CT_OK) {
		refuse(r, name, err);
		return 0;
	}
	if (EVP_Digest(raw->p, raw->len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    (rc = ct_gz_compress(raw->p, raw->len, &s->gz, err)) != CT_OK) {
		note(r, rc != CT_OK ? err : "sha256 failed");
		r->ioerr = 1;
		ct_record_free(&rec);
		keep(r, name);
		return 0;
	}
	for (i = 0; i < 6; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	/* rec.day is the UTC day of end_time; a day the archive cannot file
	 * (a year outside 1970-9999) is quarantined, never retried */
	if (ct_target_key(CT_KEY_SESSION, rec.day, rec.session_id, hex, s->key,
	                  sizeof s->key) != CT_OK) {
		snprintf(err, sizeof err, "end_time: its day %.10s cannot be filed (years "
		         "1970-9999 only)", rec.day);
		ct_record_free(&rec);
		refuse(r, name, err);
		return 0;
	}
	memcpy(s->day, rec.day, sizeof s->day);
	s->name = name;
	ct_record_free(&rec);
	return 1;
}

/*
 * Store the prepared slots and settle each record by its status.  The
 * order keeps every record safe from a crash at any point:
 *
 *   1. ct_target_put gives an object CT_OK only once it is durable (file
 *      target: the object fsynced and renamed, then its directory fsynced;
 *      S3: the PUT answered 200 with the right ETag);
 *   2. then the stored records move cur/ -> sent/DAY/ together
 *      (ct_spool_done_many: all renames, one fsync of each sent/DAY/, one
 *      of cur/);
 *   3. only a record whose move is durable counts as done.
 *
 * Killed before 2, a record is still in cur/ and the next run stores the
 * same bytes under the same key again; the rest go back to new/.
 */
static void store(struct run *r, struct slot *slots, struct ct_obj *objs, size_t n,
                  const char **names, const char **days, int *status)
{
	char err[CT_ERRLEN] = "";
	size_t i, k, nok = 0, nkeep = 0, before = r->stored, temp = 0;

	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		memset(&objs[i], 0, sizeof objs[i]);
		objs[i].key = slots[i].key;
		objs[i].data = slots[i].gz.p;
		objs[i].len = slots[i].gz.len;
		objs[i].content_type = "application/gzip";
	}
	ct_target_put(r->t, objs, n, err);
	for (i = 0; i < n; i++)
		if (objs[i].status == CT_OK) {
			names[nok] = slots[i].name;
			days[nok++] = slots[i].day;
		}
	if (nok > 0 && ct_spool_done_many(&r->sp, names, days, nok, status,
	                                  err) != CT_OK)
		note(r, err);
	/* names[] is free again: it collects the records to keep. */
	for (i = 0, k = 0; i < n; i++) {
		struct ct_obj *o = &objs[i];

		if (o->attempts > 1)
			r->retried += (size_t)(o->attempts - 1);
		if (o->status == CT_OK) {
			int st = status[k++];

			r->stored++;
			if (st == CT_ERR_INPUT) {
				/* sent/DAY cannot be made for this day: stored, but
				 * it can never be filed, so it is quarantined rather
				 * than stored again on every run */
				snprintf(err, sizeof err, "stored as %.300s, but sent/%s cannot be "
				         "made", o->key, slots[i].day);
				refuse(r, slots[i].name, err);
			} else if (st != CT_OK) {
				/* Stored but not moved: the next run stores the same
				 * bytes under the same key again, harmlessly. */
				r->ioerr = 1;
				names[nkeep++] = slots[i].name;
			}
			continue;
		}
		if (o->status == CT_ERR_CONFIG && !r->stop) {
			/* the credentials (or another setting) cannot be had */
			r->stop = r->config = 1;
			snprintf(r->msg, sizeof r->msg, "the target %s cannot be used: %.300s; "
			         "stopped, every record left is kept for the next run",
			         ct_target_name(r->t), o->err);
			ct_log("upload: %s", r->msg);
		} else if (o->status == CT_ERR_REMOTE && !r->stop) {
			/* Retrying will not fix a refusal: stop, keep everything. */
			r->stop = 1;
			snprintf(r->msg, sizeof r->msg, "the target %s refused the upload: "
			         "%.300s; stopped, every record left is kept for the next run",
			         ct_target_name(r->t), o->err);
			ct_log("upload: %s", r->msg);
		} else if (o->status == CT_ERR_TEMP) {
			temp++;
			if (o->attempts > 0)
				ct_log("upload: %s: %s (left for the next run)", o->key, o->err);
		} else if (o->status != CT_ERR_REMOTE && o->status != CT_ERR_CONFIG) {
			note(r, o->err);
			r->ioerr = 1;
		}
		names[nkeep++] = slots[i].name;
	}
	keep_many(r, names, nkeep, status);
	/* A whole batch failing after every retry means the target is down:
	 * trying the rest would only take retries x batches of backoff. */
	if (r->stored == before && temp == n && !r->stop) {
		snprintf(r->msg, sizeof r->msg, "the target %s is not answering (%.300s); "
		         "stopped, every record left is kept for the next run",
		         ct_target_name(r->t), objs[0].err);
		ct_log("upload: %s", r->msg);
		r->stop = 1;
	}
	if (r->ioerr)
		r->stop = 1;
}

/* Write SPOOL/.last-run.json for `calltrail-export status`. */
static void lastrun(struct run *r, int code)
{
	char path[PATH_MAX], ts[CT_TIMELEN], err[CT_ERRLEN];
	struct json_object *o = json_object_new_object();
	const char *s;

	if (o == NULL)
		return;
	ct_time_format_ms(ct_time_now_us(), ts);
	json_object_object_add(o, "time", json_object_new_string(ts));
	json_object_object_add(o, "exit", json_object_new_int(code));
	json_object_object_add(o, "stored", json_object_new_int64((int64_t)r->stored));
	json_object_object_add(o, "refused", json_object_new_int64((int64_t)r->refused));
	json_object_object_add(o, "retried", json_object_new_int64((int64_t)r->retried));
	json_object_object_add(o, "left", json_object_new_int64((int64_t)r->left));
	json_object_object_add(o, "message", json_object_new_string(r->msg[0] ? r->msg : "ok"));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                    JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(path, sizeof path, "%s/.last-run.json", r->sp.dir);
	if (ct_file_put(path, s, strlen(s), 0600, err) != CT_OK)
		ct_log("upload: %s", err);
	json_object_put(o);
}

static int usage(FILE *f, int code)
{
	fprintf(f, "usage: calltrail-export [-c FILE] upload\n"
	        "Store every record waiting in SPOOL/new/ in the target (%s),\n"
	        "then move it to SPOOL/sent/DAY/; bad records go to SPOOL/failed/.\n"
	        "Exit: 0 all stored or refused, 64 usage error, 74 local I/O error,\n"
	        "75 records left for the next run, 77 not run by the spool's owner,\n"
	        "78 configuration error (credentials included).\n",
	        "file:///DIR or s3://BUCKET/PREFIX");
	return code;
}

/* Claim, store and settle every waiting record; see the top of the file. */
static void work(struct run *r, char **names, size_t n, int batch)
{
	struct slot *slots = calloc((size_t)batch, sizeof *slots);
	struct ct_obj *objs = calloc((size_t)batch, sizeof *objs);
	const char **nv = calloc((size_t)batch, sizeof *nv);
	const char **dv = calloc((size_t)batch, sizeof *dv);
	int *status = calloc((size_t)batch, sizeof *status);
	struct ct_buf raw;
	size_t i = 0, ns, k, bytes;

	ct_buf_init(&raw, CT_RECORD_MAX + 1);
	if (slots == NULL || objs == NULL || nv == NULL || dv == NULL ||
	    status == NULL) {
		note(r, "out of memory");
		r->ioerr = 1;
		goto out;
	}
	for (k = 0; k < (size_t)batch; k++)
		ct_buf_init(&slots[k].gz, GZ_MAX);
	while (i < n && !r->stop && !stopsig) {
		for (ns = 0, bytes = 0; i < n && ns < (size_t)batch && bytes < BATCH_BYTES &&
		     !r->stop; i++)
			if (prepare(r, names[i], &slots[ns], &raw))
				bytes += slots[ns++].gz.len;
		store(r, slots, objs, ns, nv, dv, status);
		for (k = 0; k < ns; k++)
			if (slots[k].gz.cap > SLOT_KEEP)
				ct_buf_free(&slots[k].gz);
		r->done = i;
		progress(r);
	}
out:
	/* Whatever was not settled goes back to new/ for the next run, all
	 * at once (one fsync of new/ and one of cur/); one that cannot move
	 * stays in cur/, which the next run recovers first. */
	if (i < n) {
		int *st = calloc(n - i, sizeof *st);

		if (st != NULL)
			keep_many(r, (const char **)names + i, n - i, st);
		else {
			ct_log("upload: out of memory; %zu records stay in cur/", n - i);
			r->left += n - i;
		}
		free(st);
	}
	if (slots)
		for (k = 0; k < (size_t)batch; k++)
			ct_buf_free(&slots[k].gz);
	ct_buf_free(&raw);
	free(slots);
	free(objs);
	free(nv);
	free(dv);
	free(status);
}

int export_upload(struct ct_conf *c, int argc, char **argv)
{
	struct run r;
	struct sigaction sa;
	char err[CT_ERRLEN] = "", **names = NULL;
	size_t n = 0, recovered = 0, pruned = 0;
	int64_t t0 = ct_time_now_us();
	int code = EX_OK, rc, batch, opened = 0;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout, EX_OK);
	if (argc > 1)
		return usage(stderr, EX_USAGE);
	memset(&r, 0, sizeof r);
	r.sp.lockfd = -1;
	r.bar = isatty(STDERR_FILENO);
	if ((rc = ct_target_open(c, &r.t, err)) != CT_OK) {
		/* nothing claimed yet: every record waits for the next run */
		fprintf(stderr, "calltrail-export: %s\n", err);
		return rc == CT_ERR_CONFIG ? EX_CONFIG : rc == CT_ERR_TEMP ||
		       rc == CT_ERR_REMOTE ? EX_TEMPFAIL : EX_IOERR;
	}
	if (ct_spool_open(&r.sp, c->spool_dir, 1, err) != CT_OK) {
		fprintf(stderr, "calltrail-export: %s\n", err);
		code = EX_IOERR;
		goto out;
	}
	opened = 1;
	if ((rc = ct_spool_lock(&r.sp, err)) == CT_ERR_BUSY) {
		ct_log("another calltrail-export upload is running; nothing to do");
		goto out;
	}
	if (rc != CT_OK) {
		fprintf(stderr, "calltrail-export: %s\n", err);
		code = EX_IOERR;
		goto out;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onsig;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);   /* a peer closing a socket is an error code */

	if (ct_spool_recover(&r.sp, &recovered, err) != CT_OK ||
	    ct_spool_claim(&r.sp, &names, &n, err) != CT_OK) {
		note(&r, err);
		r.ioerr = 1;
	} else {
		if (recovered)
			ct_log("upload: %zu records of an interrupted run put back", recovered);
		r.total = n;
		/* the target says how many objects keep it busy; memory is
		 * bounded by bytes too (BATCH_BYTES, SLOT_KEEP) */
		batch = (int)ct_target_batch(r.t);
		work(&r, names, n, batch);
		if (r.bar && n)
			(void)!write(STDERR_FILENO, "\n", 1);
	}
	if (stopsig && r.msg[0] == '\0')
		snprintf(r.msg, sizeof r.msg, "stopped by signal %d", (int)stopsig);
	/* sent/ housekeeping: only days older than keep_days go. */
	if (ct_spool_prune(&r.sp, c->keep_days, ct_time_now_us(), &pruned, err) != CT_OK) {
		note(&r, err);
		r.ioerr = 1;
	}
	code = r.ioerr ? EX_IOERR : r.config ? EX_CONFIG : r.left ? EX_TEMPFAIL : EX_OK;
	/* A run that found nothing says nothing: cron mails every line, and
	 * a timer runs this every 5 minutes.  Errors were logged above. */
	if (n > 0 || recovered > 0 || code != EX_OK || r.msg[0] != '\0')
		ct_log("upload: stored %zu, refused %zu, retried %zu, left %zu (target %s) in %.1f s",
		       r.stored, r.refused, r.retried, r.left, ct_target_name(r.t),
		       (double)(ct_time_now_us() - t0) / 1e6);
	lastrun(&r, code);
out:
	if (names)
		ct_spool_names_free(names);
	if (opened)
		ct_spool_close(&r.sp);
	ct_target_close(r.t);
	return code;
}
