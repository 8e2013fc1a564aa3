/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <stdint.h>

#include "auth-lock.h"
#include "auth-record.h"
#include "auth-status.h"
#include "sensitive.h"
#include "state-files.h"
#include "store-policy.h"
#include "token-endpoint.h"

/* Refresh rules (DESIGN §5). */
#define AUTH_REFRESH_LEEWAY_USEC (G_GINT64_CONSTANT (5) * 60 * G_USEC_PER_SEC)
#define AUTH_STALE_AGE_USEC (G_GINT64_CONSTANT (8) * 24 * 3600 * G_USEC_PER_SEC)
#define AUTH_RECENT_REFRESH_USEC (G_GINT64_CONSTANT (30) * G_USEC_PER_SEC)
/* After refresh_token_reused: how long the store is watched for the token
 * another program rotated, and how often it is read meanwhile. */
#define AUTH_REUSE_WAIT_USEC (G_GINT64_CONSTANT (5) * G_USEC_PER_SEC)
#define AUTH_REUSE_POLL_USEC (G_GINT64_CONSTANT (200) * 1000)
/* A keyring item read longer ago than this is read again before a token
 * from it goes out (gnome-keyring does not announce an item replaced in
 * place). */
#define AUTH_REVALIDATE_USEC (G_GINT64_CONSTANT (1) * G_USEC_PER_SEC)

/* The owner of the credential state and the refresh state machine
 * (DESIGN §5). It has no I/O of its own: it calls the store policy, the
 * daemon's state files, auth.lock and the token endpoint, and tells
 * listeners through "changed" (emitted once per state change) that
 * auth_manager_get_status() may answer differently. Its code is in three
 * files: auth-manager.c (this object, reading the store, what clients
 * see), auth-refresh.c (the refresh) and auth-writes.c (the writes). */
#define AUTH_TYPE_MANAGER (auth_manager_get_type ())
G_DECLARE_FINAL_TYPE (AuthManager, auth_manager, AUTH, MANAGER, GObject)

/* Takes all four. @lock is the one the policy's file store knows. */
AuthManager *auth_manager_new (StorePolicy *policy, StateFiles *state_files, AuthLock *lock,
                               TokenEndpoint *endpoint);

/* Watches the store and performs the first load. */
gboolean auth_manager_start (AuthManager *self, GError **error);

/* At shutdown: answers the callers waiting for a refresh at once, lets a
 * token request in flight finish (it is time-bounded) and saves its
 * result, applies the store changes still queued, then returns. */
void auth_manager_stop (AuthManager *self);

/* Re-reads the store. Requests made while a read is running are served by
 * one more read started after it. Fails with CODEX_AUTH_ERROR_STORE_ERROR
 * when the store could not be read; the credentials held are kept then. */
void auth_manager_reload_async (AuthManager *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean auth_manager_reload_finish (AuthManager *self, GAsyncResult *result, GError **error);

/* How recent a successful refresh must be to satisfy a forced one
 * (AUTH_RECENT_REFRESH_USEC). For tests only: a fault-injection test sets
 * 0 so that every forced call refreshes. */
void auth_manager_set_recent_refresh_window (AuthManager *self, gint64 usec);

/* How long a refresh_token_reused answer waits for another program's save
 * (AUTH_REUSE_WAIT_USEC); under AUTH_REUSE_POLL_USEC it poisons at once.
 * For tests. */
void auth_manager_set_reuse_wait (AuthManager *self, gint64 usec);

/* TRUE once the first load finished (successfully or not). */
gboolean auth_manager_is_loaded (AuthManager *self);

void auth_manager_get_status (AuthManager *self, AuthStatus *status);

/* The token a client may be given: the API key or the ChatGPT access
 * token; NULL when there is none usable or the credentials are poisoned.
 * Owned by the manager. */
const char *auth_manager_get_token (AuthManager *self);

/* TRUE when a call must wait for a refresh before it is answered: asked
 * for (@force) or due (the token is wanted and expires within 5 minutes),
 * and allowed (ChatGPT credentials, not poisoned, not in backoff, no
 * successful refresh in the last 30 s). Cheap and synchronous.
 *
 * This is also where a refresh is retried after a backoff: there is no
 * timer; once the backoff deadline (NextRefreshAttempt) has passed, the
 * next call that needs a refresh gets TRUE here and starts it. */
gboolean auth_manager_refresh_needed (AuthManager *self, gboolean force, gboolean want_token);

/* Joins the refresh in flight, or starts one. Completes when it is over,
 * whatever the outcome; the answer is then in get_status()/get_token(). */
void auth_manager_refresh_async (AuthManager *self, GAsyncReadyCallback callback, gpointer user_data);
void auth_manager_refresh_finish (AuthManager *self, GAsyncResult *result);

/* Whether a call must wait before it is answered: the keyring item is read
 * again first when a token is wanted and the last read is older than
 * AUTH_REVALIDATE_USEC, and a refresh follows when
 * auth_manager_refresh_needed() says so. auth_manager_prepare_async() does
 * both and always completes (the answer is then in get_status()). */
gboolean auth_manager_prepare_needed (AuthManager *self, gboolean force, gboolean want_token);
void auth_manager_prepare_async (AuthManager *self, gboolean force, gboolean want_token,
                                 GAsyncReadyCallback callback, gpointer user_data);
void auth_manager_prepare_finish (AuthManager *self, GAsyncResult *result);

/* Moves the credentials to @target (STORE_KIND_KEYRING or STORE_KIND_FILE)
 * and sets the Codex CLI's setting to match. Fails with
 * CODEX_AUTH_ERROR_NOT_SUPPORTED when the daemon's store= setting chooses
 * the store, and with a store error when the store cannot be read now. */
void auth_manager_move_async (AuthManager *self, StoreKind target, GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean auth_manager_move_finish (AuthManager *self, GAsyncResult *result, GError **error);

/* Stores @record as the new login (where the store policy says), then uses
 * it: poison and backoff end. On failure (CODEX_AUTH_ERROR_STORE_*)
 * nothing changes. */
void auth_manager_login_async (AuthManager *self, AuthRecord *record, GAsyncReadyCallback callback,
                               gpointer user_data);
gboolean auth_manager_login_finish (AuthManager *self, GAsyncResult *result, GError **error);

/* Which login is in use: a number that changes whenever the credentials
 * become another login's (a sign-in, a logout, another program's change),
 * never with this daemon's own refreshes. */
guint64 auth_manager_get_login_generation (AuthManager *self);

/* Removes the credentials from every store and the poison record, if the
 * login in use is still @generation (auth_manager_get_login_generation()
 * when the logout was decided); otherwise (a sign-in meanwhile) removes
 * nothing and fails with CODEX_AUTH_ERROR_CREDENTIALS_CHANGED. */
void auth_manager_logout_async (AuthManager *self, guint64 generation, GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean auth_manager_logout_finish (AuthManager *self, GAsyncResult *result, GError **error);

/* What a logout revokes: the ChatGPT refresh token, else the access token
 * (@hint says which: "refresh_token" or "access_token"); NULL for API-key
 * credentials or none. */
Sensitive *auth_manager_dup_revocable_token (AuthManager *self, const char **hint);

/* Asks the store to unlock (an explicit user action: it may show the
 * desktop's prompt), then reads it again. */
void auth_manager_unlock_store_async (AuthManager *self, GAsyncReadyCallback callback, gpointer user_data);
gboolean auth_manager_unlock_store_finish (AuthManager *self, GAsyncResult *result, GError **error);

/* TRUE while anything is in progress (a read, a refresh, a save, a
 * refreshed record not saved yet): not a moment to exit. */
gboolean auth_manager_is_busy (AuthManager *self);

/* ---- for the local token endpoint (auth-relay.c) ---- */

/* After the daemon obtained tokens from the issuer, a refresh asked with
 * the current refresh token within this window is answered with those
 * tokens: a burst of forced refreshes from many Codex processes is one
 * rotation. */
#define AUTH_RELAY_COALESCE_USEC (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)
/* A refresh token the daemon's refreshes replaced within this long is
 * answered with the current tokens (the process read the store before the
 * rotation). */
#define AUTH_RELAY_GRACE_USEC (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)

/* What a refresh asked with @refresh_token gets (DESIGN §5 and
 * docs/local-endpoint.md). */
typedef enum {
  AUTH_RELAY_CURRENT,     /* the current tokens, now */
  AUTH_RELAY_REFRESH,     /* refresh first (auth_manager_refresh_async), then ask again */
  AUTH_RELAY_POISONED,    /* the permanent failure of these credentials */
  AUTH_RELAY_BACKOFF,     /* a transient failure: try again later */
  AUTH_RELAY_UNAVAILABLE, /* this login's, but nothing to give now (not loaded, stopping) */
  AUTH_RELAY_FOREIGN,     /* not this login's token: the issuer decides */
} AuthRelayVerdict;

/* @after_refresh: a refresh asked for by an earlier verdict has just
 * ended (REFRESH is not given twice). */
AuthRelayVerdict auth_manager_relay_verdict (AuthManager *self, const char *refresh_token, gboolean after_refresh);
/* The record in use (a reference), NULL: none. */
AuthRecord *auth_manager_dup_record (AuthManager *self);
/* The permanent failure of the record in use (a copy), NULL: none. */
PoisonRecord *auth_manager_dup_poison (AuthManager *self);
/* How long the backoff still lasts, 0: none. */
gint64 auth_manager_backoff_remaining (AuthManager *self);
/* The LocalTokenEndpoint property (NULL: off); set before serving. */
void auth_manager_set_local_endpoint_url (AuthManager *self, const char *url);
/* TRUE when @token is the access or refresh token of the record in use. */
gboolean auth_manager_owns_token (AuthManager *self, const char *token);
