/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Strings that hold secrets, wiped before they are freed. */
#include "config.h"

#include <string.h>

#include "sensitive.h"

void
sensitive_wipe (gpointer data, gsize len)
{
  if (data != NULL && len > 0)
    explicit_bzero (data, len);
}

void
sensitive_free (Sensitive *secret)
{
  if (secret == NULL)
    return;
  explicit_bzero (secret, strlen (secret));
  g_free (secret);
}

Sensitive *
sensitive_dup (const char *str)
{
  return g_strdup (str);
}


