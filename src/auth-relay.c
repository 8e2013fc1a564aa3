/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager's side of the local token endpoint: what a refresh token a
 * Codex process presents gets, from the state the manager holds. */
#define G_LOG_DOMAIN "codex-authd-manager"

#include "config.h"

#include "auth-manager-private.h"
#include "clock.h"

static gboolean
is_current (AuthManager *self, const char *token)
{
  const char *current = self->record != NULL ? auth_record_get_refresh_token (self->record) : NULL;

  return current != NULL && token != NULL && g_strcmp0 (current, token) == 0;
}

/* The record in use came from the issuer, through this daemon, within the
 * coalescing window. */
static gboolean
rotated_just_now (AuthManager *self, gint64 now_mono)
{
  return self->rotations.newest != NULL && auth_manager_is_record_in_use (self, self->rotations.newest) &&
         now_mono - self->rotations.newest_mono < AUTH_RELAY_COALESCE_USEC;
}

AuthRelayVerdict
auth_manager_relay_verdict (AuthManager *self, const char *refresh_token, gboolean after_refresh)
{
  gint64 now_mono = auth_clock_monotonic ();

  if (self->stopping || !self->loaded)
    return AUTH_RELAY_UNAVAILABLE;
  if (!auth_manager_is_chatgpt (self) || refresh_token == NULL)
    return AUTH_RELAY_FOREIGN;
  if (is_current (self, refresh_token))
    {
      if (self->poison != NULL)
        return AUTH_RELAY_POISONED;
      if (self->refreshing)
        return after_refresh ? AUTH_RELAY_UNAVAILABLE : AUTH_RELAY_REFRESH;
      if (rotated_just_now (self, now_mono))
        return AUTH_RELAY_CURRENT;
      if (backoff_is_waiting (&self->backoff, now_mono))
        return AUTH_RELAY_BACKOFF;
      return after_refresh ? AUTH_RELAY_UNAVAILABLE : AUTH_RELAY_REFRESH;
    }
  if (rotations_replaced_since (&self->rotations, refresh_token, now_mono - AUTH_RELAY_GRACE_USEC))
    return self->poison != NULL ? AUTH_RELAY_POISONED : AUTH_RELAY_CURRENT;
  return AUTH_RELAY_FOREIGN;
}

AuthRecord *
auth_manager_dup_record (AuthManager *self)
{
  return self->record != NULL ? auth_record_ref (self->record) : NULL;
}

PoisonRecord *
auth_manager_dup_poison (AuthManager *self)
{
  return self->poison != NULL ? poison_record_copy (self->poison) : NULL;
}

gint64
auth_manager_backoff_remaining (AuthManager *self)
{
  gint64 now_mono = auth_clock_monotonic ();

  return backoff_is_waiting (&self->backoff, now_mono) ? self->backoff.deadline_mono - now_mono : 0;
}

gboolean
auth_manager_owns_token (AuthManager *self, const char *token)
{
  if (self->record == NULL || token == NULL || *token == '\0')
    return FALSE;
  return g_strcmp0 (auth_record_get_refresh_token (self->record), token) == 0 ||
         g_strcmp0 (auth_record_get_access_token (self->record), token) == 0;
}

void
auth_manager_set_local_endpoint_url (AuthManager *self, const char *url)
{
  g_free (self->local_endpoint_url);
  self->local_endpoint_url = g_strdup (url);
}
