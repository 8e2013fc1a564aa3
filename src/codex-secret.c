/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "codex-secret.h"

void
codex_secret_wipe_bytes (gpointer data, gsize len)
{
  if (data != NULL && len > 0)
    explicit_bzero (data, len);
}

void
codex_secret_free (CodexSecret *secret)
{
  if (secret == NULL)
    return;
  explicit_bzero (secret, strlen (secret));
  g_free (secret);
}

CodexSecret *
codex_secret_dup (const char *str)
{
  return g_strdup (str);
}


