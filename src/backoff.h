/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "refresh-protocol.h"

/* The backoff after transient refresh failures (DESIGN §5), a value the
 * manager holds: exponential with jitter from about a second to about ten
 * minutes, at least the issuer's Retry-After. The deadline is kept on the
 * monotonic clock (a wall-clock step neither extends nor ends it), and the
 * same moment on the wall clock for NextRefreshAttempt. */

#define BACKOFF_INITIAL_USEC (G_GINT64_CONSTANT (1) * G_USEC_PER_SEC)
#define BACKOFF_MAX_USEC (G_GINT64_CONSTANT (600) * G_USEC_PER_SEC)
/* Jitter: each delay is multiplied by a factor in [1 - J, 1 + J). */
#define BACKOFF_JITTER 0.2

typedef struct {
  guint attempts;          /* failures since the last success or change */
  gint64 deadline_mono;    /* 0: not backing off */
  gint64 deadline_wall;    /* the same moment, wall clock */
  char *code;              /* the last failure's RefreshError code */
  char *message;
} Backoff;

/* The delay before retry number @attempt (1: the first retry): exponential
 * from BACKOFF_INITIAL_USEC, capped at BACKOFF_MAX_USEC, with jitter from
 * @random in [0, 1); at least @retry_after_usec (already capped). */
gint64 backoff_delay (guint attempt, double random, gint64 retry_after_usec);

/* Back to no failure (a success, or other credentials). */
void backoff_reset (Backoff *backoff);
/* One more transient failure, @result, seen at @now_wall / @now_mono with
 * the jitter @random: returns the delay before the next attempt. */
gint64 backoff_note_failure (Backoff *backoff, const RefreshResult *result, gint64 now_wall, gint64 now_mono,
                             double random);
/* TRUE while the deadline has not passed: refreshes wait. */
gboolean backoff_is_waiting (const Backoff *backoff, gint64 now_mono);
/* TRUE after a failure until a reset: RefreshState says "backoff". */
gboolean backoff_is_set (const Backoff *backoff);
