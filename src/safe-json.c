/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading untrusted JSON with bounds (depth, UTF-8), member accessors,
 * wiping secrets json-glib keeps, building bodies that hold secrets. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "safe-json.h"

const char *
safe_json_get_string (JsonObject *object, const char *name)
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
safe_json_get_object (JsonObject *object, const char *name)
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
safe_json_wipe_string_member (JsonObject *object, const char *name)
{
  char *s = (char *) safe_json_get_string (object, name);

  if (s != NULL)
    explicit_bzero (s, strlen (s));
}

static void
wipe_object_member (JsonObject *object, const char *name, JsonNode *node, gpointer data)
{
  safe_json_wipe_all_strings (node);
}

static void
wipe_array_element (JsonArray *array, guint index, JsonNode *node, gpointer data)
{
  safe_json_wipe_all_strings (node);
}

void
safe_json_wipe_all_strings (JsonNode *node)
{
  if (node == NULL)
    return;
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      json_object_foreach_member (json_node_get_object (node), wipe_object_member, NULL);
      break;
    case JSON_NODE_ARRAY:
      json_array_foreach_element (json_node_get_array (node), wipe_array_element, NULL);
      break;
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        {
          char *s = (char *) json_node_get_string (node);

          explicit_bzero (s, strlen (s));
        }
      break;
    case JSON_NODE_NULL:
    default:
      break;
    }
}

char *
safe_json_string_object (const char *first_name, ...)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  const char *name;
  char *out;
  va_list ap;

  json_builder_begin_object (b);
  va_start (ap, first_name);
  for (name = first_name; name != NULL; name = va_arg (ap, const char *))
    {
      json_builder_set_member_name (b, name);
      json_builder_add_string_value (b, va_arg (ap, const char *));
    }
  va_end (ap);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  out = json_generator_to_data (gen, NULL);
  safe_json_wipe_all_strings (root);
  return out;
}

/* Counts the nesting of arrays and objects before json-glib sees the
 * document (its parser recurses once per level). json-glib also takes
 * comments and single-quoted strings, which could hide brackets from a
 * scan that knows only JSON's strings; so outside double-quoted strings
 * only what JSON itself has is allowed (white space, structure, numbers,
 * true, false, null), and anything else refuses the document. The
 * documents read here are written by JSON encoders, never by hand. */
static gboolean
check_depth (const char *data, gsize len, GError **error)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++; /* the escaped character, whatever it is */
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;
        case '[':
        case '{':
          if (++depth > SAFE_JSON_MAX_DEPTH)
            {
              g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                           "JSON nested more than %d levels deep", SAFE_JSON_MAX_DEPTH);
              return FALSE;
            }
          break;
        case ']':
        case '}':
          if (depth > 0)
            depth--;
          break;
        case ' ': case '\t': case '\n': case '\r': case ':': case ',': case '-': case '+': case '.':
          break;
        default:
          if (!g_ascii_isalnum (c))
            {
              g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                           "not JSON: %s at byte %" G_GSIZE_FORMAT " (comments and single quotes are refused)",
                           c == '/' ? "a comment" : c == '\'' ? "a single-quoted string" : "a character JSON does not have",
                           i + 1);
              return FALSE;
            }
        }
    }
  return TRUE;
}

/* What json-glib takes that JSON (and the Codex CLI's reader) does not,
 * NULL when nothing: an escape JSON does not have (an octal "\\222") that
 * makes a string that is not UTF-8, a number out of range (it reads
 * 1e99999 as infinity). Either would be written back as a document no JSON
 * parser reads. The depth is bounded by check_depth(). */
static const char *
node_fault (JsonNode *node)
{
  const char *fault = NULL;

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (fault == NULL && json_object_iter_next (&iter, &name, &member))
        fault = !g_utf8_validate (name, -1, NULL) ? "a string escape that JSON does not have" : node_fault (member);
      return fault;
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; fault == NULL && i < json_array_get_length (array); i++)
        fault = node_fault (json_array_get_element (array, i));
      return fault;
    }
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING &&
      !g_utf8_validate (json_node_get_string (node), -1, NULL))
    return "a string escape that JSON does not have";
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE &&
      !isfinite (json_node_get_double (node)))
    return "a number out of range";
  return NULL;
}

JsonParser *
safe_json_parse (const char *data, gsize len, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  const char *fault;

  if (!g_utf8_validate_len (data, len, NULL))
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA, "not valid UTF-8");
      return NULL;
    }
  if (!check_depth (data, len, error))
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, error))
    return NULL;
  fault = json_parser_get_root (parser) != NULL ? node_fault (json_parser_get_root (parser)) : NULL;
  if (fault != NULL)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA, fault);
      return NULL;
    }
  return g_steal_pointer (&parser);
}
