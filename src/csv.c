/*
 * csv.c — the Salesforce import file: RFC 4180 cells and the day's
 * aggregation.
 *
 * The file format (SPEC section 5):
 *
 *   Email,Last_Voice_Session__c,Last_Voice_Call_Date__c,Voice_Qualification_Tier__c,Voice_Calls__c<CRLF>
 *   ann@example.com,voice_1761761045_abcd,2025-10-29T18:04:05.123Z,hot,2<CRLF>
 *
 * UTF-8 without BOM, CRLF after every line (the header too), a cell quoted
 * only when it holds a comma, a quote, CR or LF, rows sorted by email in
 * byte order: the same calls always give the same bytes.
 *
 * The aggregation is an open-addressing hash table keyed by the lower-cased
 * email, one entry per distinct caller (email, winning session id, end
 * time, tier, count).  Records are never kept, so memory follows the
 * number of callers, not of calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_csv.h"
#include "ct_record.h"

struct ent {
	char *tier;                          /* winning call's tier (tbuf), or NULL */
	char *tbuf;                          /* tier storage, reused while it fits */
	size_t tcap;                         /* bytes at tbuf */
	size_t hash;                         /* hash(email) */
	int64_t end_us;
	size_t count;
	char email[CT_CSV_EMAIL_MAX + 1];
	char sid[CT_SESSION_ID_MAX + 1];
};

struct ct_csv_day {
	struct ent **slot;                   /* open addressing, size a power of 2 */
	size_t size, used;
	struct ct_csv_stats st;
};

int ct_csv_cell_unsafe(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	return s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
	       s[0] == '\t' || s[0] == '\r';
}

static int needs_quotes(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return 1;
	return 0;
}

int ct_csv_write_cell(struct ct_buf *out, const char *s, size_t len)
{
	const char *q;
	int rc;

	if (!needs_quotes(s, len))
		return ct_buf_add(out, s, len);
	/* Quoted: every quote doubled, the rest verbatim (CR and LF too). */
	if ((rc = ct_buf_add(out, "\"", 1)) != CT_OK)
		return rc;
	while ((q = memchr(s, '"', len)) != NULL) {
		size_t n = (size_t)(q - s) + 1;
		if ((rc = ct_buf_add(out, s, n)) != CT_OK ||
		    (rc = ct_buf_add(out, "\"", 1)) != CT_OK)
			return rc;
		s += n;
		len -= n;
	}
	if ((rc = ct_buf_add(out, s, len)) != CT_OK)
		return rc;
	return ct_buf_add(out, "\"", 1);
}

int ct_csv_write_row(struct ct_buf *out, const char *const *cells, size_t n)
{
	int rc = CT_OK;

	for (size_t i = 0; i < n && rc == CT_OK; i++) {
		if (i > 0)
			rc = ct_buf_add(out, ",", 1);
		if (rc == CT_OK)
			rc = ct_csv_write_cell(out, cells[i], strlen(cells[i]));
	}
	if (rc == CT_OK)
		rc = ct_buf_add(out, "\r\n", 2);
	return rc;
}

int ct_csv_day_new(struct ct_csv_day **d)
{
	struct ct_csv_day *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return CT_ERR_NOMEM;
	n->size = 1024;
	n->slot = calloc(n->size, sizeof(*n->slot));
	if (n->slot == NULL) {
		free(n);
		return CT_ERR_NOMEM;
	}
	*d = n;
	return CT_OK;
}

void ct_csv_day_free(struct ct_csv_day *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->size; i++) {
		if (d->slot[i] != NULL) {
			free(d->slot[i]->tbuf);
			free(d->slot[i]);
		}
	}
	free(d->slot);
	free(d);
}

/* FNV-1a: short keys, no adversary who could choose collisions cheaply
 * enough to matter against a once-a-day batch job. */
static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

/* The slot of email (whose hash is h): its entry, or the empty slot where
 * it goes.  The stored hash spares most of the strcmp calls. */
static struct ent **find(struct ent **slot, size_t size, const char *email,
                         size_t h)
{
	size_t i = h & (size - 1);

	while (slot[i] != NULL &&
	       (slot[i]->hash != h || strcmp(slot[i]->email, email) != 0))
		i = (i + 1) & (size - 1);
	return &slot[i];
}

/* Double the table; keeps the load under one half. */
static int grow(struct ct_csv_day *d)
{
	size_t size = d->size * 2;
	struct ent **slot = calloc(size, sizeof(*slot));

	if (slot == NULL)
		return CT_ERR_NOMEM;
	for (size_t i = 0; i < d->size; i++)
		if (d->slot[i] != NULL)
			*find(slot, size, d->slot[i]->email, d->slot[i]->hash) = d->slot[i];
	free(d->slot);
	d->slot = slot;
	d->size = size;
	return CT_OK;
}

/* Does the call (end_us, sid, tier) beat the one e holds?  A total order,
 * so the winner is the same whatever order the directory lists files in. */
static int beats(const struct ent *e, int64_t end_us, const char *sid,
                 const char *tier)
{
	int c;

	if (end_us != e->end_us)
		return end_us > e->end_us;
	if ((c = strcmp(sid, e->sid)) != 0)
		return c > 0;
	if (tier == NULL || e->tier == NULL)
		return tier != NULL && e->tier == NULL;
	return strcmp(tier, e->tier) > 0;
}

/* Copy tier (may be NULL) into e, reusing e's buffer when it fits: a
 * caller's winning call changes with nearly every call of the day. */
static int set_tier(struct ent *e, const char *tier)
{
	size_t n;

	if (tier == NULL) {
		e->tier = NULL;
		return CT_OK;
	}
	n = strlen(tier) + 1;
	if (n > e->tcap) {
		char *t = malloc(n);

		if (t == NULL)
			return CT_ERR_NOMEM;
		free(e->tbuf);
		e->tbuf = t;
		e->tcap = n;
	}
	memcpy(e->tbuf, tier, n);
	e->tier = e->tbuf;
	return CT_OK;
}

int ct_csv_day_add(struct ct_csv_day *d, const char *email,
                   const char *session_id, int64_t end_us, const char *tier,
                   enum ct_csv_skip *skip)
{
	char addr[CT_EMAIL_MAX + 1];
	const char *why = NULL;
	struct ent **pe, *e;
	size_t n, slen, h;
	int rc;

	*skip = CT_CSV_TAKEN;
	slen = strlen(session_id);
	if (slen == 0 || slen > CT_SESSION_ID_MAX)
		return CT_ERR_INPUT;
	d->st.calls++;
	if (email == NULL)
		email = "";
	n = strlen(email);
	if (ct_email_check(email, n, addr, &why) != CT_OK) {
		*skip = CT_CSV_BAD_EMAIL;
		d->st.bad_email++;
		return CT_OK;
	}
	if (addr[0] == '\0') {
		*skip = CT_CSV_NO_EMAIL;
		d->st.no_email++;
		return CT_OK;
	}
	if ((n = strlen(addr)) > CT_CSV_EMAIL_MAX) {
		*skip = CT_CSV_TOO_LONG;
		d->st.too_long++;
		return CT_OK;
	}
	/* The email rules allow only ASCII, so a byte-wise lower is lower(). */
	for (size_t i = 0; i < n; i++)
		if (addr[i] >= 'A' && addr[i] <= 'Z')
			addr[i] = (char)(addr[i] - 'A' + 'a');

	h = hash(addr);
	pe = find(d->slot, d->size, addr, h);
	if ((e = *pe) != NULL) {
		e->count++;
		if (beats(e, end_us, session_id, tier)) {
			if ((rc = set_tier(e, tier)) != CT_OK)
				return rc;
			e->end_us = end_us;
			memcpy(e->sid, session_id, slen + 1);
		}
		return CT_OK;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return CT_ERR_NOMEM;
	if ((rc = set_tier(e, tier)) != CT_OK) {
		free(e);
		return rc;
	}
	e->hash = h;
	memcpy(e->email, addr, n + 1);
	memcpy(e->sid, session_id, slen + 1);
	e->end_us = end_us;
	e->count = 1;
	*pe = e;
	if (++d->used * 2 > d->size && (rc = grow(d)) != CT_OK)
		return rc;   /* e is in the table: counted, and freed with d */
	return CT_OK;
}

int ct_csv_day_merge(struct ct_csv_day *dst, struct ct_csv_day *src)
{
	int rc = CT_OK;

	dst->st.calls += src->st.calls;
	dst->st.no_email += src->st.no_email;
	dst->st.bad_email += src->st.bad_email;
	dst->st.too_long += src->st.too_long;
	memset(&src->st, 0, sizeof(src->st));
	for (size_t i = 0; i < src->size; i++) {
		struct ent *e = src->slot[i], **pe;

		if (e == NULL)
			continue;
		pe = find(dst->slot, dst->size, e->email, e->hash);
		if (*pe == NULL) {
			/* Move the entry itself: no copy, nothing to fail. */
			*pe = e;
			src->slot[i] = NULL;
			src->used--;
			if (++dst->used * 2 > dst->size && (rc = grow(dst)) != CT_OK)
				return rc;
			continue;
		}
		(*pe)->count += e->count;
		if (beats(*pe, e->end_us, e->sid, e->tier)) {
			/* Swap tier buffers: dst takes src's tier, src's entry
			 * (now holding dst's old buffer) is freed below. */
			char *tbuf = (*pe)->tbuf;
			size_t tcap = (*pe)->tcap;

			(*pe)->tier = e->tier;
			(*pe)->tbuf = e->tbuf;
			(*pe)->tcap = e->tcap;
			e->tbuf = tbuf;
			e->tcap = tcap;
			(*pe)->end_us = e->end_us;
			memcpy((*pe)->sid, e->sid, sizeof(e->sid));
		}
		free(e->tbuf);
		free(e);
		src->slot[i] = NULL;
		src->used--;
	}
	return rc;
}

static int byemail(const void *a, const void *b)
{
	const struct ent *x = *(struct ent *const *)a;
	const struct ent *y = *(struct ent *const *)b;

	return strcmp(x->email, y->email);
}

int ct_csv_day_render(struct ct_csv_day *d, struct ct_buf *out,
                      void (*unsafe_cb)(void *arg, const char *session_id),
                      void *arg, struct ct_csv_stats *st)
{
	struct ent **rows = NULL;
	size_t n = 0;
	int rc;

	ct_buf_reset(out);
	d->st.rows = d->st.unsafe = 0;
	if ((rc = ct_buf_add(out, CT_CSV_HEADER "\r\n",
	                     sizeof(CT_CSV_HEADER "\r\n") - 1)) != CT_OK)
		goto out;
	if (d->used > 0 && (rows = malloc(d->used * sizeof(*rows))) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->size; i++)
		if (d->slot[i] != NULL)
			rows[n++] = d->slot[i];
	if (n > 0)
		qsort(rows, n, sizeof(*rows), byemail);

	for (size_t i = 0; i < n; i++) {
		struct ent *e = rows[i];
		char when[CT_TIMELEN], count[24];
		const char *tier = e->tier ? e->tier : "";
		const char *cells[5] = { e->email, e->sid, when, tier, count };
		int bad = 0;

		ct_time_format_ms(e->end_us, when);
		snprintf(count, sizeof(count), "%zu", e->count);
		for (size_t c = 0; c < 5; c++)
			bad |= ct_csv_cell_unsafe(cells[c], strlen(cells[c]));
		if (bad) {
			/* Left out, never rewritten: a changed cell would put
			 * data in Salesforce that the call never produced. */
			d->st.unsafe++;
			if (unsafe_cb != NULL)
				unsafe_cb(arg, e->sid);
			continue;
		}
		if ((rc = ct_csv_write_row(out, cells, 5)) != CT_OK)
			goto out;
		d->st.rows++;
	}
out:
	if (st != NULL)
		*st = d->st;
	free(rows);
	return rc;
}
