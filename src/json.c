/* json.c — strict JSON in: one value, valid UTF-8, bounded depth, nothing
 * after it.  Everything calltrail reads from a client or a file goes
 * through ct_json_parse, so the rules are the same everywhere. */
#include <string.h>

#include <json-c/json.h>

#include "calltrail.h"

int
ct_json_parse(const char *buf, size_t len, int maxdepth,
              struct json_object **out, char *err)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	enum json_tokener_error jerr;
	size_t end;
	int rc = CT_ERR_INPUT;

	*out = NULL;
	if (len == 0) {
		ct_seterr(err, rc, "empty document");
		goto out;
	}
	if (len > (size_t)INT32_MAX) {
		rc = ct_seterr(err, CT_ERR_TOOBIG, "document too large");
		goto out;
	}
	/* json-c would stop at a raw NUL and call the rest "trailing". */
	if (memchr(buf, '\0', len) != NULL) {
		ct_seterr(err, rc, "NUL byte in the document");
		goto out;
	}
	if ((tok = json_tokener_new_ex(maxdepth)) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (o == NULL || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			ct_seterr(err, rc, "truncated JSON");
		else if (jerr == json_tokener_error_depth)
			ct_seterr(err, rc, "JSON nested deeper than %d", maxdepth);
		else
			ct_seterr(err, rc, "not valid JSON: %s at byte %zu",
			          json_tokener_error_desc(jerr),
			          json_tokener_get_parse_end(tok));
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		char c = buf[end];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			ct_seterr(err, rc, "data after the JSON value at byte %zu", end);
			goto out;
		}
	}
	*out = o;
	o = NULL;
	rc = CT_OK;
out:
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
	return rc;
}

/* A string with an embedded NUL ("\u0000") is treated as absent: C code
 * downstream would otherwise see a shorter string than the JSON holds. */
const char *
ct_json_str(struct json_object *obj, const char *key)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}
