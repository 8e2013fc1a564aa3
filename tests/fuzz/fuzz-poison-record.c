/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the persisted poison record's parser. */
#include "config.h"

#include "fuzz.h"
#include "poison-record.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(PoisonRecord) record = NULL;

  fuzz_quiet ();
  record = poison_record_parse ((const char *) data, size, "fuzz", NULL);
  if (record != NULL && (record->fingerprint == NULL || record->code == NULL || record->http_status > 999))
    __builtin_trap ();
  return 0;
}
