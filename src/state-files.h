/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "auth-record.h"
#include "poison-record.h"

/* The daemon's own state files, beside the credentials: the persisted
 * poison record (poison-record.h) and the rescue copy of refreshed tokens
 * the store has not taken yet (rescue-copy.h). Read and written in worker
 * threads.
 *
 * One of the manager's seams (docs/design.md): the daemon's are files in
 * its state directory (state-files.c); the unit tests link ones in memory
 * in their place (tests/unit/fakes/). */

typedef struct {
  PoisonRecord *poison; /* NULL: none */
  /* The rescue copy and the fingerprint of the stored record it was
   * refreshed from; NULL: none. */
  AuthRecord *rescue;
  char *rescue_base_fingerprint;
} SavedState;

void saved_state_free (SavedState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SavedState, saved_state_free)

typedef struct _StateFiles StateFiles;

/* @rescue_path: the rescue copy on disk; @volatile_rescue_path: the one in
 * the session's runtime directory (NULL: there is none). */
StateFiles *state_files_new (const char *poison_path, const char *rescue_path, const char *volatile_rescue_path);
void state_files_free (StateFiles *files);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StateFiles, state_files_free)

/* Reads both; never fails (a file that cannot be used is logged and
 * counts as absent). */
void state_files_load_async (StateFiles *files, GAsyncReadyCallback callback, gpointer user_data);
SavedState *state_files_load_finish (StateFiles *files, GAsyncResult *result);

/* Writes @poison, or removes the record when NULL. */
void state_files_save_poison_async (StateFiles *files, const PoisonRecord *poison, GAsyncReadyCallback callback,
                                    gpointer user_data);
/* Where a rescue copy goes (rescue-copy.h). */
typedef enum {
  RESCUE_ON_DISK,   /* tokens bound for auth.json */
  RESCUE_NOT_ON_DISK, /* tokens bound for the keyring: the runtime directory, or nowhere */
} RescuePlace;

/* Writes the rescue copy of @record, refreshed from the stored record
 * whose fingerprint is @base_fingerprint, at @place (removing the copy at
 * the other place); removes every copy when @record is NULL. */
void state_files_save_rescue_async (StateFiles *files, AuthRecord *record, const char *base_fingerprint,
                                    RescuePlace place, GAsyncReadyCallback callback, gpointer user_data);
/* The outcome of either write. */
gboolean state_files_write_finish (StateFiles *files, GAsyncResult *result, GError **error);
