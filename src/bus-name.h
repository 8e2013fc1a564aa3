/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

/* The daemon's well-known name: asking for it (optionally replacing the
 * owner), noticing that another instance took it over (NameLost), and
 * the idle exit, which releases it and then quits once the calls that
 * arrived before the release are answered. The daemon quits through
 * @quit in every case; the log says which. */
typedef struct _BusName BusName;

typedef void (*BusNameQuitFunc) (int exit_status, gpointer user_data);
/* The monotonic time of the last activity, or -1 while busy (not a
 * moment to exit). */
typedef gint64 (*BusNameLastActivityFunc) (gpointer user_data);

/* @idle_timeout_seconds 0: never exit when idle. */
BusName *bus_name_new (sd_bus *bus, const char *name, gboolean replace, int idle_timeout_seconds,
                       BusNameLastActivityFunc last_activity, BusNameQuitFunc quit, gpointer user_data);
void bus_name_free (BusName *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BusName, bus_name_free)

/* Asks for the name (once; later calls do nothing). Without @replace, a
 * name owned by another process quits with status 1 and says why. */
void bus_name_request (BusName *self);
