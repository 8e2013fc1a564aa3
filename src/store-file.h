/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-lock.h"
#include "auth-record.h"
#include "store-read.h"

/* The file store: $CODEX_HOME/auth.json, written the way the Codex CLI
 * writes it, read and written in worker threads, with a directory watch
 * that reports changes made by other processes (the Codex CLI writes a
 * temporary file and renames it onto auth.json).
 *
 * It has the asynchronous shape of the keyring store (store-secret.h):
 * load, save, delete, describe, "changed". The store policy calls it
 * directly; the unit tests of the policy and the manager link one in
 * memory in its place (tests/unit/fakes/). */
#define STORE_TYPE_FILE (store_file_get_type ())
G_DECLARE_FINAL_TYPE (StoreFile, store_file, STORE, FILE, GObject)

/* @lock (may be NULL) tells when the refresh holds auth.lock already, so
 * that a write does not take it again. */
StoreFile *store_file_new (const char *codex_home, AuthLock *lock);
/* The path of auth.json, for messages. */
const char *store_file_describe (StoreFile *self);

/* Starts watching $CODEX_HOME; "changed" is emitted (coalesced) after
 * auth.json or the Codex CLI's config.toml was created, replaced, modified
 * or deleted, and after a writer closed auth.json.lock (the Codex CLI
 * holds it around every save, to the keyring item too). */
gboolean store_file_watch (StoreFile *self, GError **error);

/* Reads auth.json: FOUND or NOT_FOUND, or an error that names the file
 * and the problem (no secret in it). */
void store_file_load_async (StoreFile *self, GAsyncReadyCallback callback, gpointer user_data);
StoreRead *store_file_load_finish (StoreFile *self, GAsyncResult *result, GError **error);

/* Writes @record (store_file_save_sync()), or removes auth.json
 * (store_file_delete_sync()); auth.lock is taken unless the refresh holds
 * it. */
void store_file_save_async (StoreFile *self, AuthRecord *record, GAsyncReadyCallback callback, gpointer user_data);
void store_file_delete_async (StoreFile *self, GAsyncReadyCallback callback, gpointer user_data);
gboolean store_file_write_finish (StoreFile *self, GAsyncResult *result, GError **error);

/* ---- the same, blocking (worker threads and tests, never the main loop) */

/* Reads and parses auth.json: a record, or NULL with no error when there
 * is no auth.json, or NULL with an error. */
AuthRecord *store_file_load_sync (StoreFile *self, GError **error);

/* Writes @record as auth.json the way the Codex CLI does: under auth.lock
 * (unless @lock_held) and auth.json.lock, to a 0600 temporary file that is
 * fsynced and renamed over auth.json. */
gboolean store_file_save_sync (StoreFile *self, AuthRecord *record, gboolean lock_held, GError **error);

/* Removes auth.json under the same locks as a save; a missing file is
 * fine. */
gboolean store_file_delete_sync (StoreFile *self, gboolean lock_held, GError **error);
