/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libcodex-auth-1: the Codex login for GTK (and any GLib) apps, through
 * codex-authd's org.codex.Auth1. pkg-config: codex-auth-1. */

#define CODEX_AUTH_INSIDE
#include "codex-auth-client.h"
#include "codex-auth-enums.h"
#include "codex-auth-error.h"
#undef CODEX_AUTH_INSIDE
