/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Real peers for the unit tests: a private bus and gnome-keyring. */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "test-helpers.h"
#include "test-peers.h"

#define KEYRING_PASSWORD "test-keyring-password"
#define SECRETS "org.freedesktop.secrets"
#define LOGIN_COLLECTION "/org/freedesktop/secrets/collection/login"

static const char bus_config[] =
  "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
  " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
  "<busconfig>\n"
  "  <type>session</type>\n"
  "  <listen>unix:tmpdir=%s</listen>\n"
  "  <auth>EXTERNAL</auth>\n"
  "  <limit name=\"max_replies_per_connection\">50000</limit>\n"
  "  <limit name=\"max_match_rules_per_connection\">50000</limit>\n"
  "  <policy context=\"default\">\n"
  "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
  "    <allow eavesdrop=\"true\"/>\n"
  "    <allow own=\"*\"/>\n"
  "    <allow user=\"*\"/>\n"
  "  </policy>\n"
  "</busconfig>\n";

gboolean
test_peer_available (const char *program)
{
  g_autofree char *path = g_find_program_in_path (program);

  if (path != NULL)
    return TRUE;
  if (g_getenv ("CODEX_AUTHD_REQUIRE_PEERS") != NULL)
    g_error ("%s is required ($CODEX_AUTHD_REQUIRE_PEERS) but not installed", program);
  g_test_skip_printf ("%s is not installed", program);
  return FALSE;
}

gboolean
test_bus_start (TestBus *bus)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *config = NULL;
  g_autofree char *text = NULL;

  memset (bus, 0, sizeof *bus);
  if (!test_peer_available ("dbus-daemon"))
    return FALSE;
  bus->dir = test_make_tmpdir ();
  /* Other users may connect (a test calls as nobody): the bus decides. */
  g_assert_cmpint (g_chmod (bus->dir, 0755), ==, 0);
  config = g_build_filename (bus->dir, "bus.conf", NULL);
  text = g_strdup_printf (bus_config, bus->dir);
  g_assert_true (g_file_set_contents (config, text, -1, &error));
  bus->proc = test_spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL, &error,
                          "dbus-daemon", "--config-file", config, "--nofork", "--print-address=1", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (bus->proc));
  bus->address = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bus->address);
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", bus->address, TRUE);
  return TRUE;
}

void
test_bus_stop (TestBus *bus)
{
  if (bus->proc != NULL)
    {
      g_subprocess_send_signal (bus->proc, SIGTERM);
      g_subprocess_wait (bus->proc, NULL, NULL);
    }
  g_clear_object (&bus->proc);
  if (bus->dir != NULL)
    test_remove_tree (bus->dir);
  g_clear_pointer (&bus->dir, g_free);
  g_clear_pointer (&bus->address, g_free);
  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
}

static GDBusConnection *
bus_connection (void)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection = g_dbus_connection_new_for_address_sync (
      g_getenv ("DBUS_SESSION_BUS_ADDRESS"),
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL,
      &error);

  g_assert_no_error (error);
  return connection;
}

static gboolean
secrets_owned (GDBusConnection *connection, gboolean need_login)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean owned = FALSE;

  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", g_variant_new ("(s)", SECRETS),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  if (!owned)
    return FALSE;
  if (!need_login)
    return TRUE;
  g_clear_pointer (&reply, g_variant_unref);
  reply = g_dbus_connection_call_sync (connection, SECRETS, LOGIN_COLLECTION, "org.freedesktop.DBus.Properties",
                                       "Get", g_variant_new ("(ss)", "org.freedesktop.Secret.Collection", "Locked"),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  return reply != NULL;
}

gboolean
test_keyring_start (TestKeyring *keyring)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autofree char *data = NULL, *config = NULL, *runtime = NULL;
  GOutputStream *in;
  gint64 deadline;

  memset (keyring, 0, sizeof *keyring);
  if (!test_peer_available ("gnome-keyring-daemon"))
    return FALSE;
  keyring->home = test_make_tmpdir ();
  data = g_build_filename (keyring->home, "data", NULL);
  config = g_build_filename (keyring->home, "config", NULL);
  runtime = g_build_filename (keyring->home, "runtime", NULL);
  g_mkdir_with_parents (runtime, 0700);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_setenv (launcher, "HOME", keyring->home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "DISPLAY");
  keyring->proc = test_spawn (0, launcher, &error, "gnome-keyring-daemon", "--foreground", "--unlock",
                              "--components=secrets", NULL);
  g_assert_no_error (error);
  in = g_subprocess_get_stdin_pipe (keyring->proc);
  g_assert_true (g_output_stream_write_all (in, KEYRING_PASSWORD, strlen (KEYRING_PASSWORD), NULL, NULL, &error));
  g_assert_true (g_output_stream_close (in, NULL, &error));
  connection = bus_connection ();
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (!secrets_owned (connection, TRUE))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
  return TRUE;
}

void
test_keyring_lock (TestKeyring *keyring)
{
  g_autoptr(GDBusConnection) connection = bus_connection ();
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *collections[] = { LOGIN_COLLECTION, NULL };

  reply = g_dbus_connection_call_sync (connection, SECRETS, "/org/freedesktop/secrets",
                                       "org.freedesktop.Secret.Service", "Lock",
                                       g_variant_new ("(^ao)", collections), NULL, G_DBUS_CALL_FLAGS_NONE, 10000,
                                       NULL, &error);
  g_assert_no_error (error);
}

void
test_keyring_kill (TestKeyring *keyring)
{
  g_autoptr(GDBusConnection) connection = bus_connection ();
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  if (keyring->proc != NULL)
    {
      g_subprocess_force_exit (keyring->proc);
      g_subprocess_wait (keyring->proc, NULL, NULL);
      g_clear_object (&keyring->proc);
    }
  while (secrets_owned (connection, FALSE))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
}

void
test_keyring_stop (TestKeyring *keyring)
{
  if (keyring->proc != NULL)
    test_keyring_kill (keyring);
  if (keyring->home != NULL)
    test_remove_tree (keyring->home);
  g_clear_pointer (&keyring->home, g_free);
}
