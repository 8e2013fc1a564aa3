/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-record.h"
#include "codex-config.h"
#include "store-mode.h"

/* The store policy: which of the two stores (the Codex keyring item and
 * $CODEX_HOME/auth.json) the credentials are read from, where they are
 * written back, where a new login goes, and in which order a login or a
 * logout writes and removes. It does no I/O of its own: it drives the two
 * stores through CredentialStoreIO (the real ones in auth-backend.c, fakes
 * in the unit tests). Errors are CODEX_AUTH_ERROR_STORE_*.
 *
 * The daemon's store= setting chooses the store (file, secret-service),
 * or, set to auto (the default), follows the Codex CLI's own setting,
 * cli_auth_credentials_store in $CODEX_HOME/config.toml, read again before
 * every load, login, logout and move, so that the daemon and the CLI always
 * read and write the same place. The policy in force, with the CLI's rules:
 *  - file (the CLI's default, and what applies when config.toml cannot be
 *    used): auth.json only. The keyring is never touched.
 *  - keyring (the CLI's "keyring"): the keyring item only; every write of
 *    the item then removes auth.json, as the CLI does.
 *  - auto (the CLI's "auto"): the keyring item when the Secret Service has
 *    it; else auth.json (read when the keyring has no item or no Secret
 *    Service runs). Once an item was seen, a Secret Service that goes away
 *    is reported as unavailable rather than falling back to auth.json. A
 *    write to the item removes auth.json; a new login goes to the keyring,
 *    or to auth.json with no Secret Service. A locked keyring is an error,
 *    never a reason to fall back.
 *  - secret-service (the daemon's own setting): the keyring item only; an
 *    auth.json is left alone.
 *  - Logout removes the keyring item first (a locked keyring removes
 *    nothing), then auth.json unless the policy is secret-service.
 */

typedef struct {
  CodexStoreSetting setting;
  char *problem; /* why config.toml cannot be used, or NULL */
} StoreConfigRead;

void store_config_read_free (StoreConfigRead *read);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreConfigRead, store_config_read_free)

typedef enum {
  STORE_READ_FOUND,       /* record set */
  STORE_READ_NOT_FOUND,   /* reachable, nothing stored */
  STORE_READ_LOCKED,      /* keyring only: the item exists but is locked */
  STORE_READ_UNAVAILABLE, /* keyring only: no Secret Service on the bus */
} StoreReadStatus;

typedef struct {
  StoreReadStatus status;
  AuthRecord *record;
} StoreRead;

void store_read_free (StoreRead *read);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreRead, store_read_free)

/* The two stores. Each operation completes a GTask (source object NULL):
 * loads with a StoreRead* (or an error for an unreadable record), writes
 * and removals with a boolean or an error. Removing what is not there, or
 * from a Secret Service that is not running, succeeds. */
typedef struct _CredentialStoreIO CredentialStoreIO;
struct _CredentialStoreIO {
  void (*keyring_load) (CredentialStoreIO *io, GAsyncReadyCallback callback, gpointer user_data);
  void (*keyring_save) (CredentialStoreIO *io, AuthRecord *record, GAsyncReadyCallback callback,
                        gpointer user_data);
  void (*keyring_delete) (CredentialStoreIO *io, GAsyncReadyCallback callback, gpointer user_data);
  void (*file_load) (CredentialStoreIO *io, GAsyncReadyCallback callback, gpointer user_data);
  void (*file_save) (CredentialStoreIO *io, AuthRecord *record, GAsyncReadyCallback callback,
                     gpointer user_data);
  void (*file_delete) (CredentialStoreIO *io, GAsyncReadyCallback callback, gpointer user_data);
  /* Reads the Codex CLI's setting: a StoreConfigRead*, never an error. */
  void (*config_read) (CredentialStoreIO *io, GAsyncReadyCallback callback, gpointer user_data);
  /* Sets it to @value in config.toml: boolean or an error. */
  void (*config_write) (CredentialStoreIO *io, const char *value, GAsyncReadyCallback callback,
                        gpointer user_data);
  /* For messages: "the Secret Service item cli|...", "/home/u/.codex/auth.json". */
  const char *(*keyring_describe) (CredentialStoreIO *io);
  const char *(*file_describe) (CredentialStoreIO *io);
};

typedef struct _CredentialStore CredentialStore;

/* @setting is the daemon's store= setting. @io stays owned by the caller
 * and must outlive the store. */
CredentialStore *credential_store_new (StoreMode setting, CredentialStoreIO *io);
void credential_store_free (CredentialStore *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CredentialStore, credential_store_free)

/* The daemon's store= setting. */
StoreMode credential_store_get_setting (CredentialStore *self);
/* FALSE when the daemon's setting is file: no keyring is ever used. */
gboolean credential_store_may_use_keyring (CredentialStore *self);
/* FALSE when the policy in force is file: no keyring to unlock. */
gboolean credential_store_uses_keyring (CredentialStore *self);
/* Which setting chose the store, for GetAuthStatusDetails and status:
 * "Codex config: keyring", "Codex default: file", "daemon setting: file"... */
const char *credential_store_get_reason (CredentialStore *self);
/* Why the Codex CLI's config.toml cannot be used (its default then
 * applies), or NULL. */
const char *credential_store_get_config_problem (CredentialStore *self);
/* Where the record in use came from and is written back to: the
 * CredentialStore property, "secret-service", "file" or "none". */
const char *credential_store_get_source_name (CredentialStore *self);
/* The same, for messages. */
const char *credential_store_describe (CredentialStore *self);
/* Where a load looks under the policy in force, for messages about what
 * it did not find: "auth.json", "the Secret Service item ... or auth.json". */
const char *credential_store_describe_searched (CredentialStore *self);

/* Reads the credentials: an AuthRecord (a new reference), or NULL with no
 * error when nothing is stored, or NULL with an error. */
void credential_store_load_async (CredentialStore *self, GAsyncReadyCallback callback, gpointer user_data);
AuthRecord *credential_store_load_finish (CredentialStore *self, GAsyncResult *result, GError **error);

/* Writes a refreshed @record back where the record in use came from. */
void credential_store_save_async (CredentialStore *self, AuthRecord *record, GAsyncReadyCallback callback,
                                  gpointer user_data);
/* Stores a new login where the mode puts it. */
void credential_store_save_login_async (CredentialStore *self, AuthRecord *record,
                                        GAsyncReadyCallback callback, gpointer user_data);
/* Removes the credentials from every store of the mode. */
void credential_store_remove_all_async (CredentialStore *self, GAsyncReadyCallback callback,
                                        gpointer user_data);
/* Moves the credentials to @target (STORE_MODE_SECRET_SERVICE or
 * STORE_MODE_FILE) and sets the Codex CLI's setting to match ("keyring" or
 * "file"): @record (NULL: none stored, only the setting changes) is
 * written to the target, the setting is written, then the other store is
 * emptied. If the setting cannot be written, the copy just made is removed
 * again and nothing changes. CODEX_AUTH_ERROR_NOT_SUPPORTED when the
 * daemon's own setting chooses the store. */
void credential_store_move_async (CredentialStore *self, AuthRecord *record, StoreMode target,
                                  GAsyncReadyCallback callback, gpointer user_data);
/* The outcome of a save, a login, a removal or a move. */
gboolean credential_store_write_finish (CredentialStore *self, GAsyncResult *result, GError **error);
