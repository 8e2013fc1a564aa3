/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the classification of a token endpoint answer. The
 * input is: 2 bytes of HTTP status, 1 byte of Retry-After length, the
 * Retry-After value, then the body. */
#include "config.h"

#include "fuzz.h"
#include "refresh-protocol.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(RefreshResult) result = NULL;
  g_autofree char *retry_after = NULL;
  guint status;
  size_t header;

  fuzz_quiet ();
  if (size < 3)
    return 0;
  status = 100 + ((guint) data[0] << 8 | data[1]) % 500;
  header = MIN ((size_t) data[2], size - 3);
  if (header > 0)
    retry_after = g_strndup ((const char *) data + 3, header);
  result = refresh_result_from_response (status, (const char *) data + 3 + header, size - 3 - header, retry_after,
                                       G_GINT64_CONSTANT (1800000000000000));
  /* Every answer is classified, failures with a code and a message. */
  if (result == NULL || (result->kind != REFRESH_RESULT_SUCCESS && (result->code == NULL || result->message == NULL)) ||
      result->retry_after_usec < 0 || result->retry_after_usec > REFRESH_MAX_RETRY_AFTER_USEC)
    __builtin_trap ();
  return 0;
}
