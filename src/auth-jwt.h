/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The claims of a JWT's payload, read without checking the signature (the
 * Codex CLI does the same): the id_token's identity claims and any token's
 * expiry. */

#define AUTH_JWT_ERROR (auth_jwt_error_quark ())

typedef enum {
  AUTH_JWT_ERROR_INVALID, /* not three parts, bad base64url, not UTF-8 or not a JSON object */
} AuthJwtError;

GQuark auth_jwt_error_quark (void);

typedef struct {
  char *email;      /* email, else https://api.openai.com/profile email */
  char *plan_type;  /* https://api.openai.com/auth chatgpt_plan_type */
  char *account_id; /* ... chatgpt_account_id */
  char *user_id;    /* ... chatgpt_user_id, else user_id */
  gint64 exp;       /* seconds since the epoch, 0 when absent or out of range */
} AuthJwtClaims;

/* Fills @claims (cleared first) from @jwt's payload. */
gboolean auth_jwt_decode_claims (const char *jwt, AuthJwtClaims *claims, GError **error);
void auth_jwt_claims_clear (AuthJwtClaims *claims);
