/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "codex-authd"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "auth-bus.h"
#include "auth-manager.h"
#include "auth-backend.h"
#include "bus-glib.h"
#include "daemon-config.h"
#include "poison-record.h"
#include "token-client.h"

typedef struct {
  GMainLoop *loop;
  sd_bus *bus;
  gboolean replace;
  sd_bus_slot *name_slot;
  sd_bus_slot *name_lost_slot;
  guint bus_source_id;
  int exit_status;
  /* Idle exit. */
  AuthManager *manager;
  AuthBus *auth_bus;
  int idle_timeout;
  gboolean name_owned;
  gboolean releasing;
} Daemon;

static void
daemon_quit (Daemon *d, int status)
{
  if (d->exit_status == EXIT_SUCCESS)
    d->exit_status = status;
  g_main_loop_quit (d->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  Daemon *d = user_data;

  g_message ("Terminating on signal");
  daemon_quit (d, EXIT_SUCCESS);
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
  daemon_quit (d, EXIT_SUCCESS);
}

static int
on_name_lost (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Daemon *d = userdata;
  const char *name = NULL;

  if (sd_bus_message_read (m, "s", &name) >= 0 && g_strcmp0 (name, CODEX_AUTH_BUS_NAME) == 0)
    {
      g_message ("Another instance took over %s, exiting", CODEX_AUTH_BUS_NAME);
      daemon_quit (d, EXIT_SUCCESS);
    }
  return 0;
}

static int
on_request_name_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Daemon *d = userdata;
  uint32_t ret = 0;

  d->name_slot = sd_bus_slot_unref (d->name_slot);
  if (sd_bus_message_is_method_error (reply, NULL))
    {
      g_printerr ("Cannot own %s: %s\n", CODEX_AUTH_BUS_NAME, sd_bus_message_get_error (reply)->message);
      daemon_quit (d, EXIT_FAILURE);
      return 0;
    }
  if (sd_bus_message_read (reply, "u", &ret) < 0)
    {
      g_printerr ("Cannot own %s: unexpected reply from the bus\n", CODEX_AUTH_BUS_NAME);
      daemon_quit (d, EXIT_FAILURE);
      return 0;
    }
  /* 1: primary owner, 4: already the owner; 3: exists (we do not queue). */
  if (ret == 1 || ret == 4)
    {
      g_message ("Serving %s on the session bus", CODEX_AUTH_BUS_NAME);
      d->name_owned = TRUE;
    }
  else
    {
      g_printerr ("%s is already owned by another process; use --replace to take it over\n",
                  CODEX_AUTH_BUS_NAME);
      daemon_quit (d, EXIT_FAILURE);
    }
  return 0;
}

static gboolean
quit_after_release (gpointer user_data)
{
  daemon_quit (user_data, EXIT_SUCCESS);
  return G_SOURCE_REMOVE;
}

static int
on_name_released (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  /* Calls that reached us before the release are still answered: quit
   * only once the bus source has nothing left to dispatch. */
  g_idle_add_full (G_PRIORITY_LOW, quit_after_release, userdata, NULL);
  return 0;
}

static gboolean
idle_check (gpointer user_data)
{
  Daemon *d = user_data;
  gint64 idle_usec;
  int r;

  if (!d->name_owned || d->releasing || auth_manager_is_busy (d->manager))
    return G_SOURCE_CONTINUE;
  idle_usec = g_get_monotonic_time () - auth_bus_get_last_activity (d->auth_bus);
  if (idle_usec < (gint64) d->idle_timeout * G_USEC_PER_SEC)
    return G_SOURCE_CONTINUE;

  g_message ("No activity for %d s, exiting (the next call starts the service again)", d->idle_timeout);
  d->releasing = TRUE;
  r = sd_bus_call_method_async (d->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "ReleaseName", on_name_released, d, "s",
                                CODEX_AUTH_BUS_NAME);
  if (r < 0)
    daemon_quit (d, EXIT_SUCCESS);
  return G_SOURCE_REMOVE;
}

static void
request_name (Daemon *d)
{
  uint32_t flags = 0x1 /* DBUS_NAME_FLAG_ALLOW_REPLACEMENT */ | 0x4 /* DO_NOT_QUEUE */;
  int r;

  if (d->replace)
    flags |= 0x2; /* DBUS_NAME_FLAG_REPLACE_EXISTING */

  /* Asked for with a plain call rather than sd_bus_request_name_async, so
   * that "exists" arrives as a reply code this program explains itself. */
  r = sd_bus_call_method_async (d->bus, &d->name_slot, "org.freedesktop.DBus",
                                "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
                                on_request_name_reply, d, "su", CODEX_AUTH_BUS_NAME, flags);
  if (r < 0)
    {
      g_printerr ("Cannot request %s: %s\n", CODEX_AUTH_BUS_NAME, g_strerror (-r));
      daemon_quit (d, EXIT_FAILURE);
    }
}

static void
on_manager_changed (AuthManager *manager, gpointer user_data)
{
  Daemon *d = user_data;

  /* The name is requested once the credentials were read the first time,
   * so that the first caller gets a real answer. */
  if (d->name_slot == NULL && d->name_lost_slot == NULL && auth_manager_is_loaded (manager))
    {
      int r = sd_bus_match_signal_async (d->bus, &d->name_lost_slot, "org.freedesktop.DBus",
                                         "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                         "NameLost", on_name_lost, NULL, d);
      if (r < 0)
        g_warning ("Cannot watch for the loss of %s: %s, ignoring", CODEX_AUTH_BUS_NAME, g_strerror (-r));
      request_name (d);
    }
}

static char *
absolute_canonical (const char *path)
{
  g_autofree char *cwd = g_get_current_dir ();

  return g_canonicalize_filename (path, cwd);
}

/* The first value set among the command line, the configuration file and
 * the environment; says so when the environment is overridden. */
static const char *
choose (const char *option, const char *config_value, const char *config_path,
        const char *env_name, const char *what)
{
  const char *env = g_getenv (env_name);

  if (env != NULL && env[0] == '\0')
    env = NULL;
  if (option != NULL && option[0] != '\0')
    {
      if (env != NULL)
        g_message ("%s is set, but the command line's %s is used", env_name, what);
      return option;
    }
  if (config_value != NULL)
    {
      if (env != NULL)
        g_message ("%s is set, but %s from %s is used", env_name, what, config_path);
      return config_value;
    }
  return env;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AuthManager) manager = NULL;
  AuthBackend *backend;
  g_autoptr(AuthBus) auth_bus = NULL;
  g_autofree char *codex_home_opt = NULL;
  g_autofree char *codex_home = NULL;
  g_autofree char *token_url_opt = NULL;
  g_autofree char *poison_path = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *store_opt = NULL;
  g_autofree char *timeout_opt = NULL;
  g_autofree char *token_url = NULL;
  const char *home;
  DaemonConfig config;
  StoreMode store_mode = STORE_MODE_AUTO;
  gboolean verbose = FALSE, version = FALSE, replace = FALSE;
  int request_timeout = DAEMON_DEFAULT_REQUEST_TIMEOUT;
  int idle_timeout = DAEMON_DEFAULT_IDLE_TIMEOUT;
  g_autofree char *idle_opt = NULL;
  gboolean no_idle_exit = FALSE;
  guint idle_id = 0;
  Daemon d = { 0 };
  int r;
  const GOptionEntry entries[] = {
    { "replace", 'r', 0, G_OPTION_ARG_NONE, &replace, "Replace a running instance", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { "codex-home", 0, 0, G_OPTION_ARG_FILENAME, &codex_home_opt,
      "Codex home directory holding auth.json (default: $CODEX_HOME, else ~/.codex)", "DIR" },
    { "token-url", 0, 0, G_OPTION_ARG_STRING, &token_url_opt,
      "Token endpoint (default: $CODEX_REFRESH_TOKEN_URL_OVERRIDE, else " TOKEN_DEFAULT_URL ")", "URL" },
    { "request-timeout", 0, 0, G_OPTION_ARG_STRING, &timeout_opt,
      "Seconds a token request may take, connecting included (default 30)", "SECONDS" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_STRING, &idle_opt,
      "Exit after this many seconds without calls (default 120; 0: never)", "SECONDS" },
    { "no-idle-exit", 0, 0, G_OPTION_ARG_NONE, &no_idle_exit, "Never exit when idle (development)", NULL },
    { "store", 0, 0, G_OPTION_ARG_STRING, &store_opt,
      "Where the credentials are: auto (default), secret-service or file", "STORE" },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
      "Configuration file (default: $XDG_CONFIG_HOME/codex-authd/codex-authd.conf)", "FILE" },
    { NULL }
  };

  setlocale (LC_ALL, "");

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, "Codex credential broker: serves " CODEX_AUTH_BUS_NAME
                                         " on the session bus.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\nRun '%s --help' for the options.\n", error->message, g_get_prgname ());
      return 2;
    }
  if (argc > 1)
    {
      g_printerr ("Unexpected argument \"%s\"\nRun '%s --help' for the options.\n", argv[1], g_get_prgname ());
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

  /* Command line, then the configuration file, then the environment. */
  daemon_config_init (&config);
  if (config_path == NULL)
    config_path = daemon_config_default_path ();
  if (!daemon_config_load (&config, config_path, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (store_opt != NULL && !daemon_config_parse_store (store_opt, &store_mode, &error))
    {
      g_printerr ("--store: %s\n", error->message);
      daemon_config_clear (&config);
      return 2;
    }
  if (store_opt == NULL && config.has_store)
    store_mode = config.store;
  if (timeout_opt != NULL &&
      !daemon_config_parse_seconds ("--request-timeout", timeout_opt, 1, 600, &request_timeout, &error))
    {
      g_printerr ("%s\n", error->message);
      daemon_config_clear (&config);
      return 2;
    }
  if (timeout_opt == NULL && config.request_timeout > 0)
    request_timeout = config.request_timeout;
  if (idle_opt != NULL &&
      !daemon_config_parse_seconds ("--idle-timeout", idle_opt, 0, 86400, &idle_timeout, &error))
    {
      g_printerr ("%s\n", error->message);
      daemon_config_clear (&config);
      return 2;
    }
  if (idle_opt == NULL && config.idle_timeout >= 0)
    idle_timeout = config.idle_timeout;
  if (no_idle_exit)
    idle_timeout = 0;

  home = choose (codex_home_opt, config.codex_home, config_path, "CODEX_HOME", "codex-home");
  if (home != NULL)
    codex_home = absolute_canonical (home);
  else
    codex_home = g_build_filename (g_get_home_dir (), ".codex", NULL);
  token_url = g_strdup (choose (token_url_opt, config.token_url, config_path,
                                "CODEX_REFRESH_TOKEN_URL_OVERRIDE", "token-url"));
  if (token_url == NULL)
    token_url = g_strdup (TOKEN_DEFAULT_URL);

  poison_path = poison_record_default_path ();
  backend = auth_backend_new_real (codex_home, store_mode, token_url, (guint) request_timeout,
                                   poison_path, &error);
  daemon_config_clear (&config);
  if (backend == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  manager = auth_manager_new (backend);
  g_debug ("Store: %s; Codex home: %s; token endpoint: %s; request timeout: %d s; idle timeout: %d s; "
           "failure record: %s", store_mode_to_string (store_mode), codex_home, token_url, request_timeout,
           idle_timeout, poison_path);

  r = sd_bus_open_user (&d.bus);
  if (r < 0)
    {
      g_printerr ("Cannot connect to the session bus: %s (is DBUS_SESSION_BUS_ADDRESS set?)\n",
                  g_strerror (-r));
      return EXIT_FAILURE;
    }
  (void) sd_bus_set_description (d.bus, PACKAGE_NAME);

  d.loop = g_main_loop_new (NULL, FALSE);
  d.replace = replace;
  d.exit_status = EXIT_SUCCESS;
  d.bus_source_id = bus_glib_attach (d.bus, NULL, on_bus_error, &d);
  g_unix_signal_add (SIGTERM, on_signal, &d);
  g_unix_signal_add (SIGINT, on_signal, &d);

  auth_bus = auth_bus_new (d.bus, manager, &error);
  if (auth_bus == NULL)
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  g_signal_connect (manager, "changed", G_CALLBACK (on_manager_changed), &d);
  d.manager = manager;
  d.auth_bus = auth_bus;
  d.idle_timeout = idle_timeout;
  if (idle_timeout > 0)
    idle_id = g_timeout_add_seconds (1, idle_check, &d);
  if (!auth_manager_start (manager, &error))
    {
      g_printerr ("Cannot watch %s: %s\n", codex_home, error->message);
      return EXIT_FAILURE;
    }

  g_main_loop_run (d.loop);

  g_clear_handle_id (&idle_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (manager, &d);
  auth_manager_stop (manager);
  g_clear_pointer (&auth_bus, auth_bus_free);
  d.name_slot = sd_bus_slot_unref (d.name_slot);
  d.name_lost_slot = sd_bus_slot_unref (d.name_lost_slot);
  g_clear_handle_id (&d.bus_source_id, g_source_remove);
  /* Sends what is still queued (replies, signals) before closing. */
  sd_bus_flush_close_unref (d.bus);
  g_main_loop_unref (d.loop);
  return d.exit_status;
}
