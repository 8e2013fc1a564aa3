/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The well-known name on a private bus: owned once asked for; a second
 * instance without --replace quits with 1 and leaves the owner; with it,
 * it takes over and the first quits with 0; the idle exit releases the
 * name and quits, but not while busy. */
#include "config.h"

#include <stdlib.h>

#include "bus-glib.h"
#include "bus-name.h"
#include "sd-bus-cleanup.h"
#include "test-peers.h"

#define NAME "org.codex.Test.BusName"

static TestBus bus;
static gboolean have_bus;

typedef struct {
  sd_bus *bus;
  guint source_id;
  BusName *name;
  int quit_status; /* -1: not quit */
  gint64 last_activity;
} Instance;

static void
instance_quit (int status, gpointer user_data)
{
  Instance *i = user_data;

  if (i->quit_status < 0)
    i->quit_status = status;
}

static gint64
instance_last_activity (gpointer user_data)
{
  return ((Instance *) user_data)->last_activity;
}

static void
instance_start (Instance *i, gboolean replace, int idle_timeout)
{
  g_assert_cmpint (sd_bus_open_user (&i->bus), >=, 0);
  i->source_id = bus_glib_attach (i->bus, NULL, NULL, NULL);
  i->quit_status = -1;
  i->last_activity = g_get_monotonic_time ();
  i->name = bus_name_new (i->bus, NAME, replace, idle_timeout, instance_last_activity, instance_quit, i);
  bus_name_request (i->name);
}

static void
instance_stop (Instance *i)
{
  g_clear_pointer (&i->name, bus_name_free);
  g_clear_handle_id (&i->source_id, g_source_remove);
  i->bus = sd_bus_flush_close_unref (i->bus);
}

/* Who owns NAME: a unique name, or NULL. */
static char *
owner (void)
{
  g_autoptr(sd_bus) b = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  const char *unique = NULL;

  g_assert_cmpint (sd_bus_open_user (&b), >=, 0);
  if (sd_bus_call_method (b, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                          "GetNameOwner", NULL, &reply, "s", NAME) < 0 ||
      sd_bus_message_read (reply, "s", &unique) < 0)
    return NULL;
  return g_strdup (unique);
}

static char *
unique_name (Instance *i)
{
  const char *unique = NULL;

  g_assert_cmpint (sd_bus_get_unique_name (i->bus, &unique), >=, 0);
  return g_strdup (unique);
}

/* Runs the main loop until @done or @seconds pass. */
static void
run_until (gboolean (*done) (gpointer), gpointer data, double seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  while ((done == NULL || !done (data)) && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (5 * 1000);
}

static gboolean
has_quit (gpointer data)
{
  return ((Instance *) data)->quit_status >= 0;
}

static gboolean
owns (gpointer data)
{
  g_autofree char *o = owner ();
  g_autofree char *u = unique_name (data);

  return g_strcmp0 (o, u) == 0;
}

static void
test_first_owner_and_no_replace (void)
{
  Instance first = { 0 }, second = { 0 };

  if (!have_bus && !test_peer_available ("dbus-daemon"))
    return;
  instance_start (&first, FALSE, 0);
  run_until (owns, &first, 10);
  g_assert_true (owns (&first));
  instance_start (&second, FALSE, 0);
  run_until (has_quit, &second, 10);
  g_assert_cmpint (second.quit_status, ==, EXIT_FAILURE);
  g_assert_true (owns (&first));
  g_assert_cmpint (first.quit_status, ==, -1);
  instance_stop (&second);
  instance_stop (&first);
}

static void
test_replace (void)
{
  Instance first = { 0 }, second = { 0 };

  if (!have_bus && !test_peer_available ("dbus-daemon"))
    return;
  instance_start (&first, FALSE, 0);
  run_until (owns, &first, 10);
  instance_start (&second, TRUE, 0);
  run_until (has_quit, &first, 10);
  /* The first one was replaced: it quits, not as a failure. */
  g_assert_cmpint (first.quit_status, ==, EXIT_SUCCESS);
  run_until (owns, &second, 10);
  g_assert_true (owns (&second));
  g_assert_cmpint (second.quit_status, ==, -1);
  instance_stop (&first);
  instance_stop (&second);
}

static void
test_idle_exit (void)
{
  Instance i = { 0 };
  g_autofree char *after = NULL;

  if (!have_bus && !test_peer_available ("dbus-daemon"))
    return;
  instance_start (&i, FALSE, 1);
  run_until (owns, &i, 10);
  /* Busy (a refresh or a save in progress): no exit, whatever the time. */
  i.last_activity = -1;
  run_until (has_quit, &i, 2.5);
  g_assert_cmpint (i.quit_status, ==, -1);
  g_assert_true (owns (&i));
  /* Idle for longer than the timeout: the name is released, then it quits. */
  i.last_activity = g_get_monotonic_time () - 5 * G_USEC_PER_SEC;
  run_until (has_quit, &i, 10);
  g_assert_cmpint (i.quit_status, ==, EXIT_SUCCESS);
  after = owner ();
  g_assert_null (after);
  instance_stop (&i);
}

int
main (int argc, char **argv)
{
  g_autofree char *dbus_daemon = g_find_program_in_path ("dbus-daemon");
  int status;

  g_test_init (&argc, &argv, NULL);
  if (dbus_daemon != NULL)
    have_bus = test_bus_start (&bus);
  g_test_add_func ("/bus-name/first-owner-and-no-replace", test_first_owner_and_no_replace);
  g_test_add_func ("/bus-name/replace", test_replace);
  g_test_add_func ("/bus-name/idle-exit", test_idle_exit);
  status = g_test_run ();
  if (have_bus)
    test_bus_stop (&bus);
  return status;
}
