/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names of the store setting and of the stores. */
#include "config.h"

#include "store-setting.h"

static const char *const setting_names[] = {
  [STORE_SETTING_AUTO] = "auto",
  [STORE_SETTING_SECRET_SERVICE] = "secret-service",
  [STORE_SETTING_FILE] = "file",
};

static const char *const kind_names[] = {
  [STORE_KIND_NONE] = "none",
  [STORE_KIND_FILE] = "file",
  [STORE_KIND_KEYRING] = "secret-service",
};

gboolean
store_setting_from_string (const char *name, StoreSetting *setting)
{
  for (guint i = 0; i < G_N_ELEMENTS (setting_names); i++)
    if (g_strcmp0 (name, setting_names[i]) == 0)
      {
        *setting = (StoreSetting) i;
        return TRUE;
      }
  return FALSE;
}

const char *
store_setting_to_string (StoreSetting setting)
{
  return (guint) setting < G_N_ELEMENTS (setting_names) ? setting_names[setting] : setting_names[STORE_SETTING_AUTO];
}

const char *
store_kind_to_string (StoreKind kind)
{
  return (guint) kind < G_N_ELEMENTS (kind_names) ? kind_names[kind] : kind_names[STORE_KIND_NONE];
}

gboolean
store_kind_from_string (const char *name, StoreKind *kind)
{
  for (guint i = STORE_KIND_FILE; i < G_N_ELEMENTS (kind_names); i++)
    if (g_strcmp0 (name, kind_names[i]) == 0)
      {
        *kind = (StoreKind) i;
        return TRUE;
      }
  return FALSE;
}
