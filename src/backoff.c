/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backoff after transient refresh failures, a value type. */
#include "config.h"

#include "backoff.h"

gint64
backoff_delay (guint attempt, double random, gint64 retry_after_usec)
{
  double delay = (double) BACKOFF_INITIAL_USEC;
  gint64 result;

  for (guint i = 1; i < attempt && delay < (double) BACKOFF_MAX_USEC; i++)
    delay *= 2;
  delay = MIN (delay, (double) BACKOFF_MAX_USEC);
  delay *= 1.0 - BACKOFF_JITTER + 2.0 * BACKOFF_JITTER * CLAMP (random, 0.0, 1.0);
  result = MIN ((gint64) delay, BACKOFF_MAX_USEC);
  return MAX (result, retry_after_usec);
}

void
backoff_reset (Backoff *backoff)
{
  backoff->attempts = 0;
  backoff->deadline_mono = 0;
  backoff->deadline_wall = 0;
  g_clear_pointer (&backoff->code, g_free);
  g_clear_pointer (&backoff->message, g_free);
}

gint64
backoff_note_failure (Backoff *backoff, const RefreshResult *result, gint64 now_wall, gint64 now_mono,
                      double random)
{
  gint64 delay;

  backoff->attempts++;
  delay = backoff_delay (backoff->attempts, random, result->retry_after_usec);
  backoff->deadline_mono = now_mono + delay;
  backoff->deadline_wall = now_wall + delay;
  g_free (backoff->code);
  backoff->code = g_strdup (result->code);
  g_free (backoff->message);
  backoff->message = g_strdup (result->message);
  return delay;
}

gboolean
backoff_is_waiting (const Backoff *backoff, gint64 now_mono)
{
  return backoff->deadline_mono > now_mono;
}

gboolean
backoff_is_set (const Backoff *backoff)
{
  return backoff->deadline_wall > 0;
}
