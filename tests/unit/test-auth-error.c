/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error table: names are unique and found again, GErrors map through
 * it, and the interface XML documents exactly the errors the service
 * raises. */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "auth-error.h"

static void
test_table (void)
{
  guint n = 0;
  const CodexAuthErrorInfo *table = codex_auth_error_table (&n);
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_cmpuint (n, >, 0);
  for (guint i = 0; i < n; i++)
    {
      g_assert_true (g_str_has_prefix (table[i].name, CODEX_AUTH_INTERFACE ".Error."));
      g_assert_true (g_hash_table_add (names, (gpointer) table[i].name));
      g_assert_true (codex_auth_error_info_for_name (table[i].name) == &table[i]);
      g_assert_true (codex_auth_error_info (table[i].code) == &table[i]);
      g_assert_cmpuint (strlen (table[i].meaning), >, 0);
    }
  g_assert_null (codex_auth_error_info_for_name (CODEX_AUTH_INTERFACE ".Error.NoSuchThing"));
  g_assert_null (codex_auth_error_info_for_name ("org.freedesktop.DBus.Error.InvalidArgs"));
}

static void
test_gerror_names (void)
{
  g_autoptr(GError) locked = g_error_new_literal (CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_STORE_LOCKED, "x");
  g_autoptr(GError) foreign = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x");
  g_autoptr(GError) unknown = g_error_new_literal (CODEX_AUTH_ERROR, 999, "x");

  g_assert_cmpstr (codex_auth_error_name (locked), ==, CODEX_AUTH_INTERFACE ".Error.StoreLocked");
  g_assert_cmpstr (codex_auth_error_name (foreign), ==, CODEX_AUTH_INTERFACE ".Error.Failed");
  g_assert_cmpstr (codex_auth_error_name (unknown), ==, CODEX_AUTH_INTERFACE ".Error.Failed");
  g_assert_cmpint (codex_auth_error_info (CODEX_AUTH_ERROR_STORE_LOCKED)->exit_status, ==,
                   CODEX_AUTHCTL_EXIT_UNAVAILABLE);
  g_assert_cmpint (codex_auth_error_info (CODEX_AUTH_ERROR_NOT_LOGGED_IN)->exit_status, ==,
                   CODEX_AUTHCTL_EXIT_NOT_LOGGED_IN);
}

/* Every org.codex.Auth1.Error.* name the XML mentions is a row the service
 * raises, and every such row is mentioned. */
static void
test_xml_documents_the_table (void)
{
  const char *path = g_getenv ("CODEX_AUTHD_XML");
  g_autofree char *xml = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GRegex) re = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  g_autoptr(GHashTable) documented = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint n = 0, raised = 0;
  const CodexAuthErrorInfo *table = codex_auth_error_table (&n);

  if (path == NULL)
    {
      g_test_skip ("CODEX_AUTHD_XML is not set (meson test sets it)");
      return;
    }
  g_assert_true (g_file_get_contents (path, &xml, NULL, &error));
  g_assert_no_error (error);
  re = g_regex_new ("org\\.codex\\.Auth1\\.Error\\.[A-Za-z]+", 0, 0, &error);
  g_assert_no_error (error);
  for (g_regex_match (re, xml, 0, &match); g_match_info_matches (match); g_match_info_next (match, NULL))
    g_hash_table_add (documented, g_match_info_fetch (match, 0));

  for (guint i = 0; i < n; i++)
    {
      g_test_message ("%s", table[i].name);
      if (table[i].client_only)
        {
          g_assert_false (g_hash_table_contains (documented, table[i].name));
          continue;
        }
      raised++;
      g_assert_true (g_hash_table_contains (documented, table[i].name));
    }
  g_assert_cmpuint (g_hash_table_size (documented), ==, raised);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/error/table", test_table);
  g_test_add_func ("/error/gerror-names", test_gerror_names);
  g_test_add_func ("/error/xml-documents-the-table", test_xml_documents_the_table);

  return g_test_run ();
}
