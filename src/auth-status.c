/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What clients see of the credentials (auth-status.h): freeing it. */
#include "config.h"

#include "auth-status.h"

#define CLEAR_s(field) g_clear_pointer (&s->field, g_free)
#define CLEAR_b(field) s->field = 0
#define CLEAR_t(field) s->field = 0
#define CLEAR_PROPERTY(name, key, type, field, change, label, doc) CLEAR_##type (field);
#define CLEAR_DETAIL(key, field, label, doc) CLEAR_s (field);

void
auth_status_clear (AuthStatus *s)
{
  AUTH_PROPERTIES (CLEAR_PROPERTY)
  AUTH_DETAILS (CLEAR_DETAIL)
}
