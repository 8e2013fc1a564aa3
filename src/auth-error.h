/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Errors that reach D-Bus clients. Everything inside the daemon reports
 * failures as GError; auth-bus.c maps them to D-Bus error names in one
 * place (auth_bus_error_from_gerror). */
#define CODEX_AUTH_ERROR (codex_auth_error_quark ())

typedef enum {
  CODEX_AUTH_ERROR_FAILED,
  CODEX_AUTH_ERROR_NOT_LOGGED_IN,
  CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
  CODEX_AUTH_ERROR_STORE_LOCKED,
  CODEX_AUTH_ERROR_STORE_ERROR,
  CODEX_AUTH_ERROR_ACCESS_DENIED,
  CODEX_AUTH_ERROR_LOGIN_FAILED,
  CODEX_AUTH_ERROR_INVALID_ARGS,
} CodexAuthError;

GQuark codex_auth_error_quark (void);
