/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "store-mode.h"

gboolean
store_mode_from_string (const char *name, StoreMode *mode)
{
  if (g_strcmp0 (name, "auto") == 0)
    *mode = STORE_MODE_AUTO;
  else if (g_strcmp0 (name, "secret-service") == 0)
    *mode = STORE_MODE_SECRET_SERVICE;
  else if (g_strcmp0 (name, "file") == 0)
    *mode = STORE_MODE_FILE;
  else
    return FALSE;
  return TRUE;
}

const char *
store_mode_to_string (StoreMode mode)
{
  switch (mode)
    {
    case STORE_MODE_SECRET_SERVICE:
      return "secret-service";
    case STORE_MODE_FILE:
      return "file";
    case STORE_MODE_AUTO:
    default:
      return "auto";
    }
}
