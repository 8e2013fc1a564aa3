/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rescue copy of refreshed tokens the store has not taken yet: its
 * file, written atomically, read back at start. */
#define G_LOG_DOMAIN "codex-authd-rescue"

#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "safe-file.h"
#include "safe-json.h"
#include "sensitive.h"
#include "rescue-copy.h"

char *
rescue_copy_default_path (void)
{
  return safe_file_state_path ("rescue-copy.json");
}

char *
rescue_copy_runtime_path (void)
{
  const char *dir = g_getenv ("XDG_RUNTIME_DIR");

  if (dir == NULL || !g_path_is_absolute (dir))
    return NULL;
  return g_build_filename (dir, "codex-authd", "rescue-copy.json", NULL);
}

gboolean
rescue_copy_save (const char *path, AuthRecord *record, const char *base_fingerprint, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(Sensitive) serialized = auth_record_serialize (record);
  g_autoptr(Sensitive) data = NULL;
  g_autofree char *dir = g_path_get_dirname (path);
  gboolean ok;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "base_fingerprint");
  json_builder_add_string_value (b, base_fingerprint);
  json_builder_set_member_name (b, "record");
  json_builder_add_string_value (b, serialized);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  data = json_generator_to_data (gen, NULL);
  safe_json_wipe_string_member (json_node_get_object (root), "record");

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Cannot create %s: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  ok = safe_file_write_atomic (path, ".unsaved-", data, strlen (data), error);
  return ok;
}

AuthRecord *
rescue_copy_load (const char *path, char **base_fingerprint, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonParser) parser = NULL;
  char *data = NULL;
  gsize len = 0;
  JsonObject *root;
  const char *fp, *serialized;
  AuthRecord *record;

  *base_fingerprint = NULL;
  if (!safe_file_read_bounded (path, 2 * AUTH_RECORD_MAX_SIZE, &data, &len, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return NULL;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  parser = safe_json_parse (data, len, NULL);
  sensitive_wipe (data, len);
  g_free (data);
  root = parser != NULL && json_parser_get_root (parser) != NULL &&
                 JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))
             ? json_node_get_object (json_parser_get_root (parser))
             : NULL;
  fp = safe_json_get_string (root, "base_fingerprint");
  serialized = safe_json_get_string (root, "record");
  if (fp == NULL || strlen (fp) != 64 || serialized == NULL)
    {
      if (root != NULL)
        safe_json_wipe_string_member (root, "record");
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a rescue record", path);
      return NULL;
    }
  record = auth_record_parse (serialized, strlen (serialized), &local_error);
  safe_json_wipe_string_member (root, "record");
  if (record == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path, local_error->message);
      return NULL;
    }
  *base_fingerprint = g_strdup (fp);
  return record;
}

gboolean
rescue_copy_remove (const char *path, GError **error)
{
  if (g_unlink (path) < 0 && errno != ENOENT)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Cannot remove %s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}
