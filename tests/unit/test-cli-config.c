/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Codex CLI's store setting in config.toml: reading it, and setting it
 * without touching the rest of the file. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli-config.h"
#include "test-helpers.h"

static CliStoreSetting
parse (const char *text, char **problem)
{
  return cli_config_parse_store_setting (text, strlen (text), problem);
}

static void
test_parse_values (void)
{
  g_autofree char *problem = NULL;

  g_assert_cmpint (parse ("", &problem), ==, CLI_STORE_SETTING_DEFAULT);
  g_assert_null (problem);
  g_assert_cmpint (parse ("model = \"o3\"\n[profiles.x]\ncli_auth_credentials_store = \"keyring\"\n", NULL), ==,
                   CLI_STORE_SETTING_DEFAULT);
  g_assert_cmpint (parse ("cli_auth_credentials_store = \"file\"", NULL), ==, CLI_STORE_SETTING_FILE);
  g_assert_cmpint (parse ("cli_auth_credentials_store = 'keyring' # the desktop's keyring\n", NULL), ==,
                   CLI_STORE_SETTING_KEYRING);
  g_assert_cmpint (parse ("\"cli_auth_credentials_store\" = \"\"\"auto\"\"\"\n[tui]\nx = 1\n", NULL), ==,
                   CLI_STORE_SETTING_AUTO);
  g_assert_cmpint (parse ("cli_auth_credentials_store = \"ephemeral\"", NULL), ==, CLI_STORE_SETTING_EPHEMERAL);
  g_assert_cmpstr (cli_store_setting_to_string (CLI_STORE_SETTING_EPHEMERAL), ==, "ephemeral");
  g_assert_cmpstr (cli_store_setting_to_string (CLI_STORE_SETTING_KEYRING), ==, "keyring");
  g_assert_cmpstr (cli_store_setting_to_string (CLI_STORE_SETTING_DEFAULT), ==, "");
}

/* toml++ recurses once per part of a dotted key: 100,000 parts (200 KB)
 * crashed the daemon at every start. Refused with the line, before the
 * parser sees them; dots in strings, comments and numbers do not count. */
static void
test_dotted_key_bound (void)
{
  GString *key = g_string_new ("a");
  GString *table = g_string_new ("[t");
  g_autofree char *many_dots = g_strnfill (5000, '.');
  g_autofree char *fine = NULL;
  g_autofree char *problem = NULL;

  for (int i = 0; i < 100000; i++)
    g_string_append (key, ".a");
  g_string_append (key, " = 1\n");
  for (int i = 0; i < 100000; i++)
    g_string_append (table, ".\"t\"");
  g_string_append (table, "]\n");

  g_assert_cmpint (parse (key->str, &problem), ==, CLI_STORE_SETTING_INVALID);
  g_assert_nonnull (strstr (problem, "line 1"));
  g_assert_nonnull (strstr (problem, "dotted parts"));
  g_clear_pointer (&problem, g_free);
  g_assert_cmpint (parse (table->str, &problem), ==, CLI_STORE_SETTING_INVALID);
  g_assert_nonnull (strstr (problem, "dotted parts"));
  g_clear_pointer (&problem, g_free);
  {
    g_autoptr(CliLoginRules) rules = cli_config_parse_login_rules (key->str, key->len);
    g_autoptr(GError) error = NULL;
    g_autofree char *edited = cli_config_with_store_setting (key->str, key->len, "file", &error);

    g_assert_nonnull (strstr (rules->problem, "dotted parts"));
    g_assert_null (edited);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  }

  fine = g_strdup_printf ("a.b.c = 1.5\nurl = \"%s\"\nlit = '%s'\nml = \"\"\"\n%s\n\"\"\"\"\n"
                          "mll = '''%s''''\n# %s\nx = [1.0, 2.0, 3.0]\n"
                          "cli_auth_credentials_store = \"keyring\"\n",
                          many_dots, many_dots, many_dots, many_dots, many_dots);
  g_assert_cmpint (parse (fine, &problem), ==, CLI_STORE_SETTING_KEYRING);
  g_assert_null (problem);
  g_string_free (key, TRUE);
  g_string_free (table, TRUE);
}

static CliLoginRules *
rules_of (const char *text)
{
  return cli_config_parse_login_rules (text, strlen (text));
}

static void
test_login_rules (void)
{
  g_autoptr(CliLoginRules) none = rules_of ("model = \"o3\"\n[profiles.x]\nforced_login_method = \"api\"\n");
  g_autoptr(CliLoginRules) api = rules_of ("forced_login_method = 'api' # the administrator's\n");
  g_autoptr(CliLoginRules) one = rules_of ("forced_login_method = \"chatgpt\"\nforced_chatgpt_workspace_id = \"ws-1\"\n");
  g_autoptr(CliLoginRules) list = rules_of ("forced_chatgpt_workspace_id = [\"ws-1\", \"ws-2\"]\n");
  g_autoptr(CliLoginRules) empty = rules_of ("forced_chatgpt_workspace_id = []\n");
  g_autoptr(CliLoginRules) bad_method = rules_of ("forced_login_method = \"API\"\nforced_chatgpt_workspace_id = \"x\"\n");
  g_autoptr(CliLoginRules) bad_item = rules_of ("forced_chatgpt_workspace_id = [\"ws-1\", 2]\n");
  g_autoptr(CliLoginRules) bad_toml = rules_of ("forced_login_method = \"api\"\n[\n");

  g_assert_cmpint (none->method, ==, CLI_LOGIN_METHOD_ANY);
  g_assert_null (none->workspaces);
  g_assert_null (none->problem);
  g_assert_cmpint (api->method, ==, CLI_LOGIN_METHOD_API);
  g_assert_cmpint (one->method, ==, CLI_LOGIN_METHOD_CHATGPT);
  g_assert_cmpstrv (one->workspaces, ((const char *const[]) { "ws-1", NULL }));
  g_assert_cmpstrv (list->workspaces, ((const char *const[]) { "ws-1", "ws-2", NULL }));
  g_assert_null (empty->workspaces);
  g_assert_null (empty->problem);
  /* Unusable rules restrict nothing by themselves: the problem refuses. */
  g_assert_nonnull (strstr (bad_method->problem, "\"API\""));
  g_assert_cmpint (bad_method->method, ==, CLI_LOGIN_METHOD_ANY);
  g_assert_null (bad_method->workspaces);
  g_assert_nonnull (strstr (bad_item->problem, "not a string"));
  g_assert_null (bad_item->workspaces);
  g_assert_nonnull (strstr (bad_toml->problem, "not valid TOML"));
  g_assert_cmpint (bad_toml->method, ==, CLI_LOGIN_METHOD_ANY);
}

static void
test_parse_problems (void)
{
  g_autofree char *problem = NULL;

  g_assert_cmpint (parse ("cli_auth_credentials_store = \"in-memory\"\n", &problem), ==,
                   CLI_STORE_SETTING_INVALID);
  g_assert_nonnull (strstr (problem, "\"in-memory\""));
  g_clear_pointer (&problem, g_free);

  g_assert_cmpint (parse ("cli_auth_credentials_store = 1\n", &problem), ==, CLI_STORE_SETTING_INVALID);
  g_assert_nonnull (strstr (problem, "not a string"));
  g_clear_pointer (&problem, g_free);

  /* A syntax error, named with its place; a hand-written reader would
   * accept the first line and miss the second. */
  g_assert_cmpint (parse ("cli_auth_credentials_store = \"keyring\"\nmodel = [\n", &problem), ==,
                   CLI_STORE_SETTING_INVALID);
  g_assert_nonnull (strstr (problem, "not valid TOML"));
  g_assert_nonnull (strstr (problem, "line 2"));
  g_clear_pointer (&problem, g_free);

  /* A key defined twice is invalid TOML. */
  g_assert_cmpint (parse ("cli_auth_credentials_store = \"file\"\ncli_auth_credentials_store = \"keyring\"\n",
                          &problem), ==, CLI_STORE_SETTING_INVALID);
  g_clear_pointer (&problem, g_free);

  /* Bytes that are not UTF-8, and an embedded NUL. */
  g_assert_cmpint (parse ("model = \"\xff\"\n", &problem), ==, CLI_STORE_SETTING_INVALID);
  g_clear_pointer (&problem, g_free);
  g_assert_cmpint (cli_config_parse_store_setting ("a = 1\0b = 2", 11, &problem), ==,
                   CLI_STORE_SETTING_INVALID);
}

static void
check_edit (const char *before, const char *value, const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *after = cli_config_with_store_setting (before, strlen (before), value, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (after, ==, expected);
}

static void
test_edit_in_place (void)
{
  /* Comments, spacing, quoting of other keys and tables stay as they are. */
  check_edit ("# my settings\nmodel = 'o3'   # fast\ncli_auth_credentials_store = \"file\"  # later: keyring\n"
              "\n[profiles.work]\nmodel = \"gpt\"\n",
              "keyring",
              "# my settings\nmodel = 'o3'   # fast\ncli_auth_credentials_store = \"keyring\"  # later: keyring\n"
              "\n[profiles.work]\nmodel = \"gpt\"\n");
  /* A literal string, a quoted key, CRLF line ends, non-ASCII before it. */
  check_edit ("name = \"Zoë Ångström\"\r\n\"cli_auth_credentials_store\"='keyring'\r\n", "file",
              "name = \"Zoë Ångström\"\r\n\"cli_auth_credentials_store\"=\"file\"\r\n");
  /* toml++ counts columns in characters: a value with non-ASCII in it
   * ends where its characters end, not its bytes. */
  check_edit ("cli_auth_credentials_store = \"kéÿrïng\" # ü\n", "keyring",
              "cli_auth_credentials_store = \"keyring\" # ü\n");
}

static void
test_edit_adds_key (void)
{
  check_edit ("", "keyring", "cli_auth_credentials_store = \"keyring\"\n");
  /* Before the first table, so that it stays a top-level key. */
  check_edit ("[tui]\nnotifications = true\n", "auto",
              "cli_auth_credentials_store = \"auto\"\n[tui]\nnotifications = true\n");
  check_edit ("\xEF\xBB\xBFmodel = \"o3\"\n", "file",
              "\xEF\xBB\xBF" "cli_auth_credentials_store = \"file\"\nmodel = \"o3\"\n");
  /* A multi-line value is replaced whole. */
  check_edit ("cli_auth_credentials_store = \"\"\"\nfile\"\"\"\nx = 1\n", "keyring",
              "cli_auth_credentials_store = \"keyring\"\nx = 1\n");
}

static void
test_edit_refuses_invalid (void)
{
  g_autoptr(GError) error = NULL;
  const char *bad = "model = [\ncli_auth_credentials_store = \"file\"\n";

  g_assert_null (cli_config_with_store_setting (bad, strlen (bad), "keyring", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

static char *
read_file (const char *path)
{
  char *data = NULL;

  g_assert_true (g_file_get_contents (path, &data, NULL, NULL));
  return data;
}

static void
test_files (void)
{
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *home = g_build_filename (dir, "codex", NULL);
  g_autofree char *path = g_build_filename (home, "config.toml", NULL);
  g_autofree char *target = g_build_filename (dir, "dotfiles-config.toml", NULL);
  g_autofree char *problem = NULL;
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  /* No directory, no file: the default; writing creates both. */
  g_assert_cmpint (cli_config_read_store_setting (home, &problem), ==, CLI_STORE_SETTING_DEFAULT);
  g_assert_null (problem);
  g_assert_true (cli_config_write_store_setting (home, "keyring", &error));
  g_assert_no_error (error);
  g_assert_cmpint (cli_config_read_store_setting (home, NULL), ==, CLI_STORE_SETTING_KEYRING);

  /* A link to a file elsewhere stays a link; the mode is kept. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_true (g_file_set_contents (target, "# mine\nmodel = \"o3\"\n", -1, NULL));
  g_assert_cmpint (g_chmod (target, 0644), ==, 0);
  g_assert_cmpint (symlink (target, path), ==, 0);
  g_assert_true (cli_config_write_store_setting (home, "file", &error));
  g_assert_no_error (error);
  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));
  data = read_file (target);
  g_assert_cmpstr (data, ==, "cli_auth_credentials_store = \"file\"\n# mine\nmodel = \"o3\"\n");
  g_clear_pointer (&data, g_free);
  g_assert_cmpint (stat (target, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0644);
  g_assert_cmpint (cli_config_read_store_setting (home, NULL), ==, CLI_STORE_SETTING_FILE);

  /* A file that does not parse is reported, and left alone. */
  g_assert_true (g_file_set_contents (target, "model = [\n", -1, NULL));
  g_assert_cmpint (cli_config_read_store_setting (home, &problem), ==, CLI_STORE_SETTING_INVALID);
  g_assert_nonnull (strstr (problem, "config.toml"));
  g_assert_false (cli_config_write_store_setting (home, "keyring", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "not changing it"));
  data = read_file (target);
  g_assert_cmpstr (data, ==, "model = [\n");
  test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli-config/parse/values", test_parse_values);
  g_test_add_func ("/cli-config/parse/problems", test_parse_problems);
  g_test_add_func ("/cli-config/parse/login-rules", test_login_rules);
  g_test_add_func ("/cli-config/parse/dotted-key-bound", test_dotted_key_bound);
  g_test_add_func ("/cli-config/edit/in-place", test_edit_in_place);
  g_test_add_func ("/cli-config/edit/adds-key", test_edit_adds_key);
  g_test_add_func ("/cli-config/edit/refuses-invalid", test_edit_refuses_invalid);
  g_test_add_func ("/cli-config/files", test_files);
  return g_test_run ();
}
