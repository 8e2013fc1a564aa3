/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-record.h"

/* The Secret Service store: the Codex CLI's keyring item, through
 * libsecret's asynchronous API only. The item is exactly the one the Codex
 * CLI writes: attributes service="Codex Auth", username="cli|" + the first
 * 16 hex digits of SHA-256(realpath(CODEX_HOME)), target="default",
 * application="rust-keyring"; the secret is the compact auth.json JSON.
 *
 * It never asks the Secret Service to unlock anything, except in
 * store_secret_unlock_async() (an explicit user action). */

typedef enum {
  STORE_SECRET_FOUND,       /* record set */
  STORE_SECRET_NOT_FOUND,   /* reachable, no item */
  STORE_SECRET_LOCKED,      /* the item exists but is locked */
  STORE_SECRET_UNAVAILABLE, /* no Secret Service on the bus */
} StoreSecretStatus;

#define STORE_TYPE_SECRET (store_secret_get_type ())
G_DECLARE_FINAL_TYPE (StoreSecret, store_secret, STORE, SECRET, GObject)

StoreSecret *store_secret_new (const char *codex_home);

/* "cli|" + 16 hex digits, computed from @codex_home's real path. */
char *store_secret_username_for (const char *codex_home);
const char *store_secret_get_username (StoreSecret *self);

/* Subscribes to the Secret Service's signals and to its presence on the
 * bus; "changed" is emitted (coalesced) after an item or a collection
 * changed, or the service appeared or went away. */
void store_secret_watch (StoreSecret *self);

/* Finds and reads the item. The result is a StoreSecretStatus and, for
 * FOUND, a record; a malformed secret is an error naming the problem. */
void store_secret_load_async (StoreSecret *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
StoreSecretStatus store_secret_load_finish (StoreSecret *self, GAsyncResult *result,
                                            AuthRecord **record, GError **error);

/* Save, delete and unlock complete through store_secret_op_finish(). */

/* Writes the item in the default keyring (CreateItem with replace: the
 * item is updated in place, or created); duplicates with the same
 * attributes are removed. Fails on a locked keyring, without prompting. */
void store_secret_save_async (StoreSecret *self, AuthRecord *record, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);

/* Removes every item with the Codex attributes. Nothing stored (or no
 * Secret Service) is success; a locked item fails without prompting. */
void store_secret_delete_async (StoreSecret *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);

/* Asks the Secret Service to unlock the item (or the default collection):
 * this may show the desktop's prompt. */
void store_secret_unlock_async (StoreSecret *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);

/* The outcome of a save, delete or unlock. */
gboolean store_secret_op_finish (StoreSecret *self, GAsyncResult *result, GError **error);
