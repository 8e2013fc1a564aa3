/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the Codex CLI's config.toml, read with toml++, and the
 * edit that sets cli_auth_credentials_store in it. */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "cli-config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *const values[] = { "keyring", "file" };
  g_autofree char *problem = NULL;
  CliStoreSetting setting;

  fuzz_quiet ();
  setting = cli_config_parse_store_setting ((const char *) data, size, &problem);
  /* A problem is named exactly when the setting cannot be used. */
  if ((setting == CLI_STORE_SETTING_INVALID) != (problem != NULL))
    __builtin_trap ();
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *edited = cli_config_with_store_setting ((const char *) data, size, values[i], &error);
      CliStoreSetting now;

      if (edited == NULL)
        {
          /* Only a document that does not parse may be refused (a wrong
           * value is replaced). */
          if (setting != CLI_STORE_SETTING_INVALID || error == NULL)
            __builtin_trap ();
          continue;
        }
      now = cli_config_parse_store_setting (edited, strlen (edited), NULL);
      if (g_strcmp0 (cli_store_setting_to_string (now), values[i]) != 0)
        __builtin_trap ();
    }
  return 0;
}
