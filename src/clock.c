/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager's clocks: GLib's. */
#include "config.h"

#include "clock.h"

gint64
auth_clock_now (void)
{
  return g_get_real_time ();
}

gint64
auth_clock_monotonic (void)
{
  return g_get_monotonic_time ();
}

double
auth_clock_jitter (void)
{
  return g_random_double ();
}
