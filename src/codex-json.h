/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

/* Member accessors that tolerate a NULL object, a missing member and a
 * member of another type (all give NULL). */
const char *codex_json_get_string (JsonObject *object, const char *name);
JsonObject *codex_json_get_object (JsonObject *object, const char *name);

/* json-glib keeps its own copies of the strings it parses or builds. Wipes
 * the copy held by @object's member @name when it is a string. */
void codex_json_wipe_string_member (JsonObject *object, const char *name);
