/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sd-bus dispatched from the GLib main loop: a GSource on the bus fd. */
#define G_LOG_DOMAIN "codex-authd-bus"

#include "config.h"

#include <poll.h>

#include "bus-glib.h"

/* How many messages one dispatch handles before giving other sources of
 * the main loop a turn. */
#define MAX_MESSAGES_PER_DISPATCH 64

typedef struct {
  GSource source;
  sd_bus *bus;
  gpointer fd_tag;
  GIOCondition fd_events;
  BusGlibErrorFunc on_error;
  gpointer user_data;
  gboolean failed;
} BusSource;

static GIOCondition
poll_events_to_condition (int events)
{
  GIOCondition cond = G_IO_HUP | G_IO_ERR;

  if (events & POLLIN)
    cond |= G_IO_IN;
  if (events & POLLOUT)
    cond |= G_IO_OUT;
  return cond;
}

/* sd_bus_get_timeout() is absolute CLOCK_MONOTONIC microseconds, the clock
 * of g_source_get_time(). */
static gboolean
bus_timeout_due (BusSource *bs, gint *timeout_ms)
{
  uint64_t until = UINT64_MAX;
  gint64 now;

  *timeout_ms = -1;
  if (sd_bus_get_timeout (bs->bus, &until) < 0)
    return TRUE;
  if (until == UINT64_MAX)
    return FALSE;
  now = g_source_get_time (&bs->source);
  if ((gint64) until <= now)
    {
      *timeout_ms = 0;
      return TRUE;
    }
  *timeout_ms = (gint) MIN ((until - (uint64_t) now + 999) / 1000, (uint64_t) G_MAXINT);
  return FALSE;
}

static gboolean
bus_source_prepare (GSource *source, gint *timeout_ms)
{
  BusSource *bs = (BusSource *) source;
  int events;
  GIOCondition cond;

  *timeout_ms = -1;
  if (bs->failed)
    return FALSE;
  events = sd_bus_get_events (bs->bus);
  if (events < 0)
    return TRUE; /* dispatch reports the error */
  /* g_source_modify_unix_fd() wakes the context up, which costs a whole
   * extra loop iteration: only call it when the events really change. */
  cond = poll_events_to_condition (events);
  if (cond != bs->fd_events)
    {
      g_source_modify_unix_fd (source, bs->fd_tag, cond);
      bs->fd_events = cond;
    }
  return bus_timeout_due (bs, timeout_ms);
}

static gboolean
bus_source_check (GSource *source)
{
  BusSource *bs = (BusSource *) source;
  gint unused;

  if (bs->failed)
    return FALSE;
  if (g_source_query_unix_fd (source, bs->fd_tag) != 0)
    return TRUE;
  return bus_timeout_due (bs, &unused);
}

static gboolean
bus_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  BusSource *bs = (BusSource *) source;

  for (int i = 0; i < MAX_MESSAGES_PER_DISPATCH; i++)
    {
      int r = sd_bus_process (bs->bus, NULL);

      if (r < 0)
        {
          bs->failed = TRUE;
          if (bs->on_error != NULL)
            bs->on_error (r, bs->user_data);
          return G_SOURCE_REMOVE;
        }
      if (r == 0)
        break;
    }
  return G_SOURCE_CONTINUE;
}

static void
bus_source_finalize (GSource *source)
{
  BusSource *bs = (BusSource *) source;

  sd_bus_unref (bs->bus);
}

static GSourceFuncs bus_source_funcs = {
  .prepare = bus_source_prepare,
  .check = bus_source_check,
  .dispatch = bus_source_dispatch,
  .finalize = bus_source_finalize,
};

guint
bus_glib_attach (sd_bus *bus, GMainContext *context, BusGlibErrorFunc on_error, gpointer user_data)
{
  GSource *source;
  BusSource *bs;
  guint id;
  int fd;

  fd = sd_bus_get_fd (bus);
  g_return_val_if_fail (fd >= 0, 0);

  source = g_source_new (&bus_source_funcs, sizeof (BusSource));
  bs = (BusSource *) source;
  bs->bus = sd_bus_ref (bus);
  bs->on_error = on_error;
  bs->user_data = user_data;
  bs->fd_events = G_IO_IN | G_IO_HUP | G_IO_ERR;
  bs->fd_tag = g_source_add_unix_fd (source, fd, bs->fd_events);
  g_source_set_name (source, "sd-bus");
  /* GLib blocks a source that cannot recurse for the time of its dispatch
   * by taking its fd out of the poll set and putting it back, and each of
   * the two wakes the context: two eventfd writes and an extra loop
   * iteration per dispatch. Nothing here runs a nested main loop, and
   * sd_bus_process() refuses to be re-entered anyway. */
  g_source_set_can_recurse (source, TRUE);
  id = g_source_attach (source, context);
  g_source_unref (source);
  return id;
}
