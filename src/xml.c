/*
 * xml.c — ct_xml_parse (ct_xml.h): the one place calltrail reads XML.
 *
 * Remote servers (S3, STS, or anything answering in their place) send
 * the XML, so it is read by expat, a streaming parser made for untrusted
 * input, with our own bounds on top: the path of open elements at most
 * CT_XML_DEPTH deep, the text of a wanted element at most
 * CT_XML_TEXT_MAX bytes, and no document type declaration at all (S3 and
 * STS never send one, and refusing it refuses every entity definition,
 * internal or external, with it).
 *
 * Wanted elements may nest (S3's Contents and its Key).  The text handed
 * to the callback is the character data directly inside the element
 * (expat has already decoded entities and character
 * references, and refuses the ones XML forbids), NUL-terminated.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "ct_xml.h"

#define PATH_MAX_XML 1024      /* bytes of "A/B/C" for the open elements */

struct xp {
	XML_Parser p;
	const char *const *paths;
	size_t npaths;
	int (*cb)(void *, size_t, const char *, size_t);
	void *arg;
	char path[PATH_MAX_XML + 1];
	size_t plen;
	size_t at[CT_XML_DEPTH];    /* plen before each open element */
	long want[CT_XML_DEPTH];    /* each open element: its index in paths, -1 */
	size_t tstart[CT_XML_DEPTH]; /* where its text begins in text */
	int depth;
	/* the text of the open wanted elements, innermost last (a wanted
	 * element's children's text is dropped when each child ends) */
	char text[CT_XML_TEXT_MAX + 1];
	size_t tlen;
	int rc;                     /* CT_OK, CT_ERR_INPUT or the cb's return */
	int bycb;                   /* rc is the callback's */
	char why[128];
};

/* Stop the parse with rc; the first reason wins. */
static void stop(struct xp *x, int rc, const char *why)
{
	if (x->rc == CT_OK) {
		x->rc = rc;
		snprintf(x->why, sizeof(x->why), "%s", why);
	}
	XML_StopParser(x->p, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attr)
{
	struct xp *x = ud;
	size_t n = strlen(name);

	(void)attr;
	if (x->rc != CT_OK)
		return;
	if (x->depth >= CT_XML_DEPTH) {
		stop(x, CT_ERR_INPUT, "elements nested too deep");
		return;
	}
	if (x->plen + 1 + n > PATH_MAX_XML) {
		stop(x, CT_ERR_INPUT, "element path too long");
		return;
	}
	x->at[x->depth] = x->plen;
	x->want[x->depth] = -1;
	x->tstart[x->depth] = x->tlen;
	if (x->plen)
		x->path[x->plen++] = '/';
	memcpy(x->path + x->plen, name, n);
	x->plen += n;
	x->path[x->plen] = '\0';
	for (size_t i = 0; i < x->npaths; i++)
		if (strcmp(x->paths[i], x->path) == 0) {
			x->want[x->depth] = (long)i;
			break;
		}
	x->depth++;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct xp *x = ud;
	int rc, d;

	(void)name;
	if (x->rc != CT_OK || x->depth == 0)
		return;
	d = x->depth - 1;
	if (x->want[d] >= 0) {
		x->text[x->tlen] = '\0';
		rc = x->cb(x->arg, (size_t)x->want[d], x->text + x->tstart[d],
		           x->tlen - x->tstart[d]);
		x->tlen = x->tstart[d];
		if (rc != 0) {
			x->bycb = 1;
			stop(x, rc, "");
			return;
		}
	}
	x->depth = d;
	x->plen = x->at[d];
	x->path[x->plen] = '\0';
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct xp *x = ud;

	if (x->rc != CT_OK || x->depth == 0 || x->want[x->depth - 1] < 0 || len <= 0)
		return;
	if ((size_t)len > CT_XML_TEXT_MAX - x->tlen) {
		stop(x, CT_ERR_INPUT, "element text too long");
		return;
	}
	memcpy(x->text + x->tlen, s, (size_t)len);
	x->tlen += (size_t)len;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int internal)
{
	(void)name; (void)sysid; (void)pubid; (void)internal;
	stop(ud, CT_ERR_INPUT, "a document type declaration (refused)");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int param,
                              const XML_Char *value, int vlen, const XML_Char *base,
                              const XML_Char *sysid, const XML_Char *pubid,
                              const XML_Char *notation)
{
	(void)name; (void)param; (void)value; (void)vlen; (void)base; (void)sysid;
	(void)pubid; (void)notation;
	stop(ud, CT_ERR_INPUT, "an entity declaration (refused)");
}

int ct_xml_parse(const char *buf, size_t len, const char *const *paths, size_t npaths,
                 int (*cb)(void *arg, size_t which, const char *text, size_t len),
                 void *arg, char *err)
{
	struct xp *x = NULL;
	enum XML_Status st;
	int rc;

	if (len > INT_MAX)
		return ct_seterr(err, CT_ERR_INPUT, "XML: reply too large");
	/* the state is about 17 KiB: not for the stack of a library call */
	if (!(x = calloc(1, sizeof(*x))))
		return ct_seterr(err, CT_ERR_NOMEM, "XML: out of memory");
	if (!(x->p = XML_ParserCreate("UTF-8"))) {
		free(x);
		return ct_seterr(err, CT_ERR_NOMEM, "XML: out of memory");
	}
	x->paths = paths;
	x->npaths = npaths;
	x->cb = cb;
	x->arg = arg;
	XML_SetUserData(x->p, x);
	XML_SetElementHandler(x->p, on_start, on_end);
	XML_SetCharacterDataHandler(x->p, on_text);
	XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
	XML_SetEntityDeclHandler(x->p, on_entity);
	XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
	st = XML_Parse(x->p, buf ? buf : "", (int)len, XML_TRUE);
	if (x->rc != CT_OK) {
		rc = x->rc;
		if (!x->bycb)
			ct_seterr(err, rc, "XML: %s at line %lu", x->why,
			          (unsigned long)XML_GetCurrentLineNumber(x->p));
	} else if (st != XML_STATUS_OK) {
		rc = ct_seterr(err, CT_ERR_INPUT, "XML: %s at line %lu",
		               XML_ErrorString(XML_GetErrorCode(x->p)),
		               (unsigned long)XML_GetCurrentLineNumber(x->p));
	} else
		rc = CT_OK;
	XML_ParserFree(x->p);
	free(x);
	return rc;
}
