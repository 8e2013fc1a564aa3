/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the auth.json / keyring item parser, and the round
 * trip of what it accepts. */
#include "config.h"

#include <string.h>

#include "auth-record.h"
#include "sensitive.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(AuthRecord) record = NULL;
  g_autoptr(AuthRecord) again = NULL;
  g_autoptr(Sensitive) out = NULL;

  fuzz_quiet ();
  record = auth_record_parse ((const char *) data, size, NULL);
  if (record == NULL)
    return 0;
  (void) auth_record_get_fingerprint (record);
  (void) auth_record_get_access_token_expires (record);
  out = auth_record_serialize (record);
  again = auth_record_parse (out, strlen (out), NULL);
  /* What was accepted serializes to what parses to the same credentials. */
  if (again == NULL || strcmp (auth_record_get_fingerprint (again), auth_record_get_fingerprint (record)) != 0)
    __builtin_trap ();
  if (auth_record_get_mode (record) == AUTH_MODE_CHATGPT && auth_record_has_tokens (record))
    {
      g_autoptr(AuthRecord) refreshed = auth_record_new_refreshed (record, NULL, "new-access", "new-refresh",
                                                                   G_GINT64_CONSTANT (1800000000000000), NULL);
      if (refreshed == NULL)
        __builtin_trap ();
    }
  return 0;
}
