/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "test-helpers.h"

char *
test_base64url (const char *data)
{
  g_autofree char *b64 = g_base64_encode ((const guchar *) data, strlen (data));
  GString *s = g_string_new (NULL);

  for (const char *p = b64; *p != '\0'; p++)
    {
      if (*p == '+')
        g_string_append_c (s, '-');
      else if (*p == '/')
        g_string_append_c (s, '_');
      else if (*p != '=')
        g_string_append_c (s, *p);
    }
  return g_string_free (s, FALSE);
}

char *
test_make_jwt (const char *payload_json)
{
  g_autofree char *payload = test_base64url (payload_json);

  return g_strdup_printf ("eyJhbGciOiJub25lIn0.%s.sig", payload);
}

char *
test_make_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("codex-authd-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
test_remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        test_remove_tree (child);
      else
        g_assert_true (g_remove (child) == 0);
      g_object_unref (info);
    }
  g_assert_true (g_remove (path) == 0);
}

char *
test_nested_json (const char *prefix, guint depth, const char *suffix)
{
  GString *s = g_string_new (prefix);

  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, '[');
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, ']');
  g_string_append (s, suffix);
  return g_string_free (s, FALSE);
}
