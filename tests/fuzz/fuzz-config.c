/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the configuration file's parser. */
#include "config.h"

#include "daemon-config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  DaemonConfig config;

  fuzz_quiet ();
  daemon_config_init (&config);
  if (daemon_config_load_data (&config, (const char *) data, size, "fuzz.conf", NULL) &&
      config.codex_home != NULL && !g_path_is_absolute (config.codex_home))
    __builtin_trap ();
  daemon_config_clear (&config);
  return 0;
}
