/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The names of the credential stores: the daemon's store= setting, and
 * the stores themselves (the CredentialStore property, the argument of
 * MoveCredentials). */

/* The daemon's store= setting. */
typedef enum {
  STORE_SETTING_AUTO,           /* follow the Codex CLI's cli_auth_credentials_store */
  STORE_SETTING_SECRET_SERVICE, /* the keyring item only */
  STORE_SETTING_FILE,           /* auth.json only */
} StoreSetting;

/* "auto", "secret-service", "file"; FALSE for anything else. */
gboolean store_setting_from_string (const char *name, StoreSetting *setting);
const char *store_setting_to_string (StoreSetting setting);

/* One store: where a record was read from and is written back to. */
typedef enum {
  STORE_KIND_NONE,    /* nothing read yet, and no store chosen */
  STORE_KIND_FILE,    /* $CODEX_HOME/auth.json */
  STORE_KIND_KEYRING, /* the Codex CLI's Secret Service item */
} StoreKind;

/* "none", "file", "secret-service": the CredentialStore property's values. */
const char *store_kind_to_string (StoreKind kind);
/* "file" or "secret-service" (a store to move to); FALSE for anything else. */
gboolean store_kind_from_string (const char *name, StoreKind *kind);
