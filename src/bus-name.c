/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The well-known name: requesting it, losing it to another instance,
 * and the idle exit. */
#define G_LOG_DOMAIN "codex-authd"

#include "config.h"

#include <stdlib.h>

#include "bus-name.h"

/* org.freedesktop.DBus.RequestName flags and replies. */
#define NAME_FLAG_ALLOW_REPLACEMENT 0x1
#define NAME_FLAG_REPLACE_EXISTING 0x2
#define NAME_FLAG_DO_NOT_QUEUE 0x4
#define NAME_REPLY_PRIMARY_OWNER 1
#define NAME_REPLY_ALREADY_OWNER 4

struct _BusName {
  sd_bus *bus;
  char *name;
  gboolean replace;
  int idle_timeout;
  BusNameLastActivityFunc last_activity;
  BusNameQuitFunc quit;
  gpointer user_data;

  gboolean requested;
  gboolean owned;
  gboolean releasing; /* the idle exit released the name itself */
  sd_bus_slot *request_slot;
  sd_bus_slot *name_lost_slot;
  sd_bus_slot *release_slot;
  guint idle_id;
  guint quit_id;
};

static void
quit (BusName *self, int status)
{
  self->quit (status, self->user_data);
}

static int
on_name_lost (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  BusName *self = userdata;
  const char *name = NULL;

  if (sd_bus_message_read (m, "s", &name) < 0 || g_strcmp0 (name, self->name) != 0)
    return 0;
  self->owned = FALSE;
  /* Releasing it ourselves (idle exit) also brings NameLost: that one is
   * not another instance's doing, and the release reply quits. */
  if (self->releasing)
    return 0;
  g_message ("Another instance took over %s, exiting", self->name);
  quit (self, EXIT_SUCCESS);
  return 0;
}

static int
on_request_name_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusName *self = userdata;
  uint32_t ret = 0;

  self->request_slot = sd_bus_slot_unref (self->request_slot);
  if (sd_bus_message_is_method_error (reply, NULL))
    {
      g_printerr ("Cannot own %s: %s\n", self->name, sd_bus_message_get_error (reply)->message);
      quit (self, EXIT_FAILURE);
      return 0;
    }
  if (sd_bus_message_read (reply, "u", &ret) < 0)
    {
      g_printerr ("Cannot own %s: unexpected reply from the bus\n", self->name);
      quit (self, EXIT_FAILURE);
      return 0;
    }
  if (ret == NAME_REPLY_PRIMARY_OWNER || ret == NAME_REPLY_ALREADY_OWNER)
    {
      g_message ("Serving %s on the session bus", self->name);
      self->owned = TRUE;
      return 0;
    }
  /* Exists, and we do not queue. */
  g_printerr ("%s is already owned by another process; use --replace to take it over\n", self->name);
  quit (self, EXIT_FAILURE);
  return 0;
}

static gboolean
quit_after_release (gpointer user_data)
{
  BusName *self = user_data;

  self->quit_id = 0;
  quit (self, EXIT_SUCCESS);
  return G_SOURCE_REMOVE;
}

static int
on_name_released (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusName *self = userdata;

  self->release_slot = sd_bus_slot_unref (self->release_slot);
  /* Calls that reached us before the release are still answered: quit
   * only once the bus source has nothing left to dispatch. */
  if (self->quit_id == 0)
    self->quit_id = g_idle_add_full (G_PRIORITY_LOW, quit_after_release, self, NULL);
  return 0;
}

static gboolean idle_check (gpointer user_data);

/* The idle check runs when the idle time could have run out, not every
 * second: an idle daemon is not woken for nothing. */
static void
schedule_idle_check (BusName *self, gint64 delay_usec)
{
  guint seconds = (guint) MAX (1, (delay_usec + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);

  g_clear_handle_id (&self->idle_id, g_source_remove);
  self->idle_id = g_timeout_add_seconds (seconds, idle_check, self);
}

static gboolean
idle_check (gpointer user_data)
{
  BusName *self = user_data;
  gint64 last, idle_usec = (gint64) self->idle_timeout * G_USEC_PER_SEC;
  int r;

  self->idle_id = 0;
  if (self->releasing)
    return G_SOURCE_REMOVE;
  last = self->last_activity (self->user_data);
  if (!self->owned || last < 0)
    {
      /* Not serving yet, or busy (a refresh, a save): look again soon. */
      schedule_idle_check (self, G_USEC_PER_SEC);
      return G_SOURCE_REMOVE;
    }
  if (g_get_monotonic_time () - last < idle_usec)
    {
      schedule_idle_check (self, idle_usec - (g_get_monotonic_time () - last));
      return G_SOURCE_REMOVE;
    }

  g_message ("No activity for %d s, exiting (the next call starts the service again)", self->idle_timeout);
  self->releasing = TRUE;
  r = sd_bus_call_method_async (self->bus, &self->release_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "ReleaseName", on_name_released, self, "s", self->name);
  if (r < 0)
    quit (self, EXIT_SUCCESS);
  return G_SOURCE_REMOVE;
}

BusName *
bus_name_new (sd_bus *bus, const char *name, gboolean replace, int idle_timeout_seconds,
              BusNameLastActivityFunc last_activity, BusNameQuitFunc quit_func, gpointer user_data)
{
  BusName *self = g_new0 (BusName, 1);

  self->bus = sd_bus_ref (bus);
  self->name = g_strdup (name);
  self->replace = replace;
  self->idle_timeout = idle_timeout_seconds;
  self->last_activity = last_activity;
  self->quit = quit_func;
  self->user_data = user_data;
  if (idle_timeout_seconds > 0)
    {
      g_message ("Idle exit after %d s without calls", idle_timeout_seconds);
      schedule_idle_check (self, G_USEC_PER_SEC);
    }
  else
    g_message ("Idle exit off: no idle timer; the service stays until the session ends");
  return self;
}

void
bus_name_free (BusName *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->idle_id, g_source_remove);
  g_clear_handle_id (&self->quit_id, g_source_remove);
  sd_bus_slot_unref (self->request_slot);
  sd_bus_slot_unref (self->name_lost_slot);
  sd_bus_slot_unref (self->release_slot);
  sd_bus_unref (self->bus);
  g_free (self->name);
  g_free (self);
}

void
bus_name_request (BusName *self)
{
  uint32_t flags = NAME_FLAG_ALLOW_REPLACEMENT | NAME_FLAG_DO_NOT_QUEUE;
  int r;

  if (self->requested)
    return;
  self->requested = TRUE;
  if (self->replace)
    flags |= NAME_FLAG_REPLACE_EXISTING;

  r = sd_bus_match_signal_async (self->bus, &self->name_lost_slot, "org.freedesktop.DBus",
                                 "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameLost", on_name_lost,
                                 NULL, self);
  if (r < 0)
    g_warning ("Cannot watch for the loss of %s: %s, ignoring", self->name, g_strerror (-r));

  /* Asked for with a plain call rather than sd_bus_request_name_async, so
   * that "exists" arrives as a reply code this program explains itself. */
  r = sd_bus_call_method_async (self->bus, &self->request_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "RequestName", on_request_name_reply, self, "su",
                                self->name, flags);
  if (r < 0)
    {
      g_printerr ("Cannot request %s: %s\n", self->name, g_strerror (-r));
      quit (self, EXIT_FAILURE);
    }
}
