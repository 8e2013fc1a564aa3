/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The AuthManager's state, shared by the three files that make it up:
 * auth-manager.c (the object, reading the store, what clients see),
 * auth-refresh.c (the refresh) and auth-writes.c (every change to the
 * stores). Nothing else includes this. */

#include "auth-lock.h"
#include "auth-manager.h"
#include "backoff.h"
#include "poison-record.h"
#include "rotations.h"
#include "state-files.h"
#include "store-policy.h"
#include "token-endpoint.h"
#include "write-queue.h"

/* A read of the store and of the daemon's own state files. */
typedef struct {
  AuthRecord *record;   /* NULL: no credentials stored */
  PoisonRecord *poison; /* the persisted poison record, NULL: none */
  /* The rescue copy of refreshed tokens not saved yet, and the
   * fingerprint of the stored record it came from; NULL: none. */
  AuthRecord *rescue;
  char *rescue_base_fingerprint;
} AuthSnapshot;

void auth_snapshot_free (AuthSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthSnapshot, auth_snapshot_free)

struct _AuthManager {
  GObject parent_instance;

  /* The parts (all owned). */
  StorePolicy *policy;
  StateFiles *state_files;
  AuthLock *lock;
  TokenEndpoint *endpoint;

  GCancellable *cancellable;
  gboolean stopping; /* auth_manager_stop() runs: no new reads or refreshes */
  int pending_ops;   /* operations not finished yet */

  /* ---- the credentials (auth-manager.c) ---- */
  AuthRecord *record; /* the record in use, NULL: none */
  /* Fingerprint of what the store held when last read ("" for nothing). */
  char *stored_fp;
  /* Bumped whenever the credentials in use become other ones than this
   * daemon's own refresh made (a sign-in, a logout, another program's
   * change): what a logout compares before it removes anything. */
  guint64 login_generation;
  /* The record in use holds refreshed tokens the store does not have yet. */
  gboolean unsaved_refresh;
  Rotations rotations;
  gboolean loaded;
  char *local_endpoint_url; /* the LocalTokenEndpoint property, NULL: off */
  char *store_error;       /* NULL: the store is fine */
  const char *store_state; /* "ok", "locked", "unavailable" or "error" */
  char *logged_unusable;   /* the fingerprint of the unusable record logged last */
  /* Reads of the store; when the last one that succeeded ended (monotonic
   * clock), for the re-validation of a keyring item before a token goes out. */
  gint64 last_read_mono;
  gboolean loading;
  gboolean load_again;
  GPtrArray *waiters;      /* GTask: served by the read in flight */
  GPtrArray *next_waiters; /* GTask: served by the read after it */
  /* The permanent failure of the record in use, if any. */
  PoisonRecord *poison;

  /* ---- the writes (auth-writes.c) ---- */
  WriteQueue *writes;
  /* The poison record as it should be on disk; a queued write (at most one
   * waiting to start) writes the state it finds when it starts. */
  PoisonRecord *poison_to_write;
  gboolean poison_write_queued;
  /* A rescue copy of refreshed tokens may be on disk (rescue-copy.h). */
  gboolean rescue_present;
  /* Saving a refreshed record that could not be saved at once. */
  guint save_retry_id;
  guint save_failures;

  /* ---- the refresh (auth-refresh.c) ---- */
  gint64 recent_refresh_usec; /* AUTH_RECENT_REFRESH_USEC, or a test's */
  gboolean refreshing;
  GPtrArray *refresh_waiters; /* GTask */
  AuthRecord *attempted;
  Backoff backoff;
  /* After refresh_token_reused: how long the store is watched for the
   * token another program rotated, the reads left, and the timer. */
  gint64 reuse_wait_usec; /* AUTH_REUSE_WAIT_USEC, or a test's */
  guint reuse_reads_left;
  guint reuse_check_id;
  RefreshResult *reuse_result;
};

/* auth-manager.c */
void auth_manager_op_begin (AuthManager *self);
void auth_manager_op_end (AuthManager *self);
void auth_manager_emit_changed (AuthManager *self);
const char *auth_manager_fingerprint_of (AuthRecord *record);
gboolean auth_manager_is_chatgpt (AuthManager *self);
gboolean auth_manager_is_record_in_use (AuthManager *self, AuthRecord *record);
/* The store state a failure of the store stands for: "locked",
 * "unavailable" or "error". */
const char *auth_manager_store_state_for (const GError *error);
void auth_manager_set_store_error (AuthManager *self, const GError *error, const char *message);
void auth_manager_clear_store_error (AuthManager *self);
gboolean auth_manager_store_unreachable (AuthManager *self);
/* Reads the store (after taking auth.lock when @take_lock) and the state
 * files: an AuthSnapshot* or an error. */
void auth_manager_read_async (AuthManager *self, gboolean take_lock, GAsyncReadyCallback callback,
                              gpointer user_data);
AuthSnapshot *auth_manager_read_finish (AuthManager *self, GAsyncResult *result, GError **error);
/* Takes what the store holds. TRUE when the credentials changed
 * materially (another login, a logout, another program's refresh). */
gboolean auth_manager_adopt_snapshot (AuthManager *self, AuthSnapshot *snapshot);
/* Asks for a read of the store; @waiter (may be NULL) is completed by it. */
void auth_manager_request_load (AuthManager *self, GTask *waiter);

/* auth-writes.c */
/* Makes the persisted poison record @record (NULL: none), through the
 * write queue: the last state asked for is the one on disk. */
void auth_writes_persist_poison (AuthManager *self, const PoisonRecord *record);
/* Records the permanent failure found by the refresh in flight, and ends
 * that refresh (releasing auth.lock) only once the record is written. */
void auth_writes_persist_poison_then_finish_refresh (AuthManager *self, const PoisonRecord *record);
/* Queues writing the rescue copy of @record (refreshed from the stored
 * record @base_fingerprint), or its removal when @record is NULL. */
void auth_writes_queue_rescue (AuthManager *self, AuthRecord *record, const char *base_fingerprint);
/* Queues the save of the refreshed @record right after its refresh (the
 * refresh ends when the save does), or a retry (NULL: the newest
 * refreshed record when it starts). */
void auth_writes_queue_save (AuthManager *self, AuthRecord *record);
/* Forgets a failed save and its retry (the credentials changed). */
void auth_writes_forget_save (AuthManager *self);
/* The store holds @saved now (a save, or a move, succeeded). */
void auth_writes_note_saved (AuthManager *self, AuthRecord *saved);

/* auth-refresh.c */
/* Ends the refresh in flight: releases auth.lock and answers its waiters. */
void auth_refresh_finish (AuthManager *self);
/* Answers every caller waiting for a refresh at once (at shutdown). */
void auth_refresh_answer_waiters (AuthManager *self);
