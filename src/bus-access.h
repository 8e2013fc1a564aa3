/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>
#include <sys/types.h>

/* Serves method calls on one object only to peers running as one UID.
 *
 * Every incoming call to the object (its own methods, Properties,
 * Introspectable) passes a bus filter. A sender seen before is let through
 * or refused at once; for a new sender the call is held, the bus is asked
 * for the sender's UID with an asynchronous GetConnectionUnixUser, and the
 * held calls are then put back into the read queue
 * (sd_bus_enqueue_for_read) or answered with AccessDenied. Nothing waits on
 * the bus synchronously. */
typedef struct _BusAccess BusAccess;

BusAccess *bus_access_new (sd_bus *bus, const char *object_path, uid_t allowed_uid,
                           const char *denied_error_name, GError **error);
void bus_access_free (BusAccess *access);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BusAccess, bus_access_free)
