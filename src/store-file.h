/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-record.h"

/* The file store: $CODEX_HOME/auth.json, read off the main loop, with a
 * directory watch that reports changes made by other processes (the Codex
 * CLI writes a temporary file and renames it onto auth.json). */
#define STORE_TYPE_FILE (store_file_get_type ())
G_DECLARE_FINAL_TYPE (StoreFile, store_file, STORE, FILE, GObject)

StoreFile *store_file_new (const char *codex_home);
const char *store_file_get_path (StoreFile *self);

/* Starts watching $CODEX_HOME; "changed" is emitted (coalesced) after
 * auth.json or the Codex CLI's config.toml was created, replaced, modified
 * or deleted, and after a writer closed auth.json.lock (the Codex CLI
 * holds it around every save, to the keyring item too). */
gboolean store_file_watch (StoreFile *self, GError **error);

/* Reads and parses auth.json. The result is a record, or NULL with no
 * error when there is no auth.json, or NULL with an error that names the
 * file and the problem (no secret in it). Blocking: worker threads and
 * tests only, never the main loop. */
AuthRecord *store_file_load_sync (StoreFile *self, GError **error);


/* Takes the Codex CLI's update lock ($CODEX_HOME/auth.lock), waiting a
 * bounded time. *fd_out holds it (close to release); it is -1 when no lock
 * can exist because the directory admits no new files. Blocking. */
gboolean store_file_hold_lock_sync (StoreFile *self, int *fd_out, GError **error);

/* Writes @record as auth.json the way the Codex CLI does: under auth.lock
 * (unless @lock_held) and auth.json.lock, to a 0600 temporary file that is
 * fsynced and renamed over auth.json. Blocking. */
gboolean store_file_save_sync (StoreFile *self, AuthRecord *record, gboolean lock_held, GError **error);

/* Removes auth.json under the same locks as a save; a missing file is
 * fine. Blocking. */
gboolean store_file_delete_sync (StoreFile *self, gboolean lock_held, GError **error);
