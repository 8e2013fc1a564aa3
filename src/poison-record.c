/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The persisted poison record: its JSON, atomic saves, loading. */
#define G_LOG_DOMAIN "codex-authd-poison"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safe-file.h"
#include "safe-json.h"
#include "poison-record.h"

#define MAX_FILE_SIZE (64 * 1024)

PoisonRecord *
poison_record_new (const char *fingerprint, const char *code, const char *message,
                     guint http_status, gint64 time_usec)
{
  PoisonRecord *f = g_new0 (PoisonRecord, 1);

  f->fingerprint = g_strdup (fingerprint);
  f->code = g_strdup (code);
  f->message = g_strdup (message);
  f->http_status = http_status;
  f->time_usec = time_usec;
  return f;
}

PoisonRecord *
poison_record_copy (const PoisonRecord *f)
{
  return poison_record_new (f->fingerprint, f->code, f->message, f->http_status, f->time_usec);
}

void
poison_record_free (PoisonRecord *f)
{
  if (f == NULL)
    return;
  g_free (f->fingerprint);
  g_free (f->code);
  g_free (f->message);
  g_free (f);
}

gboolean
poison_record_equal (const PoisonRecord *a, const PoisonRecord *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_strcmp0 (a->fingerprint, b->fingerprint) == 0 && g_strcmp0 (a->code, b->code) == 0 &&
         g_strcmp0 (a->message, b->message) == 0 && a->http_status == b->http_status &&
         a->time_usec == b->time_usec;
}

char *
poison_record_default_path (void)
{
  return safe_file_state_path ("poison.json");
}

PoisonRecord *
poison_record_parse (const char *data, gsize len, const char *name, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root;
  JsonNode *node;
  const char *fp, *code, *message;
  gint64 status = 0, time_usec = 0;

  parser = safe_json_parse (data, len, NULL);
  if (parser == NULL || json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a JSON object", name);
      return NULL;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  fp = safe_json_get_string (root, "fingerprint");
  code = safe_json_get_string (root, "code");
  message = safe_json_get_string (root, "message");
  node = json_object_get_member (root, "http_status");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    status = json_node_get_int (node);
  node = json_object_get_member (root, "time_usec");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    time_usec = json_node_get_int (node);
  if (fp == NULL || strlen (fp) != 64 || code == NULL || code[0] == '\0' || status < 0 || status > 999)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: missing or invalid fields", name);
      return NULL;
    }
  return poison_record_new (fp, code, message != NULL ? message : "", (guint) status, time_usec);
}

PoisonRecord *
poison_record_load (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len = 0;

  if (!safe_file_read_bounded (path, MAX_FILE_SIZE, &data, &len, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return NULL;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return poison_record_parse (data, len, path, error);
}

gboolean
poison_record_save (const char *path, const PoisonRecord *f, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *data = NULL;
  g_autofree char *dir = g_path_get_dirname (path);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "fingerprint");
  json_builder_add_string_value (b, f->fingerprint);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, f->code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, f->message != NULL ? f->message : "");
  json_builder_set_member_name (b, "http_status");
  json_builder_add_int_value (b, f->http_status);
  json_builder_set_member_name (b, "time_usec");
  json_builder_add_int_value (b, f->time_usec);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  data = json_generator_to_data (gen, NULL);

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot create %s: %s", dir, g_strerror (saved));
      return FALSE;
    }
  return safe_file_write_atomic (path, ".poison-", data, strlen (data), error);
}

gboolean
poison_record_remove (const char *path, GError **error)
{
  if (g_unlink (path) < 0 && errno != ENOENT)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot remove %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}
