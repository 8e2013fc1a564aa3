/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The clocks the refresh rules read, and the randomness of the backoff's
 * jitter. One of the manager's seams (docs/design.md): the daemon's are
 * GLib's (clock.c); the unit tests link a clock they set in its place
 * (tests/unit/fakes/). */

/* Wall clock, microseconds since the epoch: token expiry, last_refresh,
 * the times the properties show. */
gint64 auth_clock_now (void);
/* Monotonic clock, microseconds: deadlines that a wall-clock step must
 * neither extend nor end. */
gint64 auth_clock_monotonic (void);
/* Uniform in [0, 1): the backoff's jitter. */
double auth_clock_jitter (void);
