/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "secret-util.h"

void
codex_secret_wipe_bytes (gpointer data, gsize len)
{
  if (data != NULL && len > 0)
    explicit_bzero (data, len);
}

void
codex_secret_free (CodexSecret *secret)
{
  if (secret == NULL)
    return;
  explicit_bzero (secret, strlen (secret));
  g_free (secret);
}

CodexSecret *
codex_secret_dup (const char *str)
{
  return g_strdup (str);
}

CodexSecret *
codex_secret_dup_len (const char *data, gsize len)
{
  return g_strndup (data, len);
}

void
codex_secret_replace (CodexSecret **secret, const char *str)
{
  CodexSecret *old = *secret;

  *secret = codex_secret_dup (str);
  codex_secret_free (old);
}

/* json_node_get_string() returns the node's own buffer; nothing is hashed
 * on string values, so overwriting it in place is safe. */
void
codex_json_wipe_string_member (JsonObject *object, const char *name)
{
  JsonNode *node;

  if (object == NULL || !json_object_has_member (object, name))
    return;
  node = json_object_get_member (object, name);
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      char *s = (char *) json_node_get_string (node);
      if (s != NULL)
        explicit_bzero (s, strlen (s));
    }
}
