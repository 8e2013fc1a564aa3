/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "http-client.h"

/* Revoking a token at the issuer's revoke endpoint, as `codex logout` and
 * `codex login` do (docs/login.md): bounded by REVOKE_TIMEOUT_SECONDS,
 * best-effort for its callers. */

#define REVOKE_TIMEOUT_SECONDS 10

typedef struct _Revoker Revoker;

/* @enabled FALSE (the revoke=false setting): nothing is ever revoked. */
Revoker *revoker_new (HttpClient *http, const char *url, const char *client_id, gboolean enabled);
void revoker_free (Revoker *revoker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Revoker, revoker_free)

gboolean revoker_is_enabled (Revoker *revoker);

/* Revokes @token (a "refresh_token" or an "access_token", says @hint: a
 * static string). */
void revoker_revoke_async (Revoker *revoker, const char *token, const char *hint, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
/* TRUE when revoked; else *error_message says why (never the token). */
gboolean revoker_revoke_finish (Revoker *revoker, GAsyncResult *result, char **error_message);
