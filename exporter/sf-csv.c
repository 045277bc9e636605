/*
 * sf-csv.c — reading the CSV that Bulk API 2.0 answers with (query
 * results, successfulResults, failedResults, unprocessedrecords) and the
 * day's own CSV, plus the two text rules the push shares: what of
 * Salesforce's text may reach a log (sf_clean) and how an email becomes
 * a SOQL literal (sf_soql_str).
 *
 * The reader is RFC 4180 with the leniency Salesforce's answers need: a
 * line may end in LF (query results default to lineEnding LF) or CRLF,
 * and any cell may be quoted.  A row is handed over whole, as copies, so
 * the caller never sees the quoting.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "salesforce.h"
#include "ct_email.h"

int sf_csv_each(const char *p, size_t len, sf_row_fn row, void *arg,
                char *err)
{
	struct ct_buf cell[SF_CSV_CELLS];
	char *cells[SF_CSV_CELLS];
	size_t i = 0, n = 0, line = 1;
	int rc = CT_OK;

	for (size_t k = 0; k < SF_CSV_CELLS; k++)
		ct_buf_init(&cell[k], 0);
	while (i < len) {
		/* one record: cells separated by ',' up to CRLF, LF or the end */
		n = 0;
		for (;;) {
			if (n == SF_CSV_CELLS) {
				rc = ct_seterr(err, CT_ERR_INPUT, "CSV line %zu: more "
				               "than %d cells", line, SF_CSV_CELLS);
				goto out;
			}
			ct_buf_reset(&cell[n]);
			if ((rc = ct_buf_add(&cell[n], "", 0)) != CT_OK)
				goto nomem;
			if (i < len && p[i] == '"') {
				/* quoted: runs up to the next quote, "" is a quote */
				for (i++;;) {
					const char *q = memchr(p + i, '"', len - i);

					if (q == NULL) {
						rc = ct_seterr(err, CT_ERR_INPUT, "CSV line "
						               "%zu: unterminated quote", line);
						goto out;
					}
					if ((rc = ct_buf_add(&cell[n], p + i,
					                     (size_t)(q - (p + i)))) != CT_OK)
						goto nomem;
					i = (size_t)(q - p) + 1;
					if (i < len && p[i] == '"') {
						if ((rc = ct_buf_add(&cell[n], "\"", 1)) != CT_OK)
							goto nomem;
						i++;
						continue;
					}
					break;
				}
			} else {
				size_t s = i;

				while (i < len && p[i] != ',' && p[i] != '\n' &&
				       !(p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')) {
					if (p[i] == '"') {
						rc = ct_seterr(err, CT_ERR_INPUT, "CSV line "
						               "%zu: quote inside a cell", line);
						goto out;
					}
					i++;
				}
				if ((rc = ct_buf_add(&cell[n], p + s, i - s)) != CT_OK)
					goto nomem;
			}
			cells[n] = cell[n].p;
			n++;
			if (i < len && p[i] == ',') {
				i++;
				continue;
			}
			if (i < len && p[i] == '\r')
				i++;
			if (i < len && p[i] == '\n')
				i++;
			else if (i < len) {
				rc = ct_seterr(err, CT_ERR_INPUT, "CSV line %zu: text "
				               "after a quoted cell", line);
				goto out;
			}
			break;
		}
		line++;
		if ((rc = row(arg, cells, n)) != CT_OK)
			goto out;
	}
	goto out;
nomem:
	rc = ct_seterr(err, rc, "CSV line %zu: too large", line);
out:
	for (size_t k = 0; k < SF_CSV_CELLS; k++)
		ct_buf_free(&cell[k]);
	return rc;
}

int sf_csv_col(char **cells, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cells[i], name) == 0)
			return (int)i;
	return -1;
}

void sf_clean(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	if (outsz == 0)
		return;
	while (*in && o + 1 < outsz) {
		/* a word: up to a blank, a quote, a comma, a colon or a
		 * parenthesis, the characters Salesforce puts around values */
		size_t w = strcspn(in, " \t\r\n\"',:;()[]<>");

		if (w > 0 && memchr(in, '@', w) != NULL) {
			char word[CT_EMAIL_MAX + 1], m[CT_MASKLEN];
			size_t k = w < CT_EMAIL_MAX ? w : CT_EMAIL_MAX;

			memcpy(word, in, k);
			word[k] = '\0';
			ct_email_mask(word, m, sizeof(m));
			for (size_t j = 0; m[j] && o + 1 < outsz; j++)
				out[o++] = isprint((unsigned char)m[j]) ? m[j] : '?';
			in += w;
			continue;
		}
		if (w == 0)
			w = 1;
		for (size_t j = 0; j < w && o + 1 < outsz; j++) {
			unsigned char ch = (unsigned char)in[j];

			out[o++] = ch == '\n' || ch == '\r' || ch == '\t' ? ' '
			         : (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
		}
		in += w;
	}
	out[o] = '\0';
}

int sf_soql_str(struct ct_buf *b, const char *s)
{
	int rc = ct_buf_add(b, "'", 1);

	for (; rc == CT_OK && *s; s++) {
		if (*s == '\'' || *s == '\\')
			rc = ct_buf_add(b, "\\", 1);
		if (rc == CT_OK)
			rc = ct_buf_add(b, s, 1);
	}
	return rc == CT_OK ? ct_buf_add(b, "'", 1) : rc;
}
