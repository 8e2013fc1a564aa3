/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the unit tests share (test-helpers.h). */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <sys/prctl.h>
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

/* ---- children ----------------------------------------------------------- */

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocess *
test_spawn (GSubprocessFlags flags, GSubprocessLauncher *launcher, GError **error, const char *first, ...)
{
  g_autoptr(GSubprocessLauncher) own = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  va_list ap;

  if (launcher == NULL)
    launcher = own = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  va_start (ap, first);
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, error);
}

/* ---- the fake token server ---------------------------------------------- */

void
test_fake_server_start (TestFakeServer *s)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  const char *python = g_getenv ("CODEX_AUTHD_TEST_PYTHON");
  const char *script = g_getenv ("CODEX_AUTHD_FAKE_TOKEN_SERVER");

  g_assert_nonnull (python);
  g_assert_nonnull (script);
  s->proc = test_spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL, &error, python, script, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->proc));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (line, "PORT "));
  s->base = g_strdup_printf ("http://127.0.0.1:%s", line + 5);
  s->control = soup_session_new ();
}

void
test_fake_server_stop (TestFakeServer *s)
{
  g_subprocess_send_signal (s->proc, SIGTERM);
  g_subprocess_wait (s->proc, NULL, NULL);
  g_clear_object (&s->proc);
  g_clear_object (&s->control);
  g_free (s->base);
}

char *
test_fake_server_control (TestFakeServer *s, const char *method, const char *path, const char *json)
{
  g_autofree char *url = g_strconcat (s->base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;

  if (json != NULL)
    {
      g_autoptr(GBytes) body = g_bytes_new (json, strlen (json));
      soup_message_set_request_body_from_bytes (msg, "application/json", body);
    }
  reply = soup_session_send_and_read (s->control, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  return g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
}

