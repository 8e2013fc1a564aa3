/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>


/* Called once when the connection fails (negative errno); the source is
 * removed afterwards. */
typedef void (*BusGlibErrorFunc) (int error, gpointer user_data);

/* Dispatches @bus from the GLib main context @context (NULL: default): a
 * GSource on the bus fd that follows sd_bus_get_events() and
 * sd_bus_get_timeout(). Returns the source id. */
guint bus_glib_attach (sd_bus *bus, GMainContext *context,
                       BusGlibErrorFunc on_error, gpointer user_data);
