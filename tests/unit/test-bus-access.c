/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The caller check on a private bus: calls of the daemon's own user are
 * served (many held while the first lookup runs, answered in order),
 * Peer.Ping needs no lookup, other paths are not guarded, and a caller of
 * another UID is refused (as root, through setpriv). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bus-access.h"
#include "bus-glib.h"
#include "sd-bus-cleanup.h"
#include "test-peers.h"

#define PATH "/org/codex/Test"
#define IFACE "org.codex.Test"
#define DENIED "org.codex.Test.Error.AccessDenied"

static TestBus bus;
static gboolean have_bus;

typedef struct {
  sd_bus *bus;
  guint source_id;
  BusAccess *access;
  sd_bus_slot *guarded_slot;
  sd_bus_slot *open_slot;
  guint served;
} Server;

static int
method_echo (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  Server *s = userdata;
  const char *text = NULL;
  int r;

  r = sd_bus_message_read (m, "s", &text);
  if (r < 0)
    return r;
  s->served++;
  return sd_bus_reply_method_return (m, "s", text);
}

static const sd_bus_vtable vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD ("Echo", "s", "s", method_echo, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_VTABLE_END,
};

static void
server_start (Server *s)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (sd_bus_open_user (&s->bus), >=, 0);
  s->source_id = bus_glib_attach (s->bus, NULL, NULL, NULL);
  s->access = bus_access_new (s->bus, PATH, geteuid (), DENIED, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sd_bus_add_object_vtable (s->bus, &s->guarded_slot, PATH, IFACE, vtable, s), >=, 0);
  /* Another object, not guarded. */
  g_assert_cmpint (sd_bus_add_object_vtable (s->bus, &s->open_slot, "/other", IFACE, vtable, s), >=, 0);
}

static void
server_stop (Server *s)
{
  s->guarded_slot = sd_bus_slot_unref (s->guarded_slot);
  s->open_slot = sd_bus_slot_unref (s->open_slot);
  g_clear_pointer (&s->access, bus_access_free);
  g_clear_handle_id (&s->source_id, g_source_remove);
  s->bus = sd_bus_flush_close_unref (s->bus);
}

static const char *
server_name (Server *s)
{
  const char *unique = NULL;

  g_assert_cmpint (sd_bus_get_unique_name (s->bus, &unique), >=, 0);
  return unique;
}

static GDBusConnection *
client (void)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *c = g_dbus_connection_new_for_address_sync (
      g_getenv ("DBUS_SESSION_BUS_ADDRESS"),
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL,
      &error);

  g_assert_no_error (error);
  return c;
}

typedef struct {
  GPtrArray *answers; /* char*, in the order they came */
  guint pending;
} Answers;

static void
echo_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Answers *a = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  const char *text = NULL;

  g_assert_no_error (error);
  g_variant_get (reply, "(&s)", &text);
  g_ptr_array_add (a->answers, g_strdup (text));
  a->pending--;
}

/* A new client sends 200 calls at once: the first one's lookup holds them
 * all, and every one is answered, in order. */
static void
test_own_user_served_in_order (void)
{
  Server s = { 0 };
  g_autoptr(GDBusConnection) c = NULL;
  Answers a = { g_ptr_array_new_with_free_func (g_free), 0 };

  if (!have_bus && !test_peer_available ("dbus-daemon"))
    return;
  server_start (&s);
  c = client ();
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *text = g_strdup_printf ("call-%u", i);

      a.pending++;
      g_dbus_connection_call (c, server_name (&s), PATH, IFACE, "Echo", g_variant_new ("(s)", text),
                              G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, echo_done_cb, &a);
    }
  while (a.pending > 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (a.answers->len, ==, 200);
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *expected = g_strdup_printf ("call-%u", i);
      g_assert_cmpstr (g_ptr_array_index (a.answers, i), ==, expected);
    }
  g_assert_cmpuint (s.served, ==, 200);
  g_ptr_array_unref (a.answers);
  server_stop (&s);
}

static void
result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* A call answered by the server in this process: the main loop runs
 * while it waits. */
static GVariant *
call (GDBusConnection *c, const char *dest, const char *path, const char *iface, const char *method,
      GVariant *args, GError **error)
{
  GAsyncResult *result = NULL;
  GVariant *reply;

  g_dbus_connection_call (c, dest, path, iface, method, args, NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, result_cb,
                          &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  reply = g_dbus_connection_call_finish (c, result, error);
  g_object_unref (result);
  return reply;
}

static void
test_ping_and_other_paths_are_not_guarded (void)
{
  Server s = { 0 };
  g_autoptr(GDBusConnection) c = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  if (!have_bus && !test_peer_available ("dbus-daemon"))
    return;
  server_start (&s);
  c = client ();
  reply = call (c, server_name (&s), PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  reply = call (c, server_name (&s), "/other", IFACE, "Echo", g_variant_new ("(s)", "x"), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s.served, ==, 1);
  server_stop (&s);
}

typedef struct {
  GSubprocess *proc;
  gboolean done;
} Child;

static void
child_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Child *child = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  child->done = TRUE;
}

/* A caller running as another user (nobody) is refused, with the UIDs
 * named; the object is not called. */
static void
test_other_user_refused (void)
{
  Server s = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) err_bytes = NULL;
  g_autofree char *err_text = NULL;
  Child child = { 0 };
  GInputStream *err;

  if (!have_bus && !test_peer_available ("dbus-daemon"))
    return;
  if (geteuid () != 0)
    {
      g_test_skip ("calling as another user needs root (setpriv)");
      return;
    }
  if (!test_peer_available ("setpriv") || !test_peer_available ("busctl"))
    return;
  server_start (&s);
  child.proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                                 "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "busctl",
                                 "--address", g_getenv ("DBUS_SESSION_BUS_ADDRESS"), "call", server_name (&s), PATH,
                                 IFACE, "Echo", "s", "from-nobody", NULL);
  g_assert_no_error (error);
  /* The server answers from this main loop while the child waits. */
  g_subprocess_wait_async (child.proc, NULL, child_done_cb, &child);
  while (!child.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (g_subprocess_get_successful (child.proc));
  err = g_subprocess_get_stderr_pipe (child.proc);
  err_bytes = g_input_stream_read_bytes (err, 4096, NULL, &error);
  err_text = g_strndup (g_bytes_get_data (err_bytes, NULL), g_bytes_get_size (err_bytes));
  g_test_message ("busctl as nobody: %s", err_text);
  g_assert_nonnull (strstr (err_text, "Access denied"));
  g_assert_nonnull (strstr (err_text, "65534"));
  g_assert_cmpuint (s.served, ==, 0);
  g_clear_object (&child.proc);
  server_stop (&s);
}

int
main (int argc, char **argv)
{
  g_autofree char *dbus_daemon = g_find_program_in_path ("dbus-daemon");
  int status;

  g_test_init (&argc, &argv, NULL);
  if (dbus_daemon != NULL)
    have_bus = test_bus_start (&bus);
  g_test_add_func ("/bus-access/own-user-served-in-order", test_own_user_served_in_order);
  g_test_add_func ("/bus-access/ping-and-other-paths-are-not-guarded", test_ping_and_other_paths_are_not_guarded);
  g_test_add_func ("/bus-access/other-user-refused", test_other_user_refused);
  status = g_test_run ();
  if (have_bus)
    test_bus_stop (&bus);
  return status;
}
