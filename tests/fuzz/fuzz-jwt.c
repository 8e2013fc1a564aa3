/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: JWT payload decoding. */
#include "config.h"

#include "auth-jwt.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *jwt = g_strndup ((const char *) data, size);
  AuthJwtClaims claims;

  fuzz_quiet ();
  if (auth_jwt_decode_claims (jwt, &claims, NULL) && (claims.exp < 0 || claims.exp > G_GINT64_CONSTANT (253402300799)))
    __builtin_trap ();
  auth_jwt_claims_clear (&claims);
  return 0;
}
