/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

/* Member accessors that tolerate a NULL object, a missing member and a
 * member of another type (all give NULL). */
const char *safe_json_get_string (JsonObject *object, const char *name);
JsonObject *safe_json_get_object (JsonObject *object, const char *name);

/* json-glib keeps its own copies of the strings it parses or builds. Wipes
 * the copy held by @object's member @name when it is a string. */
void safe_json_wipe_string_member (JsonObject *object, const char *name);

/* Wipes every string value held under @node (objects and arrays
 * included), for members whose meaning is unknown and may be secret. The
 * values are json-glib's own buffers, shared by every copy of the node. */
void safe_json_wipe_all_strings (JsonNode *node);

/* A JSON object of string members given as name, value pairs ending with
 * NULL, such as a request body: the builder's copies of the values are
 * wiped; free the result with sensitive_free(). */
char *safe_json_string_object (const char *first_name, ...) G_GNUC_NULL_TERMINATED;

/* How deep untrusted JSON may nest. json-glib's parser recurses once per
 * level and overflows the stack long before the size limits (about
 * 100,000 levels fit in 200 KB); the Codex documents nest 3 levels. */
#define SAFE_JSON_MAX_DEPTH 64

/* Parses untrusted JSON: UTF-8, at most SAFE_JSON_MAX_DEPTH levels of
 * arrays and objects (counted before parsing), then json-glib. Every
 * parser of outside data goes through here. Errors are JSON_PARSER_ERROR
 * (JSON_PARSER_ERROR_INVALID_DATA for bad UTF-8 or too deep). */
JsonParser *safe_json_parse (const char *data, gsize len, GError **error);
