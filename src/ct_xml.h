/*
 * ct_xml.h — reading the small XML replies remote services send (S3
 * listings and errors, STS credentials) with expat (src/xml.c).  Only the
 * elements the caller names are handed back; nothing is kept but the text
 * of the element being read.
 */
#ifndef CT_XML_H
#define CT_XML_H

#include "calltrail.h"

#define CT_XML_TEXT_MAX 16384   /* text of one element, bytes */
#define CT_XML_DEPTH    16      /* nesting of elements */

/* Read a small XML reply with expat: for each element whose path (element names from the root, joined by '/', e.g. "ListBucketResult/Contents/Key") is one of paths[0..npaths), call cb(arg, index, text, textlen) with its text content when the element ends, in document order. Bounded: at most CT_XML_TEXT_MAX bytes of text per element, depth CT_XML_DEPTH, no DOCTYPE/entities (refused). CT_ERR_INPUT with err on malformed or unexpected XML; a non-zero cb return stops and is returned. */
int ct_xml_parse(const char *buf, size_t len, const char *const *paths, size_t npaths, int (*cb)(void *arg, size_t which, const char *text, size_t len), void *arg, char *err);

#endif
