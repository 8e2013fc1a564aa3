/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "codex-auth-client.h"

/* Shared by the library's two files (not installed). */

/* The proxy of org.codex.Auth1, NULL before the client is initialized. */
GDBusProxy *codex_auth_client_get_proxy (CodexAuthClient *self);
