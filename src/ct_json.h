/*
 * ct_json.h — JSON helpers over json-c: the one strict parser and small builders (json.c).
 */
#ifndef CT_JSON_H
#define CT_JSON_H

#include "calltrail.h"

struct json_object;

#define CT_JSON_DEPTH 32

/* json-c's flags for compact output; no "\/" so URLs stay readable.
 * (The caller includes <json-c/json.h>.) */
#define CT_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/*
 * Parse exactly one JSON value from buf[0..len): strict RFC 8259, valid
 * UTF-8, no NUL bytes, nesting at most maxdepth, nothing but whitespace
 * after it.  *out is a new reference.  CT_ERR_INPUT with err otherwise.
 * The first call in a thread makes glibc's C locale object the thread's
 * locale (json.c says why; calltrail never calls setlocale).
 */
int ct_json_parse(const char *buf, size_t len, int maxdepth,
                  struct json_object **out, char *err);

/* The string member key of obj, or NULL when absent or not a string. */
const char *ct_json_str(struct json_object *obj, const char *key);

/*
 * Add v (a new reference, consumed; NULL is out of memory) to obj under
 * key, and keep a borrowed pointer to it in *keep when keep is not NULL.
 * 0, or -1 out of memory.
 */
int ct_json_add(struct json_object *obj, const char *key, struct json_object *v,
                struct json_object **keep);

/*
 * Set the string member key of obj, whose value *v is, to s: in place
 * (json_object_set_string) when s is not empty; "" is a new string in the
 * member's place, and *v is updated.  json-c 0.16 leaks a string's heap
 * buffer when it is set to "" in place.  0, or -1 out of memory.
 */
int ct_json_set_str(struct json_object *obj, const char *key,
                    struct json_object **v, const char *s);

#endif /* CT_JSON_H */
