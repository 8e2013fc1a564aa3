/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "auth-record.h"

/* What a read of one credential store (auth.json, or the keyring item)
 * found: the shape both stores answer a load with (store-file.h,
 * store-secret.h), for the store policy (store-policy.h). */

typedef enum {
  STORE_READ_FOUND,       /* record set */
  STORE_READ_NOT_FOUND,   /* reachable, nothing stored */
  STORE_READ_LOCKED,      /* keyring only: the item exists but is locked */
  STORE_READ_UNAVAILABLE, /* keyring only: no Secret Service on the bus */
} StoreReadStatus;

typedef struct {
  StoreReadStatus status;
  AuthRecord *record;
} StoreRead;

StoreRead *store_read_new (StoreReadStatus status, AuthRecord *record);
void store_read_free (StoreRead *read);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreRead, store_read_free)
