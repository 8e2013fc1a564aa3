/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The persisted record of a permanent refresh failure ("poison"): which
 * credential snapshot failed, how and when. One file per user, shared by
 * every instance, so that a restart or a second instance never retries a
 * refresh token that the server refused for good. */
typedef struct {
  char *fingerprint; /* auth_record_get_fingerprint() of the attempted record */
  char *code;
  char *message;
  guint http_status;
  gint64 time_usec;  /* wall clock */
} PoisonRecord;

PoisonRecord *poison_record_new (const char *fingerprint, const char *code,
                                     const char *message, guint http_status, gint64 time_usec);
PoisonRecord *poison_record_copy (const PoisonRecord *poison);
void poison_record_free (PoisonRecord *poison);
gboolean poison_record_equal (const PoisonRecord *a, const PoisonRecord *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PoisonRecord, poison_record_free)

/* $XDG_STATE_HOME/codex-authd/poison.json */
char *poison_record_default_path (void);

/* Parses the record's JSON; @name (the file) is for messages. */
PoisonRecord *poison_record_parse (const char *data, gsize len, const char *name, GError **error);
/* NULL with no error when there is no file. A malformed file is an error. */
PoisonRecord *poison_record_load (const char *path, GError **error);
/* Atomic (temporary file, fsync, rename), 0600 in a 0700 directory. */
gboolean poison_record_save (const char *path, const PoisonRecord *poison, GError **error);
/* Removing a file that does not exist succeeds. */
gboolean poison_record_remove (const char *path, GError **error);
