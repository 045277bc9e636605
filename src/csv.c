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
#include "ct_email.h"
#include "ct_time.h"

/* The fields an added call reads and writes first, so that a repeat
 * caller's update touches one cache line of its entry. */
struct ent {
	int64_t end_us;
	size_t count;
	char *tier;                          /* winning call's tier (tbuf), or NULL */
	char *tbuf;                          /* tier storage, reused while it fits */
	size_t tcap;                         /* bytes at tbuf */
	char email[CT_CSV_EMAIL_MAX + 1];
	char sid[CT_SESSION_ID_MAX + 1];
};

/* A slot holds the entry's hash beside the pointer: a probe compares
 * hashes in the table itself and follows the pointer only on a match.
 * With 100,000 callers the entries are ~25 MiB, far beyond the caches,
 * and a probe that read each entry's hash cost a cache miss per step. */
struct slot {
	size_t hash;                         /* hash(email) of e */
	struct ent *e;                       /* NULL: empty */
};

struct ct_csv_day {
	struct slot *slot;                   /* open addressing, size a power of 2 */
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
		if (d->slot[i].e != NULL) {
			free(d->slot[i].e->tbuf);
			free(d->slot[i].e);
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
 * it goes.  Only a slot with the same hash reads the entry. */
static struct slot *find(struct slot *slot, size_t size, const char *email,
                         size_t h)
{
	size_t i = h & (size - 1);

	while (slot[i].e != NULL &&
	       (slot[i].hash != h || strcmp(slot[i].e->email, email) != 0))
		i = (i + 1) & (size - 1);
	return &slot[i];
}

/* Double the table; keeps the load under one half. */
static int grow(struct ct_csv_day *d)
{
	size_t size = d->size * 2;
	struct slot *slot = calloc(size, sizeof(*slot));

	if (slot == NULL)
		return CT_ERR_NOMEM;
	for (size_t i = 0; i < d->size; i++)
		if (d->slot[i].e != NULL)
			*find(slot, size, d->slot[i].e->email, d->slot[i].hash) =
				d->slot[i];
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

int ct_csv_call_prep(struct ct_csv_call *c, const char *email,
                     const char *session_id, int64_t end_us, const char *tier)
{
	size_t n, slen = strlen(session_id);

	if (slen == 0 || slen > CT_SESSION_ID_MAX)
		return CT_ERR_INPUT;
	c->skip = CT_CSV_TAKEN;
	c->end_us = end_us;
	c->tier = tier;
	memcpy(c->sid, session_id, slen + 1);
	c->email[0] = '\0';
	c->hash = 0;
	if (email == NULL || email[0] == '\0') {
		c->skip = CT_CSV_NO_EMAIL;
		return CT_OK;
	}
	if ((n = strlen(email)) > CT_CSV_EMAIL_MAX) {
		c->skip = CT_CSV_TOO_LONG;
		return CT_OK;
	}
	/* The email rules allow only ASCII, so a byte-wise lower is lower(). */
	for (size_t i = 0; i < n; i++)
		c->email[i] = email[i] >= 'A' && email[i] <= 'Z'
		              ? (char)(email[i] - 'A' + 'a') : email[i];
	c->email[n] = '\0';
	c->hash = hash(c->email);
	return CT_OK;
}

/* Fold one prepared call in: count it for its caller, and let it win the
 * row if it beats the caller's winner. */
static int add1(struct ct_csv_day *d, const struct ct_csv_call *c)
{
	struct slot *ps;
	struct ent *e;
	int rc;

	d->st.calls++;
	if (c->skip == CT_CSV_NO_EMAIL) {
		d->st.no_email++;
		return CT_OK;
	}
	if (c->skip == CT_CSV_TOO_LONG) {
		d->st.too_long++;
		return CT_OK;
	}
	ps = find(d->slot, d->size, c->email, c->hash);
	if ((e = ps->e) != NULL) {
		e->count++;
		if (beats(e, c->end_us, c->sid, c->tier)) {
			if ((rc = set_tier(e, c->tier)) != CT_OK)
				return rc;
			e->end_us = c->end_us;
			memcpy(e->sid, c->sid, strlen(c->sid) + 1);
		}
		return CT_OK;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return CT_ERR_NOMEM;
	if ((rc = set_tier(e, c->tier)) != CT_OK) {
		free(e);
		return rc;
	}
	memcpy(e->email, c->email, sizeof(e->email));
	memcpy(e->sid, c->sid, sizeof(e->sid));
	e->end_us = c->end_us;
	e->count = 1;
	ps->hash = c->hash;
	ps->e = e;
	if (++d->used * 2 > d->size && (rc = grow(d)) != CT_OK)
		return rc;   /* e is in the table: counted, and freed with d */
	return CT_OK;
}

int ct_csv_day_add_calls(struct ct_csv_day *d, const struct ct_csv_call *c,
                         size_t n)
{
	int rc;

	for (size_t i = 0; i < n; i++)
		if ((rc = add1(d, &c[i])) != CT_OK)
			return rc;
	return CT_OK;
}

int ct_csv_day_add(struct ct_csv_day *d, const char *email,
                   const char *session_id, int64_t end_us, const char *tier,
                   enum ct_csv_skip *skip)
{
	char addr[CT_EMAIL_MAX + 1];
	struct ct_csv_call c;
	const char *why = NULL;
	size_t slen;
	int rc;

	*skip = CT_CSV_TAKEN;
	slen = strlen(session_id);
	if (slen == 0 || slen > CT_SESSION_ID_MAX)
		return CT_ERR_INPUT;
	if (email == NULL)
		email = "";
	if (ct_email_check(email, strlen(email), addr, &why) != CT_OK) {
		*skip = CT_CSV_BAD_EMAIL;
		d->st.calls++;
		d->st.bad_email++;
		return CT_OK;
	}
	if ((rc = ct_csv_call_prep(&c, addr, session_id, end_us, tier)) != CT_OK)
		return rc;
	*skip = c.skip;
	return ct_csv_day_add_calls(d, &c, 1);
}

/* The length of UTF-8 s as Salesforce counts a text field's characters:
 * in UTF-16 code units (a character beyond U+FFFF counts two).  s is
 * valid UTF-8 (ct_json_parse refuses anything else). */
static size_t sf_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c & 0xc0) != 0x80)
			n += c >= 0xf0 ? 2 : 1;
	}
	return n;
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
	d->st.rows = d->st.unsafe = d->st.tier_long = 0;
	if ((rc = ct_buf_add(out, CT_CSV_HEADER "\r\n",
	                     sizeof(CT_CSV_HEADER "\r\n") - 1)) != CT_OK)
		goto out;
	if (d->used > 0 && (rows = malloc(d->used * sizeof(*rows))) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->size; i++)
		if (d->slot[i].e != NULL)
			rows[n++] = d->slot[i].e;
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
		if (!bad && sf_chars(tier) > CT_CSV_TIER_MAX) {
			/* Too long for the text field: left out like an
			 * unsafe row, never cut. */
			d->st.tier_long++;
			if (unsafe_cb != NULL)
				unsafe_cb(arg, e->sid);
			continue;
		}
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
