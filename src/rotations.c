/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the daemon's refreshes rotated, a value type. */
#include "config.h"

#include <string.h>

#include "rotations.h"

typedef struct {
  char *hash;   /* SHA-256 of the refresh token */
  gint64 mono;  /* when it was replaced */
} RotatedToken;

static void
rotated_token_free (RotatedToken *rotated)
{
  g_free (rotated->hash);
  g_free (rotated);
}

static char *
token_hash (const char *token)
{
  return token != NULL ? g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1) : NULL;
}

void
rotations_note (Rotations *rotations, AuthRecord *old, AuthRecord *refreshed, gint64 now_mono)
{
  const char *old_token = old != NULL ? auth_record_get_refresh_token (old) : NULL;
  RotatedToken *rotated;

  g_clear_pointer (&rotations->newest, auth_record_unref);
  rotations->newest = auth_record_ref (refreshed);
  rotations->newest_mono = now_mono;
  if (old_token == NULL || g_strcmp0 (old_token, auth_record_get_refresh_token (refreshed)) == 0)
    return;
  rotated = g_new0 (RotatedToken, 1);
  rotated->hash = token_hash (old_token);
  rotated->mono = now_mono;
  g_queue_push_head (&rotations->replaced, rotated);
  while (g_queue_get_length (&rotations->replaced) > ROTATIONS_MAX)
    rotated_token_free (g_queue_pop_tail (&rotations->replaced));
}

gboolean
rotations_replaced_since (const Rotations *rotations, const char *token, gint64 since_mono)
{
  g_autofree char *hash = token_hash (token);

  if (hash == NULL)
    return FALSE;
  for (GList *l = rotations->replaced.head; l != NULL; l = l->next)
    {
      const RotatedToken *rotated = l->data;
      if (rotated->mono < since_mono)
        return FALSE; /* newest first: the rest are older */
      if (strcmp (rotated->hash, hash) == 0)
        return TRUE;
    }
  return FALSE;
}

gboolean
rotations_replaced (const Rotations *rotations, AuthRecord *record)
{
  return record != NULL &&
         rotations_replaced_since (rotations, auth_record_get_refresh_token (record), G_MININT64);
}

void
rotations_clear (Rotations *rotations)
{
  g_clear_pointer (&rotations->newest, auth_record_unref);
  rotations->newest_mono = 0;
  g_queue_clear_full (&rotations->replaced, (GDestroyNotify) rotated_token_free);
}
