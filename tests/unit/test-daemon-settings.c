/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's settings: precedence (command line, then the configuration
 * file, then the environment, then the defaults), derived defaults, every
 * error naming where it came from, and the one table seen everywhere a
 * user meets it: --help, the configuration file, the environment and the
 * man pages. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "daemon-settings.h"
#include "test-helpers.h"

typedef struct {
  char *dir;
  char *conf;
} Fixture;

static void
unset_environment (void)
{
  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    g_unsetenv (daemon_setting_info (i)->env);
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  fx->dir = test_make_tmpdir ();
  fx->conf = g_build_filename (fx->dir, "codex-authd.conf", NULL);
  unset_environment ();
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  test_remove_tree (fx->dir);
  g_free (fx->dir);
  g_free (fx->conf);
  unset_environment ();
}

static void
write_conf (Fixture *fx, const char *text)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (fx->conf, text, -1, &error));
  g_assert_no_error (error);
}

/* Parses the command line "codex-authd --config CONF ARGS..." (@args:
 * NULL-terminated) and resolves the settings. */
static gboolean
resolve_with (Fixture *fx, DaemonSettings *s, GError **error, const char *first_arg, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(DaemonOptions) options = daemon_options_new ();
  g_autoptr(GOptionContext) context = daemon_options_context (options);
  g_autofree char **args = NULL;
  int argc;
  va_list ap;

  g_ptr_array_add (argv, g_strdup ("codex-authd"));
  g_ptr_array_add (argv, g_strdup_printf ("--config=%s", fx->conf));
  va_start (ap, first_arg);
  for (const char *a = first_arg; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, g_strdup (a));
  va_end (ap);
  argc = (int) argv->len;
  args = g_new0 (char *, argv->len + 1);
  memcpy (args, argv->pdata, argv->len * sizeof (char *));
  {
    char **parsed = args;
    g_assert_true (g_option_context_parse (context, &argc, &parsed, error));
  }
  return daemon_settings_resolve (s, options, error);
}

static void
test_defaults (Fixture *fx, gconstpointer data)
{
  g_auto(DaemonSettings) s = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *home = g_build_filename (g_get_home_dir (), ".codex", NULL);

  /* No file at all is fine. */
  g_assert_true (resolve_with (fx, &s, &error, NULL));
  g_assert_no_error (error);
  g_assert_cmpint (s.store, ==, STORE_SETTING_AUTO);
  g_assert_cmpstr (s.codex_home, ==, home);
  g_assert_cmpstr (s.token_url, ==, ISSUER_DEFAULT_TOKEN_URL);
  g_assert_cmpint (s.request_timeout, ==, 30);
  g_assert_cmpint (s.idle_timeout, ==, 0);
  g_assert_cmpstr (s.config_path, ==, fx->conf);
  g_assert_cmpstr (s.issuer, ==, "https://auth.openai.com");
  g_assert_cmpstr (s.revoke_url, ==, "https://auth.openai.com/oauth/revoke");
  g_assert_true (s.revoke);
  g_assert_null (s.allowed_workspaces);
  g_assert_cmpuint (s.login_ports.n, ==, 2);
  g_assert_cmpuint (s.login_ports.ports[0], ==, 1455);
  g_assert_cmpuint (s.login_ports.ports[1], ==, 1457);
  g_assert_cmpint (s.browser_login_timeout, ==, 600);
  g_assert_cmpint (s.device_login_timeout, ==, 900);
  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    g_assert_cmpint (s.source[i], ==, SETTING_FROM_DEFAULT);
}

/* The sign-in settings: the issuer and the revoke URL from each place,
 * the revoke URL beside a configured token URL, the lists. */
static void
test_signin_settings (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_setenv ("CODEX_AUTHD_ISSUER", "http://127.0.0.1:9/env-issuer", TRUE);
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (resolve_with (fx, &s, &error, NULL));
    g_assert_cmpstr (s.issuer, ==, "http://127.0.0.1:9/env-issuer");
    g_assert_cmpstr (s.revoke_url, ==, "http://127.0.0.1:9/env-issuer/oauth/revoke");
  }
  /* Beside the token URL, as the Codex CLI derives it. */
  g_setenv ("CODEX_REFRESH_TOKEN_URL_OVERRIDE", "http://127.0.0.1:8/custom/token?x=1", TRUE);
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (resolve_with (fx, &s, &error, NULL));
    g_assert_cmpstr (s.revoke_url, ==, "http://127.0.0.1:8/oauth/revoke");
  }
  g_setenv ("CODEX_REVOKE_TOKEN_URL_OVERRIDE", "http://127.0.0.1:7/env-revoke", TRUE);
  write_conf (fx, "[daemon]\nissuer=https://issuer.example\nrevoke=false\nallowed-workspaces=ws-1, ws-2\n"
                  "login-ports=2000,2002;2004\nbrowser-login-timeout=60\ndevice-login-timeout=30\n");
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (resolve_with (fx, &s, &error, NULL));
    g_assert_no_error (error);
    g_assert_cmpstr (s.issuer, ==, "https://issuer.example");
    g_assert_cmpstr (s.revoke_url, ==, "http://127.0.0.1:7/env-revoke");
    g_assert_false (s.revoke);
    g_assert_cmpuint (g_strv_length (s.allowed_workspaces), ==, 2);
    g_assert_cmpstr (s.allowed_workspaces[1], ==, "ws-2");
    g_assert_cmpuint (s.login_ports.n, ==, 3);
    g_assert_cmpuint (s.login_ports.ports[2], ==, 2004);
    g_assert_cmpint (s.browser_login_timeout, ==, 60);
    g_assert_cmpint (s.device_login_timeout, ==, 30);
  }
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (resolve_with (fx, &s, &error, "--issuer", "http://localhost:6", "--revoke-url",
                                 "https://revoke.example/r", NULL));
    g_assert_cmpstr (s.issuer, ==, "http://localhost:6");
    g_assert_cmpstr (s.revoke_url, ==, "https://revoke.example/r");
  }
}

static void
test_precedence (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_setenv ("CODEX_HOME", "/env/codex", TRUE);
  g_setenv ("CODEX_REFRESH_TOKEN_URL_OVERRIDE", "http://127.0.0.1:1/env", TRUE);
  /* An empty variable counts as unset. */
  g_setenv ("CODEX_AUTHD_STORE", "", TRUE);

  /* The environment, when neither the file nor the command line says. */
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (resolve_with (fx, &s, &error, NULL));
    g_assert_cmpstr (s.codex_home, ==, "/env/codex");
    g_assert_cmpstr (s.token_url, ==, "http://127.0.0.1:1/env");
    g_assert_cmpint (s.source[SETTING_codex_home], ==, SETTING_FROM_ENVIRONMENT);
    g_assert_cmpint (s.source[SETTING_store], ==, SETTING_FROM_DEFAULT);
  }

  /* The file beats the environment. */
  write_conf (fx, "[daemon]\nstore=file\ncodex-home=/file/codex\ntoken-url=http://127.0.0.1:1/file\n"
                  "request-timeout=5\nidle-timeout=300\n");
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (resolve_with (fx, &s, &error, NULL));
    g_assert_no_error (error);
    g_assert_cmpint (s.store, ==, STORE_SETTING_FILE);
    g_assert_cmpstr (s.codex_home, ==, "/file/codex");
    g_assert_cmpstr (s.token_url, ==, "http://127.0.0.1:1/file");
    g_assert_cmpint (s.request_timeout, ==, 5);
    g_assert_cmpint (s.idle_timeout, ==, 300);
    g_assert_cmpint (s.source[SETTING_codex_home], ==, SETTING_FROM_CONFIG_FILE);
  }

  /* The command line beats both; --no-idle-exit beats any idle timeout. */
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (resolve_with (fx, &s, &error, "--store", "secret-service", "--codex-home", "/cli/./codex/",
                                 "--token-url", "http://127.0.0.1:1/cli", "--request-timeout", "7",
                                 "--idle-timeout", "9", NULL));
    g_assert_cmpint (s.store, ==, STORE_SETTING_SECRET_SERVICE);
    g_assert_cmpstr (s.codex_home, ==, "/cli/codex");
    g_assert_cmpstr (s.token_url, ==, "http://127.0.0.1:1/cli");
    g_assert_cmpint (s.request_timeout, ==, 7);
    g_assert_cmpint (s.idle_timeout, ==, 9);
    g_assert_cmpint (s.source[SETTING_codex_home], ==, SETTING_FROM_COMMAND_LINE);
  }
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (resolve_with (fx, &s, &error, "--idle-timeout", "9", "--no-idle-exit", NULL));
    g_assert_cmpint (s.idle_timeout, ==, 0);
  }
}

static void
test_relative_codex_home (Fixture *fx, gconstpointer data)
{
  g_auto(DaemonSettings) s = { 0 };
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *expected = g_build_filename (cwd, "rel", "codex", NULL);

  g_assert_true (resolve_with (fx, &s, NULL, "--codex-home", "rel/codex", NULL));
  g_assert_cmpstr (s.codex_home, ==, expected);
}

/* Each bad input fails, and the message names where it came from. */
static void
test_errors (Fixture *fx, gconstpointer data)
{
  static const struct {
    const char *file;   /* NULL: no file */
    const char *option; /* NULL: none */
    const char *value;
    const char *env;    /* NULL: none; else set to value */
    const char *expected;
  } cases[] = {
    { "[daemon]\nstore=cloud\n", NULL, NULL, NULL, "store must be auto, secret-service or file" },
    { "[daemon]\ncolour=blue\n", NULL, NULL, NULL, "unknown key \"colour\"" },
    { "[other]\nstore=file\n", NULL, NULL, NULL, "unknown group [other]" },
    { "[daemon]\ncodex-home=relative\n", NULL, NULL, NULL, "must be an absolute path" },
    { "[daemon]\ntoken-url=\n", NULL, NULL, NULL, "token-url is empty" },
    { "[daemon]\nrequest-timeout=0\n", NULL, NULL, NULL, "from 1 to 600" },
    { "[daemon]\nidle-timeout=-1\n", NULL, NULL, NULL, "from 0 to 86400" },
    { "not a key file", NULL, NULL, NULL, "codex-authd.conf" },
    { "[daemon]\nissuer=http://example.com\n", NULL, NULL, NULL, "only https://, or http:// to a loopback" },
    { "[daemon]\nrevoke-url=ftp://x\n", NULL, NULL, NULL, "revoke-url" },
    { "[daemon]\nrevoke=maybe\n", NULL, NULL, NULL, "revoke must be true or false" },
    { "[daemon]\nlogin-ports=0\n", NULL, NULL, NULL, "login-ports must be" },
    { "[daemon]\nlogin-ports=1,2,3,4,5,6,7,8,9\n", NULL, NULL, NULL, "login-ports must be" },
    { "[daemon]\nlocal-token-endpoint=example.com:1458\n", NULL, NULL, NULL, "local-token-endpoint must be" },
    { "[daemon]\nlocal-token-endpoint=localhost:99999\n", NULL, NULL, NULL, "local-token-endpoint must be" },
    { "[daemon]\nlocal-token-endpoint=localhost\n", NULL, NULL, NULL, "local-token-endpoint must be" },
    { "[daemon]\nallowed-workspaces=,\n", NULL, NULL, NULL, "allowed-workspaces is empty" },
    { "[daemon]\ndevice-login-timeout=5\n", NULL, NULL, NULL, "from 10 to 3600" },
    { NULL, "--store", "cloud", NULL, "--store must be" },
    { NULL, "--request-timeout", "601", NULL, "--request-timeout must be" },
    { NULL, "--idle-timeout", "soon", NULL, "--idle-timeout must be" },
    { NULL, NULL, "soon", "CODEX_AUTHD_REQUEST_TIMEOUT", "$CODEX_AUTHD_REQUEST_TIMEOUT: request-timeout must be" },
    { NULL, NULL, "http://example.com/t", "CODEX_REFRESH_TOKEN_URL_OVERRIDE",
      "$CODEX_REFRESH_TOKEN_URL_OVERRIDE: token-url:" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(DaemonSettings) s = { 0 };
      g_autoptr(GError) error = NULL;

      unset_environment ();
      g_remove (fx->conf);
      if (cases[i].file != NULL)
        write_conf (fx, cases[i].file);
      if (cases[i].env != NULL)
        g_setenv (cases[i].env, cases[i].value, TRUE);
      g_assert_false (resolve_with (fx, &s, &error, cases[i].option, cases[i].value, NULL));
      g_assert_nonnull (error);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].expected));
      if (cases[i].file != NULL)
        g_assert_nonnull (strstr (error->message, fx->conf));
      g_assert_null (s.codex_home);
    }
}

/* A value for setting @i that differs from its default and passes its
 * parser. */
static const char *
sample_value (guint i)
{
  static const char *const samples[N_DAEMON_SETTINGS] = {
    [SETTING_store] = "file",
    [SETTING_codex_home] = "/sample/codex",
    [SETTING_token_url] = "http://127.0.0.1:9/token",
    [SETTING_issuer] = "http://127.0.0.1:9",
    [SETTING_revoke_url] = "http://127.0.0.1:9/revoke",
    [SETTING_revoke] = "false",
    [SETTING_request_timeout] = "9",
    [SETTING_idle_timeout] = "90",
    [SETTING_allowed_workspaces] = "ws-sample",
    [SETTING_login_ports] = "4000",
    [SETTING_browser_login_timeout] = "99",
    [SETTING_device_login_timeout] = "98",
    [SETTING_local_token_endpoint] = "[::1]:4001",
  };

  g_assert_nonnull (samples[i]);
  return samples[i];
}

static char *
read_source_file (const char *relative)
{
  const char *root = g_getenv ("CODEX_AUTHD_SOURCE_ROOT");
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_assert_nonnull (root);
  path = g_build_filename (root, relative, NULL);
  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

/* roff escapes the dashes of option names. */
static gboolean
roff_mentions (const char *page, const char *word)
{
  g_autoptr(GString) escaped = g_string_new (NULL);

  for (const char *p = word; *p != '\0'; p++)
    {
      if (*p == '-')
        g_string_append (escaped, "\\-");
      else if (*p == '_')
        g_string_append (escaped, "_");
      else
        g_string_append_c (escaped, *p);
    }
  return strstr (page, escaped->str) != NULL || strstr (page, word) != NULL;
}

/* Every row of the table is an option in --help, a key of the
 * configuration file and an environment variable that work, and the man
 * pages list all three. */
static void
test_table_everywhere (Fixture *fx, gconstpointer data)
{
  g_autoptr(DaemonOptions) options = daemon_options_new ();
  g_autoptr(GOptionContext) context = daemon_options_context (options);
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
  g_autofree char *daemon_page = read_source_file ("data/codex-authd.8");
  g_autofree char *conf_page = read_source_file ("data/codex-authd.conf.5");

  for (guint i = 0; i < N_DAEMON_SETTINGS; i++)
    {
      const DaemonSettingInfo *info = daemon_setting_info (i);
      g_autofree char *option = g_strdup_printf ("--%s=", info->name);
      g_autofree char *dollar_env = g_strdup_printf ("$%s", info->env);
      g_autofree char *conf_text = g_strdup_printf ("[daemon]\n%s=%s\n", info->name, sample_value (i));
      g_autofree char *key = g_strdup_printf ("%s=", info->name);
      g_autoptr(GError) error = NULL;

      g_test_message ("setting %s", info->name);
      /* --help */
      g_assert_nonnull (strstr (help, option));
      g_assert_nonnull (strstr (help, dollar_env));
      /* The environment. */
      unset_environment ();
      g_remove (fx->conf);
      g_setenv (info->env, sample_value (i), TRUE);
      {
        g_auto(DaemonSettings) s = { 0 };

        g_assert_true (resolve_with (fx, &s, &error, NULL));
        g_assert_no_error (error);
        g_assert_cmpint (s.source[i], ==, SETTING_FROM_ENVIRONMENT);
      }
      /* The configuration file wins over it. */
      write_conf (fx, conf_text);
      {
        g_auto(DaemonSettings) s = { 0 };

        g_assert_true (resolve_with (fx, &s, &error, NULL));
        g_assert_no_error (error);
        g_assert_cmpint (s.source[i], ==, SETTING_FROM_CONFIG_FILE);
      }
      /* The command line wins over both. */
      {
        g_auto(DaemonSettings) s = { 0 };
        g_autofree char *arg = g_strdup_printf ("--%s=%s", info->name, sample_value (i));

        g_assert_true (resolve_with (fx, &s, &error, arg, NULL));
        g_assert_no_error (error);
        g_assert_cmpint (s.source[i], ==, SETTING_FROM_COMMAND_LINE);
      }
      unset_environment ();
      /* The man pages. */
      if (!roff_mentions (daemon_page, option) || !roff_mentions (daemon_page, info->env))
        g_error ("codex-authd(8) does not list --%s or $%s", info->name, info->env);
      if (!roff_mentions (conf_page, key))
        g_error ("codex-authd.conf(5) does not list %s", key);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/settings/defaults", Fixture, NULL, fixture_setup, test_defaults, fixture_teardown);
  g_test_add ("/settings/precedence", Fixture, NULL, fixture_setup, test_precedence, fixture_teardown);
  g_test_add ("/settings/relative-codex-home", Fixture, NULL, fixture_setup, test_relative_codex_home,
              fixture_teardown);
  g_test_add ("/settings/signin-settings", Fixture, NULL, fixture_setup, test_signin_settings, fixture_teardown);
  g_test_add ("/settings/errors", Fixture, NULL, fixture_setup, test_errors, fixture_teardown);
  g_test_add ("/settings/table-everywhere", Fixture, NULL, fixture_setup, test_table_everywhere,
              fixture_teardown);

  return g_test_run ();
}
