/* buf.c — a growable byte buffer with a hard cap (curl's dynbuf idea):
 * reaching the cap is an error the caller sees, never a silent cut. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calltrail.h"

void
ct_buf_init(struct ct_buf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max ? max : SIZE_MAX / 2;
}

/* Make room for n more bytes plus the NUL. */
static int
grow(struct ct_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return CT_ERR_TOOBIG;
	need = b->len + n + 1;
	if (need <= b->cap)
		return CT_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	if ((p = realloc(b->p, cap)) == NULL)
		return CT_ERR_NOMEM;
	b->p = p;
	b->cap = cap;
	return CT_OK;
}

int
ct_buf_add(struct ct_buf *b, const void *data, size_t n)
{
	int rc;

	if ((rc = grow(b, n)) != CT_OK)
		return rc;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return CT_OK;
}

int
ct_buf_adds(struct ct_buf *b, const char *s)
{
	return ct_buf_add(b, s, strlen(s));
}

int
ct_buf_printf(struct ct_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->p ? b->cap - b->len - 1 : 0;   /* cap counts the NUL */
	int n, rc;

	/* Format straight into the free space; only text that does not fit
	 * is formatted a second time, after growing. */
	va_start(ap, fmt);
	n = vsnprintf(room ? b->p + b->len : NULL, room ? room + 1 : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (b->p)
			b->p[b->len] = '\0';
		return CT_ERR_INPUT;
	}
	if ((size_t)n > room) {
		if (b->p)
			b->p[b->len] = '\0';
		if ((rc = grow(b, (size_t)n)) != CT_OK)
			return rc;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return CT_OK;
}

int
ct_buf_addu(struct ct_buf *b, unsigned long long v)
{
	char d[20], *p = d + sizeof d;

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return ct_buf_add(b, p, (size_t)(d + sizeof d - p));
}

void
ct_buf_reset(struct ct_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void
ct_buf_free(struct ct_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
