/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the daemon's refreshes rotated, a value type. */
#include "config.h"

#include "rotations.h"

static char *
refresh_token_hash (AuthRecord *record)
{
  const char *token = record != NULL ? auth_record_get_refresh_token (record) : NULL;

  return token != NULL ? g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1) : NULL;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (a, b);
}

void
rotations_note (Rotations *rotations, AuthRecord *old, AuthRecord *refreshed)
{
  char *hash = refresh_token_hash (old);

  g_clear_pointer (&rotations->newest, auth_record_unref);
  rotations->newest = auth_record_ref (refreshed);
  if (hash == NULL || g_strcmp0 (auth_record_get_refresh_token (old), auth_record_get_refresh_token (refreshed)) == 0)
    {
      g_free (hash);
      return;
    }
  g_queue_push_head (&rotations->replaced, hash);
  while (g_queue_get_length (&rotations->replaced) > ROTATIONS_MAX)
    g_free (g_queue_pop_tail (&rotations->replaced));
}

gboolean
rotations_replaced (const Rotations *rotations, AuthRecord *record)
{
  g_autofree char *hash = refresh_token_hash (record);

  return hash != NULL && g_queue_find_custom ((GQueue *) &rotations->replaced, hash, compare_strings) != NULL;
}

void
rotations_clear (Rotations *rotations)
{
  g_clear_pointer (&rotations->newest, auth_record_unref);
  g_queue_clear_full (&rotations->replaced, g_free);
}
