/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-record.h"
#include "cli-setting.h"
#include "store-file.h"
#include "store-secret.h"
#include "store-setting.h"

/* The store policy: which of the two stores (the Codex keyring item and
 * $CODEX_HOME/auth.json) the credentials are read from, where they are
 * written back, where a new login goes, and in which order a login, a
 * logout or a move writes and removes. It calls the two stores directly
 * (store-file.h, store-secret.h: the same asynchronous shape) and reads
 * the Codex CLI's setting through cli-setting.h. Errors are
 * CODEX_AUTH_ERROR_STORE_*.
 *
 * The daemon's store= setting chooses the store (file, secret-service),
 * or, set to auto (the default), follows the Codex CLI's own setting,
 * cli_auth_credentials_store in $CODEX_HOME/config.toml, read again before
 * every load, login, logout and move, so that the daemon and the CLI always
 * read and write the same place. The choice in force, with the CLI's rules:
 *  - file (the CLI's default, and what applies when config.toml cannot be
 *    used): auth.json only. The keyring is never touched.
 *  - keyring (the CLI's "keyring"): the keyring item only; every write of
 *    the item then removes auth.json, as the CLI does.
 *  - keyring or file (the CLI's "auto"): the keyring item when the Secret
 *    Service has it; else auth.json (read when the keyring has no item or
 *    no Secret Service runs). Once an item was seen, a Secret Service that
 *    goes away is reported as unavailable rather than falling back to
 *    auth.json. A write to the item removes auth.json; a new login goes to
 *    the keyring, or to auth.json with no Secret Service. A locked keyring
 *    is an error, never a reason to fall back.
 *  - the daemon's store=secret-service: the keyring item only; an
 *    auth.json is left alone.
 *  - Logout removes the keyring item first (a locked keyring removes
 *    nothing), then auth.json unless the daemon's setting is
 *    secret-service.
 *
 * "changed" is emitted when either store (or config.toml) changed. */
#define STORE_TYPE_POLICY (store_policy_get_type ())
G_DECLARE_FINAL_TYPE (StorePolicy, store_policy, STORE, POLICY, GObject)

/* @keyring is NULL when @setting is STORE_SETTING_FILE. References to the
 * stores are taken; @cli is taken. */
StorePolicy *store_policy_new (StoreSetting setting, StoreFile *file, StoreSecret *keyring, CliSetting *cli);

/* Starts watching the stores. */
gboolean store_policy_watch (StorePolicy *self, GError **error);

/* The daemon's store= setting. */
StoreSetting store_policy_get_setting (StorePolicy *self);
/* FALSE when the choice in force is the file: no keyring to unlock. */
gboolean store_policy_uses_keyring (StorePolicy *self);
/* Which setting made the choice, for GetAuthStatusDetails and status:
 * "Codex config: keyring", "Codex default: file", "daemon setting: file"... */
const char *store_policy_get_reason (StorePolicy *self);
/* Why the Codex CLI's config.toml cannot be used (its default then
 * applies), or NULL. */
const char *store_policy_get_config_problem (StorePolicy *self);
/* Where the record in use came from and is written back to: the
 * CredentialStore property. */
StoreKind store_policy_get_source (StorePolicy *self);
/* The same, for messages. */
const char *store_policy_describe (StorePolicy *self);
/* Where a load looks under the choice in force, for messages about what
 * it did not find: "auth.json", "the Secret Service item ... or auth.json". */
const char *store_policy_describe_searched (StorePolicy *self);

/* Reads the credentials: an AuthRecord (a new reference), or NULL with no
 * error when nothing is stored, or NULL with an error. */
void store_policy_load_async (StorePolicy *self, GAsyncReadyCallback callback, gpointer user_data);
AuthRecord *store_policy_load_finish (StorePolicy *self, GAsyncResult *result, GError **error);

/* Writes a refreshed @record back where the record in use came from. */
void store_policy_save_async (StorePolicy *self, AuthRecord *record, GAsyncReadyCallback callback,
                              gpointer user_data);
/* Stores a new login where the choice in force puts it. */
void store_policy_save_login_async (StorePolicy *self, AuthRecord *record, GAsyncReadyCallback callback,
                                    gpointer user_data);
/* Removes the credentials from every store of the choice in force. */
void store_policy_remove_all_async (StorePolicy *self, GAsyncReadyCallback callback, gpointer user_data);
/* Moves the credentials to @target (STORE_KIND_KEYRING or STORE_KIND_FILE)
 * and sets the Codex CLI's setting to match ("keyring" or "file"): @record
 * (NULL: none stored, only the setting changes) is written to the target,
 * the setting is written, then the other store is emptied. If the setting
 * cannot be written, the copy just made is removed again and nothing
 * changes. CODEX_AUTH_ERROR_NOT_SUPPORTED when the daemon's own setting
 * chooses the store. */
void store_policy_move_async (StorePolicy *self, AuthRecord *record, StoreKind target, GAsyncReadyCallback callback,
                              gpointer user_data);
/* Asks the keyring to unlock (an explicit user action: it may show the
 * desktop's prompt); STORE_UNAVAILABLE when the choice is the file. */
void store_policy_unlock_async (StorePolicy *self, GAsyncReadyCallback callback, gpointer user_data);
/* The outcome of a save, a login, a removal, a move or an unlock. */
gboolean store_policy_write_finish (StorePolicy *self, GAsyncResult *result, GError **error);
