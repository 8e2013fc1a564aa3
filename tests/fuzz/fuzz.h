/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* What libFuzzer calls, once per input. */
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Messages about bad input are expected by the thousand: drop them. A
 * critical (a GLib precondition failing) still aborts, as a crash. */
static inline void
fuzz_discard_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    __builtin_trap ();
}

static inline void
fuzz_quiet (void)
{
  static gboolean done;

  if (!done)
    {
      g_log_set_default_handler (fuzz_discard_log, NULL);
      done = TRUE;
    }
}
