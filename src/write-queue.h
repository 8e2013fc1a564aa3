/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

/* Store changes applied one at a time, in the order they were asked for.
 *
 * The auth manager is the single owner of every change to the stores: a
 * refreshed record's save, a save retry, a login, a logout and a write of
 * the poison record each become a job here. A job starts only when the
 * one before it has finished, so an older write can never land after a
 * newer one. A job decides what to write when it starts (not when it was
 * queued), so a save retry always writes the newest record, and a job
 * whose write has become pointless can skip it. */
typedef struct _WriteQueue WriteQueue;

/* Starts the job's write, which completes @callback with @user_data.
 * Returns FALSE (and does not call @callback) when there is nothing to
 * write any more. */
typedef gboolean (*WriteJobStart) (gpointer data, GAsyncReadyCallback callback, gpointer user_data);
/* The job is over: @result is the write's, NULL when the job skipped it. */
typedef void (*WriteJobDone) (gpointer data, GAsyncResult *result);

WriteQueue *write_queue_new (void);
/* Jobs still queued are dropped (their @done is not called); the one
 * running, if any, must have finished. */
void write_queue_free (WriteQueue *queue);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WriteQueue, write_queue_free)

/* Appends a job; @what names it in debug messages. @free_data (may be
 * NULL) frees @data after @done. */
void write_queue_push (WriteQueue *queue, const char *what, WriteJobStart start, WriteJobDone done,
                       gpointer data, GDestroyNotify free_data);

/* TRUE when no job is running or waiting. */
gboolean write_queue_is_idle (WriteQueue *queue);
