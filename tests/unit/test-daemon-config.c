/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Settings precedence: command line, then the configuration file, then the
 * environment, then the defaults; and the file's errors. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "daemon-config.h"
#include "test-helpers.h"
#include "token-client.h"

typedef struct {
  char *dir;
  char *conf;
} Fixture;

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  fx->dir = test_make_tmpdir ();
  fx->conf = g_build_filename (fx->dir, "codex-authd.conf", NULL);
  g_unsetenv ("CODEX_HOME");
  g_unsetenv ("CODEX_REFRESH_TOKEN_URL_OVERRIDE");
  g_unsetenv ("CODEX_AUTHD_ISSUER");
  g_unsetenv ("CODEX_REVOKE_TOKEN_URL_OVERRIDE");
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  test_remove_tree (fx->dir);
  g_free (fx->dir);
  g_free (fx->conf);
  g_unsetenv ("CODEX_HOME");
  g_unsetenv ("CODEX_REFRESH_TOKEN_URL_OVERRIDE");
}

static void
write_conf (Fixture *fx, const char *text)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (fx->conf, text, -1, &error));
  g_assert_no_error (error);
}

static void
test_defaults (Fixture *fx, gconstpointer data)
{
  DaemonOptions options = { .config_path = fx->conf };
  g_auto(DaemonSettings) s = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *home = g_build_filename (g_get_home_dir (), ".codex", NULL);

  /* No file at all is fine. */
  g_assert_true (daemon_settings_resolve (&s, &options, &error));
  g_assert_no_error (error);
  g_assert_cmpint (s.store_mode, ==, STORE_MODE_AUTO);
  g_assert_cmpstr (s.codex_home, ==, home);
  g_assert_cmpstr (s.token_url, ==, TOKEN_DEFAULT_URL);
  g_assert_cmpint (s.request_timeout, ==, DAEMON_DEFAULT_REQUEST_TIMEOUT);
  g_assert_cmpint (s.idle_timeout, ==, 0);
  g_assert_cmpstr (s.config_path, ==, fx->conf);
  g_assert_cmpstr (s.issuer, ==, "https://auth.openai.com");
  g_assert_cmpstr (s.revoke_url, ==, "https://auth.openai.com/oauth/revoke");
  g_assert_true (s.revoke);
  g_assert_null (s.workspaces);
  g_assert_cmpuint (s.n_login_ports, ==, 0);
  g_assert_cmpint (s.browser_login_timeout, ==, 600);
  g_assert_cmpint (s.device_login_timeout, ==, 900);
}

/* The sign-in settings: the issuer and the revoke URL from each place,
 * the revoke URL beside a configured token URL, the lists. */
static void
test_login_settings (Fixture *fx, gconstpointer data)
{
  DaemonOptions options = { .config_path = fx->conf };
  g_autoptr(GError) error = NULL;

  g_setenv ("CODEX_AUTHD_ISSUER", "http://127.0.0.1:9/env-issuer", TRUE);
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (daemon_settings_resolve (&s, &options, &error));
    g_assert_cmpstr (s.issuer, ==, "http://127.0.0.1:9/env-issuer");
    g_assert_cmpstr (s.revoke_url, ==, "http://127.0.0.1:9/env-issuer/oauth/revoke");
  }
  /* Beside the token URL, as the Codex CLI derives it. */
  g_setenv ("CODEX_REFRESH_TOKEN_URL_OVERRIDE", "http://127.0.0.1:8/custom/token?x=1", TRUE);
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (daemon_settings_resolve (&s, &options, &error));
    g_assert_cmpstr (s.revoke_url, ==, "http://127.0.0.1:8/oauth/revoke");
  }
  g_setenv ("CODEX_REVOKE_TOKEN_URL_OVERRIDE", "http://127.0.0.1:7/env-revoke", TRUE);
  write_conf (fx, "[daemon]\nissuer=https://issuer.example\nrevoke=false\nallowed-workspaces=ws-1, ws-2\n"
                  "login-ports=2000,2002;2004\nbrowser-login-timeout=60\ndevice-login-timeout=30\n");
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (daemon_settings_resolve (&s, &options, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (s.issuer, ==, "https://issuer.example");
    g_assert_cmpstr (s.revoke_url, ==, "http://127.0.0.1:7/env-revoke");
    g_assert_false (s.revoke);
    g_assert_cmpuint (g_strv_length (s.workspaces), ==, 2);
    g_assert_cmpstr (s.workspaces[1], ==, "ws-2");
    g_assert_cmpuint (s.n_login_ports, ==, 3);
    g_assert_cmpuint (s.login_ports[2], ==, 2004);
    g_assert_cmpint (s.browser_login_timeout, ==, 60);
    g_assert_cmpint (s.device_login_timeout, ==, 30);
  }
  options.issuer = "http://localhost:6";
  options.revoke_url = "https://revoke.example/r";
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (daemon_settings_resolve (&s, &options, &error));
    g_assert_cmpstr (s.issuer, ==, "http://localhost:6");
    g_assert_cmpstr (s.revoke_url, ==, "https://revoke.example/r");
  }
}

static void
test_precedence (Fixture *fx, gconstpointer data)
{
  DaemonOptions options = { .config_path = fx->conf };
  g_autoptr(GError) error = NULL;

  g_setenv ("CODEX_HOME", "/env/codex", TRUE);
  g_setenv ("CODEX_REFRESH_TOKEN_URL_OVERRIDE", "http://127.0.0.1:1/env", TRUE);

  /* The environment, when neither the file nor the command line says. */
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (daemon_settings_resolve (&s, &options, &error));
    g_assert_cmpstr (s.codex_home, ==, "/env/codex");
    g_assert_cmpstr (s.token_url, ==, "http://127.0.0.1:1/env");
  }

  /* The file beats the environment. */
  write_conf (fx, "[daemon]\nstore=file\ncodex-home=/file/codex\ntoken-url=http://127.0.0.1:1/file\n"
                  "request-timeout=5\nidle-timeout=300\n");
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (daemon_settings_resolve (&s, &options, &error));
    g_assert_no_error (error);
    g_assert_cmpint (s.store_mode, ==, STORE_MODE_FILE);
    g_assert_cmpstr (s.codex_home, ==, "/file/codex");
    g_assert_cmpstr (s.token_url, ==, "http://127.0.0.1:1/file");
    g_assert_cmpint (s.request_timeout, ==, 5);
    g_assert_cmpint (s.idle_timeout, ==, 300);
  }

  /* The command line beats both; --no-idle-exit beats any idle timeout. */
  options.store = "secret-service";
  options.codex_home = "/cli/./codex/";
  options.token_url = "http://127.0.0.1:1/cli";
  options.request_timeout = "7";
  options.idle_timeout = "9";
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (daemon_settings_resolve (&s, &options, &error));
    g_assert_cmpint (s.store_mode, ==, STORE_MODE_SECRET_SERVICE);
    g_assert_cmpstr (s.codex_home, ==, "/cli/codex");
    g_assert_cmpstr (s.token_url, ==, "http://127.0.0.1:1/cli");
    g_assert_cmpint (s.request_timeout, ==, 7);
    g_assert_cmpint (s.idle_timeout, ==, 9);
  }
  options.no_idle_exit = TRUE;
  {
    g_auto(DaemonSettings) s = { 0 };
    g_assert_true (daemon_settings_resolve (&s, &options, &error));
    g_assert_cmpint (s.idle_timeout, ==, 0);
  }
}

static void
test_relative_codex_home (Fixture *fx, gconstpointer data)
{
  DaemonOptions options = { .config_path = fx->conf, .codex_home = "rel/codex" };
  g_auto(DaemonSettings) s = { 0 };
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *expected = g_build_filename (cwd, "rel", "codex", NULL);

  g_assert_true (daemon_settings_resolve (&s, &options, NULL));
  g_assert_cmpstr (s.codex_home, ==, expected);
}

/* Each bad input fails, and the message names where it came from. */
static void
test_errors (Fixture *fx, gconstpointer data)
{
  static const struct {
    const char *file;   /* NULL: no file */
    const char *store;
    const char *request_timeout;
    const char *idle_timeout;
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
    { "[daemon]\nallowed-workspaces=,\n", NULL, NULL, NULL, "allowed-workspaces is empty" },
    { "[daemon]\ndevice-login-timeout=5\n", NULL, NULL, NULL, "from 10 to 3600" },
    { NULL, "cloud", NULL, NULL, "--store: store must be" },
    { NULL, NULL, "601", NULL, "--request-timeout must be" },
    { NULL, NULL, NULL, "soon", "--idle-timeout must be" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      DaemonOptions options = { .config_path = fx->conf, .store = cases[i].store,
                                .request_timeout = cases[i].request_timeout,
                                .idle_timeout = cases[i].idle_timeout };
      g_auto(DaemonSettings) s = { 0 };
      g_autoptr(GError) error = NULL;

      g_remove (fx->conf);
      if (cases[i].file != NULL)
        write_conf (fx, cases[i].file);
      g_assert_false (daemon_settings_resolve (&s, &options, &error));
      g_assert_nonnull (error);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].expected));
      if (cases[i].file != NULL)
        g_assert_nonnull (strstr (error->message, fx->conf));
      g_assert_null (s.codex_home);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/config/defaults", Fixture, NULL, fixture_setup, test_defaults, fixture_teardown);
  g_test_add ("/config/precedence", Fixture, NULL, fixture_setup, test_precedence, fixture_teardown);
  g_test_add ("/config/relative-codex-home", Fixture, NULL, fixture_setup, test_relative_codex_home,
              fixture_teardown);
  g_test_add ("/config/login-settings", Fixture, NULL, fixture_setup, test_login_settings, fixture_teardown);
  g_test_add ("/config/errors", Fixture, NULL, fixture_setup, test_errors, fixture_teardown);

  return g_test_run ();
}
