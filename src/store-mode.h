/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Which store holds the credentials (the daemon's store= setting). */
typedef enum {
  STORE_MODE_AUTO,           /* the keyring item if there is one, else auth.json */
  STORE_MODE_SECRET_SERVICE, /* the keyring item only */
  STORE_MODE_FILE,           /* auth.json only */
} StoreMode;

/* "auto", "secret-service", "file"; FALSE for anything else. */
gboolean store_mode_from_string (const char *name, StoreMode *mode);
const char *store_mode_to_string (StoreMode mode);
