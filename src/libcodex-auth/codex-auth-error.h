/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CODEX_AUTH_ERROR, the error domain of the service and its clients. */
#pragma once

#if !defined(CODEX_AUTH_INSIDE) && !defined(CODEX_AUTH_COMPILATION)
#error "Only <codex-auth.h> can be included directly."
#endif

#include <glib.h>

#include "codex-auth-export.h"

G_BEGIN_DECLS

/**
 * CODEX_AUTH_ERROR:
 *
 * The error domain of the org.codex.Auth1 errors: a D-Bus error
 * `org.codex.Auth1.Error.NAME` arrives in a #GError of this domain with the
 * matching #CodexAuthError code, so that apps compare codes, not strings.
 */
#define CODEX_AUTH_ERROR (codex_auth_error_quark ())

/**
 * CodexAuthError:
 * @CODEX_AUTH_ERROR_FAILED: an unexpected failure inside the service
 *   (`org.codex.Auth1.Error.Failed`)
 * @CODEX_AUTH_ERROR_NOT_LOGGED_IN: no credentials are stored: log in first
 * @CODEX_AUTH_ERROR_STORE_UNAVAILABLE: the credential store is not there
 *   (no Secret Service)
 * @CODEX_AUTH_ERROR_STORE_LOCKED: the keyring holding the credentials is
 *   locked
 * @CODEX_AUTH_ERROR_STORE_ERROR: the credential store cannot be read or
 *   written
 * @CODEX_AUTH_ERROR_ACCESS_DENIED: the caller runs as another user
 * @CODEX_AUTH_ERROR_NOT_SUPPORTED: not possible with the service's
 *   configuration
 * @CODEX_AUTH_ERROR_LOGIN_FAILED: a sign-in could not be started
 * @CODEX_AUTH_ERROR_DEVICE_LOGIN_DISABLED: device code sign-in is not
 *   enabled for this account or server
 * @CODEX_AUTH_ERROR_NO_SUCH_LOGIN: no sign-in with this id is pending
 * @CODEX_AUTH_ERROR_LOGIN_REQUIRED: the credentials failed for good: the
 *   user has to log in again
 * @CODEX_AUTH_ERROR_CREDENTIALS_CHANGED: the credentials changed while
 *   the call ran (a sign-in during a logout): they were kept
 *
 * The errors of org.codex.Auth1 (and of the client library).
 */
typedef enum {
  CODEX_AUTH_ERROR_FAILED,
  CODEX_AUTH_ERROR_NOT_LOGGED_IN,
  CODEX_AUTH_ERROR_STORE_UNAVAILABLE,
  CODEX_AUTH_ERROR_STORE_LOCKED,
  CODEX_AUTH_ERROR_STORE_ERROR,
  CODEX_AUTH_ERROR_ACCESS_DENIED,
  CODEX_AUTH_ERROR_NOT_SUPPORTED,
  CODEX_AUTH_ERROR_LOGIN_FAILED,
  CODEX_AUTH_ERROR_DEVICE_LOGIN_DISABLED,
  CODEX_AUTH_ERROR_NO_SUCH_LOGIN,
  CODEX_AUTH_ERROR_LOGIN_REQUIRED,
  CODEX_AUTH_ERROR_CREDENTIALS_CHANGED,
} CodexAuthError;

CODEX_AUTH_EXPORT
GQuark codex_auth_error_quark (void);

G_END_DECLS
