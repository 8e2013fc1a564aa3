/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-record.h"
#include "store-read.h"

/* The keyring store: the Codex CLI's Secret Service item, through
 * libsecret's asynchronous API only. The item is exactly the one the Codex
 * CLI writes: attributes service="Codex Auth", username="cli|" + the first
 * 16 hex digits of SHA-256(realpath(CODEX_HOME)), target="default",
 * application="rust-keyring"; the secret is the compact auth.json JSON.
 *
 * It has the asynchronous shape of the file store (store-file.h): load,
 * save, delete, describe, "changed". The store policy calls it directly;
 * the unit tests of the policy and the manager link one in memory in its
 * place (tests/unit/fakes/).
 *
 * It never asks the Secret Service to unlock anything, except in
 * store_secret_unlock_async() (an explicit user action). */
#define STORE_TYPE_SECRET (store_secret_get_type ())
G_DECLARE_FINAL_TYPE (StoreSecret, store_secret, STORE, SECRET, GObject)

StoreSecret *store_secret_new (const char *codex_home);

/* "cli|" + 16 hex digits, computed from @codex_home's real path. */
char *store_secret_username_for (const char *codex_home);
const char *store_secret_get_username (StoreSecret *self);
/* "the Secret Service item cli|...", for messages. */
const char *store_secret_describe (StoreSecret *self);

/* Subscribes to the Secret Service's signals (items created, changed or
 * deleted; collections locked, unlocked, created or removed) and to its
 * presence on the bus; "changed" is emitted (coalesced) after any of
 * them. Nothing is polled. */
void store_secret_watch (StoreSecret *self);

/* Finds and reads the item: FOUND, NOT_FOUND, LOCKED or UNAVAILABLE; a
 * secret that is not a usable record is an error naming the problem. */
void store_secret_load_async (StoreSecret *self, GAsyncReadyCallback callback, gpointer user_data);
StoreRead *store_secret_load_finish (StoreSecret *self, GAsyncResult *result, GError **error);

/* Writes the item in the default keyring (CreateItem with replace: the
 * item is updated in place, or created); duplicates with the same
 * attributes are removed. Fails on a locked keyring (STORE_LOCKED),
 * without prompting, and without a Secret Service (STORE_UNAVAILABLE). */
void store_secret_save_async (StoreSecret *self, AuthRecord *record, GAsyncReadyCallback callback,
                              gpointer user_data);
/* Removes every item with the Codex attributes. Nothing stored (or no
 * Secret Service) is success; a locked item fails without prompting. */
void store_secret_delete_async (StoreSecret *self, GAsyncReadyCallback callback, gpointer user_data);
gboolean store_secret_write_finish (StoreSecret *self, GAsyncResult *result, GError **error);

/* Asks the Secret Service to unlock the item (or the default collection):
 * this may show the desktop's prompt. */
void store_secret_unlock_async (StoreSecret *self, GAsyncReadyCallback callback, gpointer user_data);
gboolean store_secret_unlock_finish (StoreSecret *self, GAsyncResult *result, GError **error);
