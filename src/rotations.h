/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "auth-record.h"

/* What this daemon's refreshes rotated, a value the manager holds: the
 * record the last refresh produced, and the SHA-256 of the refresh tokens
 * its refreshes replaced (dead at the issuer). A store that comes back
 * with one of those lost a write, and is not believed. */

#define ROTATIONS_MAX 32

typedef struct {
  AuthRecord *newest;  /* NULL: no refresh since the last login or logout */
  gint64 newest_mono;  /* when the issuer gave it (monotonic clock) */
  GQueue replaced;     /* RotatedToken*, newest first, at most ROTATIONS_MAX */
} Rotations;

/* A refresh at @now_mono replaced @old's refresh token by @refreshed's. */
void rotations_note (Rotations *rotations, AuthRecord *old, AuthRecord *refreshed, gint64 now_mono);
/* TRUE when @record's refresh token is one the refreshes replaced. */
gboolean rotations_replaced (const Rotations *rotations, AuthRecord *record);
/* TRUE when the refresh token @token is one the refreshes replaced at or
 * after @since_mono. */
gboolean rotations_replaced_since (const Rotations *rotations, const char *token, gint64 since_mono);
/* Forgets everything (a login or logout made here: a new start). */
void rotations_clear (Rotations *rotations);
