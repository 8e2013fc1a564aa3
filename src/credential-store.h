/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-record.h"
#include "store-mode.h"

/* The store policy: which of the two stores (the Codex keyring item and
 * $CODEX_HOME/auth.json) the credentials are read from, where they are
 * written back, where a new login goes, and in which order a login or a
 * logout writes and removes. It does no I/O of its own: it drives the two
 * stores through CredentialStoreIO (the real ones in auth-backend.c, fakes
 * in the unit tests). Errors are CODEX_AUTH_ERROR_STORE_*.
 *
 * The rules, by mode:
 *  - file: auth.json only.
 *  - secret-service: the keyring item only.
 *  - auto: the keyring item when the Secret Service has it; else auth.json
 *    (read when the keyring has no item or no Secret Service runs). Once an
 *    item was seen, a Secret Service that goes away is reported as
 *    unavailable rather than falling back to auth.json. A new login goes
 *    to the keyring, and then auth.json is removed (as the Codex CLI does);
 *    with no Secret Service it goes to auth.json. A locked keyring is an
 *    error, never a reason to fall back.
 *  - Logout removes the keyring item first (a locked keyring removes
 *    nothing), then auth.json unless the mode is secret-service.
 */

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
  /* For messages: "the Secret Service item cli|...", "/home/u/.codex/auth.json". */
  const char *(*keyring_describe) (CredentialStoreIO *io);
  const char *(*file_describe) (CredentialStoreIO *io);
};

typedef struct _CredentialStore CredentialStore;

/* @io stays owned by the caller and must outlive the store. */
CredentialStore *credential_store_new (StoreMode mode, CredentialStoreIO *io);
void credential_store_free (CredentialStore *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CredentialStore, credential_store_free)

StoreMode credential_store_get_mode (CredentialStore *self);
/* FALSE in file mode: there is no keyring to unlock or watch. */
gboolean credential_store_uses_keyring (CredentialStore *self);
/* Where the record in use came from and is written back to: the
 * CredentialStore property, "secret-service", "file" or "none". */
const char *credential_store_get_source_name (CredentialStore *self);
/* The same, for messages. */
const char *credential_store_describe (CredentialStore *self);

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
/* The outcome of a save, a login or a removal. */
gboolean credential_store_write_finish (CredentialStore *self, GAsyncResult *result, GError **error);
