/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "codex-json.h"

const char *
codex_json_get_string (JsonObject *object, const char *name)
{
  JsonNode *node;

  if (object == NULL || !json_object_has_member (object, name))
    return NULL;
  node = json_object_get_member (object, name);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

JsonObject *
codex_json_get_object (JsonObject *object, const char *name)
{
  JsonNode *node;

  if (object == NULL || !json_object_has_member (object, name))
    return NULL;
  node = json_object_get_member (object, name);
  return JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* json_node_get_string() returns the node's own buffer; nothing is hashed
 * on string values, so overwriting it in place is safe. */
void
codex_json_wipe_string_member (JsonObject *object, const char *name)
{
  char *s = (char *) codex_json_get_string (object, name);

  if (s != NULL)
    explicit_bzero (s, strlen (s));
}
