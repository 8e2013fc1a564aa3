/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the configuration file's parser. */
#include "config.h"

#include "daemon-settings.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  DaemonSettings settings = { 0 };

  fuzz_quiet ();
  if (daemon_settings_load_config (&settings, (const char *) data, size, "fuzz.conf", NULL) &&
      settings.codex_home != NULL && !g_path_is_absolute (settings.codex_home))
    __builtin_trap ();
  daemon_settings_clear (&settings);
  return 0;
}
