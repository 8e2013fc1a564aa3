/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-manager.h"
#include "revoke.h"
#include "signin-manager.h"

/* Logout (the D-Bus Logout method, `codex-authctl logout`): ends the
 * pending sign-in, revokes the ChatGPT refresh token (else the access
 * token) as `codex logout` does unless revocation is turned off, then
 * removes the credentials from every store (auth_manager_logout_async()).
 * A failed revocation does not fail the logout; it is in the outcome. */

typedef struct {
  const char *revocation; /* "revoked", "failed", "disabled" or "none" (nothing to revoke) */
  const char *token_type; /* "refresh_token", "access_token" or "" */
  char *error;            /* why it failed, "" otherwise */
} LogoutOutcome;

void logout_outcome_clear (LogoutOutcome *outcome);

void logout_async (AuthManager *auth, SigninManager *signins, Revoker *revoker, GAsyncReadyCallback callback,
                   gpointer user_data);
gboolean logout_finish (GAsyncResult *result, LogoutOutcome *outcome, GError **error);

/* TRUE while a logout is in progress: not a moment to exit. */
gboolean logout_in_progress (void);
/* At shutdown: lets the logouts in progress finish, for at most @max_usec. */
void logout_wait (gint64 max_usec);
