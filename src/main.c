/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codex-authd: the settings, the parts, the bus, then the main loop until
 * a signal, the bus, the idle exit or a replacement ends it. */
#define G_LOG_DOMAIN "codex-authd"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "auth-bus.h"
#include "auth-manager.h"
#include "bus-glib.h"
#include "bus-name.h"
#include "daemon-log.h"
#include "daemon-settings.h"
#include "local-endpoint.h"
#include "logout.h"
#include "poison-record.h"
#include "rescue-copy.h"
#include "signin-manager.h"

typedef struct {
  GMainLoop *loop;
  int exit_status;
  AuthManager *manager;
  SigninManager *signins;
  Revoker *revoker;
  AuthBus *auth_bus;
  LocalEndpoint *endpoint; /* NULL: off */
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

  if (auth_manager_is_busy (d->manager) || signin_manager_is_busy (d->signins) || logout_in_progress ())
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

/* Parses the command line and decides every setting; returns -1 to go on,
 * else the exit status. */
static int
read_settings (int *argc, char ***argv, DaemonSettings *settings, gboolean *replace)
{
  g_autoptr(DaemonOptions) options = daemon_options_new ();
  g_autoptr(GOptionContext) context = daemon_options_context (options);
  g_autoptr(GError) error = NULL;

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
  if (daemon_options_get_version (options))
    {
      printf ("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  /* g_log_writer_default() writes to the journal when stderr is connected
   * to it (under systemd) and to the console otherwise. */
  if (daemon_options_get_verbose (options))
    g_log_set_debug_enabled (TRUE);
  if (!daemon_settings_resolve (settings, options, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (daemon_options_get_print_settings (options))
    {
      g_autofree char *text = daemon_settings_describe (settings);

      printf ("%s", text);
      return EXIT_SUCCESS;
    }
  *replace = daemon_options_get_replace (options);
  return -1;
}

/* The daemon's own upstream: never its own local endpoint (the session's
 * environment points Codex processes, and so perhaps this daemon, there). */
static const char *
upstream (Daemon *d, const char *url, const char *fallback, const char *what)
{
  if (d->endpoint == NULL || url == NULL || !local_endpoint_is_self (d->endpoint, url))
    return url;
  g_message ("The %s %s is this daemon's own local endpoint: using %s instead", what, url,
             fallback != NULL ? fallback : "none");
  return fallback;
}

/* The stores, the token endpoint, the refresh state machine, sign-ins,
 * the local endpoint. */
static void
build_parts (Daemon *d, const DaemonSettings *s)
{
  g_autoptr(HttpClient) http = http_client_new ((guint) s->request_timeout);
  g_autofree char *poison_path = poison_record_default_path ();
  g_autofree char *rescue_path = rescue_copy_default_path ();
  g_autofree char *volatile_rescue_path = rescue_copy_runtime_path ();
  AuthLock *lock = auth_lock_new (s->codex_home);
  g_autoptr(StoreFile) file = store_file_new (s->codex_home, lock);
  g_autoptr(StoreSecret) keyring = s->store != STORE_SETTING_FILE ? store_secret_new (s->codex_home) : NULL;
  StorePolicy *policy = store_policy_new (s->store, file, keyring, cli_setting_new (s->codex_home));
  SigninSettings signin = {
    .issuer = s->issuer,
    .codex_home = s->codex_home,
    .workspaces = (const char *const *) s->allowed_workspaces,
    .ports = s->login_ports.ports,
    .n_ports = s->login_ports.n,
    .browser_timeout = (guint) s->browser_login_timeout,
    .device_timeout = (guint) s->device_login_timeout,
  };
  g_autofree char *description = daemon_settings_describe (s);

  g_autofree char *issuer_revoke = signin_issuer_endpoint (s->issuer, ISSUER_REVOKE_PATH);
  const char *token_url, *revoke_url;

  g_debug ("Settings (configuration file %s):\n%s", s->config_path, description);
  d->endpoint = local_endpoint_open (&s->local_token_endpoint);
  token_url = upstream (d, s->token_url, ISSUER_DEFAULT_TOKEN_URL, "token URL");
  revoke_url = upstream (d, s->revoke_url, issuer_revoke, "revoke URL");
  d->manager = auth_manager_new (policy, state_files_new (poison_path, rescue_path, volatile_rescue_path), lock,
                                 token_endpoint_new (http, token_url));
  set_test_hooks (d->manager);
  d->revoker = revoker_new (http, revoke_url, CLI_CLIENT_ID, s->revoke);
  d->signins = signin_manager_new (d->manager, http, d->revoker, &signin);
  if (d->endpoint != NULL)
    {
      g_autofree char *url = local_endpoint_dup_url (d->endpoint);
      auth_manager_set_local_endpoint_url (d->manager, url);
    }
  if (d->endpoint != NULL)
    local_endpoint_serve (d->endpoint, d->manager, http, token_url, revoke_url);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_auto(DaemonSettings) settings = { 0 };
  gboolean replace = FALSE;
  sd_bus *bus = NULL;
  Daemon d = { .exit_status = EXIT_SUCCESS };
  int r;

  /* 0. Tokens live in this process's memory: no core dump may carry them,
   * and no other process of the user may ptrace it to read them. */
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    g_warning ("Cannot make the process non-dumpable: %s, ignoring", g_strerror (errno));
  /* Every thread allocates from the one arena. The hot path runs on the
   * main thread; GLib's helper threads (the GDBus worker, the I/O pool)
   * would each get an arena of their own whose pages stay dirty for the
   * daemon's whole life (about 130 KiB idle, for no gain in speed). */
  (void) mallopt (M_ARENA_MAX, 1);
  setlocale (LC_ALL, "");
  daemon_log_init ();
  /* 1. The command line, then every setting decided. */
  r = read_settings (&argc, &argv, &settings, &replace);
  if (r >= 0)
    return r;

  /* 2. The parts. */
  build_parts (&d, &settings);

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
  d.auth_bus = auth_bus_new (bus, d.manager, d.signins, d.revoker, &error);
  if (d.auth_bus == NULL)
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  d.name = bus_name_new (bus, CODEX_AUTH_BUS_NAME, replace, settings.idle_timeout, last_activity, daemon_quit, &d);
  g_signal_connect (d.manager, "changed", G_CALLBACK (on_manager_changed), &d);
  if (!auth_manager_start (d.manager, &error))
    {
      g_printerr ("Cannot watch %s: %s\n", settings.codex_home, error->message);
      return EXIT_FAILURE;
    }

  /* 5. Serve until a signal, the bus, the idle exit or a replacement ends it. */
  g_main_loop_run (d.loop);

  /* 6. Finish what is in progress, then close. */
  g_signal_handlers_disconnect_by_data (d.manager, &d);
  signin_manager_stop (d.signins);
  logout_wait (12 * G_USEC_PER_SEC);
  auth_manager_stop (d.manager);
  g_clear_pointer (&d.endpoint, local_endpoint_free);
  g_clear_pointer (&d.name, bus_name_free);
  g_clear_pointer (&d.auth_bus, auth_bus_free);
  g_clear_object (&d.signins);
  g_clear_pointer (&d.revoker, revoker_free);
  g_clear_object (&d.manager);
  g_clear_handle_id (&d.bus_source_id, g_source_remove);
  /* Sends what is still queued (replies, signals) before closing. */
  sd_bus_flush_close_unref (bus);
  g_main_loop_unref (d.loop);
  return d.exit_status;
}
