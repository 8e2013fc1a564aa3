/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#include "auth-manager.h"
#include "revoke.h"
#include "signin-manager.h"

/* The org.codex.Auth1 object: vtable, method handlers, caller check and
 * PropertiesChanged batching. The only module that speaks D-Bus. */
typedef struct _AuthBus AuthBus;

/* A call that waits for a refresh is answered after at most this long,
 * with what the daemon has then (the refresh carries on): well inside the
 * 25 s default timeout of sd-bus and GDBus clients. */
#define AUTH_BUS_ANSWER_BOUND_MS 15000

AuthBus *auth_bus_new (sd_bus *bus, AuthManager *manager, SigninManager *signins, Revoker *revoker,
                      GError **error);
void auth_bus_free (AuthBus *self);

/* Monotonic time of the last call to the object. */
gint64 auth_bus_get_last_activity (AuthBus *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthBus, auth_bus_free)
