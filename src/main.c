/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "auth-backend.h"
#include "auth-bus.h"
#include "auth-manager.h"
#include "bus-glib.h"
#include "bus-name.h"
#include "daemon-config.h"
#include "daemon-log.h"
#include "login-manager.h"
#include "poison-record.h"
#include "rescue-record.h"

typedef struct {
  GMainLoop *loop;
  int exit_status;
  AuthManager *manager;
  AuthBus *auth_bus;
  LoginManager *login;
  BusName *name;
  guint bus_source_id;
} Daemon;

static void
daemon_quit (int status, gpointer user_data)
{
  Daemon *d = user_data;

  if (d->exit_status == EXIT_SUCCESS)
    d->exit_status = status;
  g_main_loop_quit (d->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  g_message ("Terminating on signal");
  daemon_quit (EXIT_SUCCESS, user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_bus_error (int error, gpointer user_data)
{
  Daemon *d = user_data;

  d->bus_source_id = 0; /* the source removes itself */
  /* The session ended (or its bus died): nothing is left to serve, and
   * this is no failure to restart from. */
  g_message ("The session bus connection ended (%s), exiting", g_strerror (-error));
  daemon_quit (EXIT_SUCCESS, d);
}

static gint64
last_activity (gpointer user_data)
{
  Daemon *d = user_data;

  if (auth_manager_is_busy (d->manager) || login_manager_is_busy (d->login))
    return -1;
  return auth_bus_get_last_activity (d->auth_bus);
}

/* The name is requested once the credentials were read the first time, so
 * that the first caller gets a real answer. */
static void
on_manager_changed (AuthManager *manager, gpointer user_data)
{
  Daemon *d = user_data;

  if (auth_manager_is_loaded (manager))
    bus_name_request (d->name);
}

/* Test hooks (tests/README.md): environment variables that no user sets. */
static void
set_test_hooks (AuthManager *manager)
{
  const char *window = g_getenv ("CODEX_AUTHD_TEST_RECENT_REFRESH_MS");
  guint64 ms;

  if (window != NULL && g_ascii_string_to_unsigned (window, 10, 0, 3600 * 1000, &ms, NULL))
    {
      g_message ("Test hook: a refresh satisfies forced refreshes for %" G_GUINT64_FORMAT " ms", ms);
      auth_manager_set_recent_refresh_window (manager, (gint64) ms * 1000);
    }
}

/* Parses the command line into @options; returns -1 to go on, else the exit
 * status. */
static int
parse_command_line (int *argc, char ***argv, DaemonOptions *options, gboolean *replace)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  static char *config_path, *store, *codex_home, *token_url, *request_timeout, *idle_timeout, *issuer,
    *revoke_url;
  static gboolean verbose, version, no_idle_exit;
  const GOptionEntry entries[] = {
    { "replace", 'r', 0, G_OPTION_ARG_NONE, replace, "Replace a running instance", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { "codex-home", 0, 0, G_OPTION_ARG_FILENAME, &codex_home,
      "Codex home directory holding auth.json (default: $CODEX_HOME, else ~/.codex)", "DIR" },
    { "token-url", 0, 0, G_OPTION_ARG_STRING, &token_url,
      "Token endpoint (default: $CODEX_REFRESH_TOKEN_URL_OVERRIDE, else " TOKEN_DEFAULT_URL ")", "URL" },
    { "issuer", 0, 0, G_OPTION_ARG_STRING, &issuer,
      "ChatGPT sign-in issuer (default: $CODEX_AUTHD_ISSUER, else " LOGIN_DEFAULT_ISSUER ")", "URL" },
    { "revoke-url", 0, 0, G_OPTION_ARG_STRING, &revoke_url,
      "Where logout revokes the tokens (default: $CODEX_REVOKE_TOKEN_URL_OVERRIDE, else /oauth/revoke "
      "beside the token URL or below the issuer)", "URL" },
    { "request-timeout", 0, 0, G_OPTION_ARG_STRING, &request_timeout,
      "Seconds a token request may take, connecting included (default 30)", "SECONDS" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_STRING, &idle_timeout,
      "Exit after this many seconds without calls (default 0: never; the service stays for the session)", "SECONDS" },
    { "no-idle-exit", 0, 0, G_OPTION_ARG_NONE, &no_idle_exit, "Never exit when idle (development)", NULL },
    { "store", 0, 0, G_OPTION_ARG_STRING, &store,
      "Where the credentials are: auto (default), secret-service or file", "STORE" },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
      "Configuration file (default: $XDG_CONFIG_HOME/codex-authd/codex-authd.conf)", "FILE" },
    { NULL }
  };

  g_option_context_set_summary (context, "Codex credential broker: serves " CODEX_AUTH_BUS_NAME
                                         " on the session bus.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("%s\nRun '%s --help' for the options.\n", error->message, g_get_prgname ());
      return 2;
    }
  if (*argc > 1)
    {
      g_printerr ("Unexpected argument \"%s\"\nRun '%s --help' for the options.\n", (*argv)[1], g_get_prgname ());
      return 2;
    }
  if (version)
    {
      printf ("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  /* g_log_writer_default() writes to the journal when stderr is connected
   * to it (under systemd) and to the console otherwise. */
  if (verbose)
    g_log_set_debug_enabled (TRUE);
  *options = (DaemonOptions) {
    .config_path = config_path,
    .store = store,
    .codex_home = codex_home,
    .token_url = token_url,
    .request_timeout = request_timeout,
    .idle_timeout = idle_timeout,
    .no_idle_exit = no_idle_exit,
    .issuer = issuer,
    .revoke_url = revoke_url,
  };
  return -1;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_auto(DaemonSettings) settings = { 0 };
  g_autoptr(AuthManager) manager = NULL;
  g_autoptr(AuthBus) auth_bus = NULL;
  g_autoptr(LoginManager) login = NULL;
  g_autoptr(TokenClient) http = NULL;
  LoginSettings login_settings = { 0 };
  g_autoptr(BusName) name = NULL;
  g_autofree char *poison_path = NULL;
  g_autofree char *rescue_path = NULL;
  DaemonOptions options = { 0 };
  AuthBackend *backend;
  gboolean replace = FALSE;
  sd_bus *bus = NULL;
  Daemon d = { .exit_status = EXIT_SUCCESS };
  int r;

  /* 0. Tokens live in this process's memory: no core dump may carry them,
   * and no other process of the user may ptrace it to read them. */
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    g_warning ("Cannot make the process non-dumpable: %s, ignoring", g_strerror (errno));
  setlocale (LC_ALL, "");
  daemon_log_init ();
  /* 1. The command line, then every setting decided. */
  r = parse_command_line (&argc, &argv, &options, &replace);
  if (r >= 0)
    return r;
  if (!daemon_settings_resolve (&settings, &options, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  /* 2. The stores, the token endpoint, the refresh state machine. */
  poison_path = poison_record_default_path ();
  rescue_path = rescue_record_default_path ();
  http = token_client_new (settings.token_url, (guint) settings.request_timeout, &error);
  if (http == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  backend = auth_backend_new_real (settings.codex_home, settings.store_mode, http, poison_path, rescue_path);
  manager = auth_manager_new (backend);
  set_test_hooks (manager);
  login_settings = (LoginSettings) {
    .issuer = settings.issuer,
    .revoke_url = settings.revoke_url,
    .revoke = settings.revoke,
    .workspaces = settings.workspaces,
    .n_ports = settings.n_login_ports,
    .browser_timeout = (guint) settings.browser_login_timeout,
    .device_timeout = (guint) settings.device_login_timeout,
  };
  memcpy (login_settings.ports, settings.login_ports, sizeof login_settings.ports);
  login = login_manager_new (manager, http, &login_settings);
  g_debug ("Store: %s; Codex home: %s; token endpoint: %s; issuer: %s; revoke endpoint: %s%s; "
           "request timeout: %d s; idle timeout: %d s; poison record: %s",
           store_mode_to_string (settings.store_mode), settings.codex_home, settings.token_url, settings.issuer,
           settings.revoke_url, settings.revoke ? "" : " (revocation off)", settings.request_timeout,
           settings.idle_timeout, poison_path);

  /* 3. The session bus, dispatched from the main loop. */
  r = sd_bus_open_user (&bus);
  if (r < 0)
    {
      g_printerr ("Cannot connect to the session bus: %s (is DBUS_SESSION_BUS_ADDRESS set?)\n",
                  g_strerror (-r));
      return EXIT_FAILURE;
    }
  (void) sd_bus_set_description (bus, PACKAGE_NAME);
  d.loop = g_main_loop_new (NULL, FALSE);
  d.bus_source_id = bus_glib_attach (bus, NULL, on_bus_error, &d);
  g_unix_signal_add (SIGTERM, on_signal, &d);
  g_unix_signal_add (SIGINT, on_signal, &d);

  /* 4. The object, then the name once the credentials were read. */
  auth_bus = auth_bus_new (bus, manager, login, &error);
  if (auth_bus == NULL)
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  d.manager = manager;
  d.auth_bus = auth_bus;
  d.login = login;
  name = bus_name_new (bus, CODEX_AUTH_BUS_NAME, replace, settings.idle_timeout, last_activity, daemon_quit, &d);
  d.name = name;
  g_signal_connect (manager, "changed", G_CALLBACK (on_manager_changed), &d);
  if (!auth_manager_start (manager, &error))
    {
      g_printerr ("Cannot watch %s: %s\n", settings.codex_home, error->message);
      return EXIT_FAILURE;
    }

  /* 5. Serve until a signal, the bus, the idle exit or a replacement ends it. */
  g_main_loop_run (d.loop);

  /* 6. Finish what is in progress, then close. */
  g_signal_handlers_disconnect_by_data (manager, &d);
  login_manager_stop (login);
  auth_manager_stop (manager);
  g_clear_pointer (&name, bus_name_free);
  g_clear_pointer (&auth_bus, auth_bus_free);
  g_clear_object (&login);
  g_clear_handle_id (&d.bus_source_id, g_source_remove);
  /* Sends what is still queued (replies, signals) before closing. */
  sd_bus_flush_close_unref (bus);
  g_main_loop_unref (d.loop);
  return d.exit_status;
}
