/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: how the issuer's sign-in answers are read (the code
 * exchange, the API-key exchange, the user code, the device poll, an error
 * detail) and how a provider error on the callback becomes a message. The
 * input is: 2 bytes of HTTP status, then the body (for the provider error:
 * split at the first NUL into error and description). */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "signin-protocol.h"

static void
check_text (const char *text)
{
  /* What is shown is printable, bounded and never NULL. */
  if (text == NULL || strlen (text) > 4096)
    __builtin_trap ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *body;
  size_t len;
  guint status;

  fuzz_quiet ();
  if (size < 2)
    return 0;
  status = 100 + ((guint) data[0] << 8 | data[1]) % 500;
  body = (const char *) data + 2;
  len = size - 2;

  {
    SigninTokens tokens = { 0 };
    g_autoptr(GError) error = NULL;
    gboolean ok = signin_parse_code_exchange (status, body, len, NULL, &tokens, &error);

    if (ok != (error == NULL) || (ok && (tokens.id_token == NULL || tokens.access_token == NULL ||
                                         tokens.refresh_token == NULL)))
      __builtin_trap ();
    if (!ok)
      check_text (error->message);
    signin_tokens_clear (&tokens);
  }
  {
    g_autoptr(Sensitive) key = signin_parse_api_key (status, body, len);

    for (const char *p = key; p != NULL && *p != '\0'; p++)
      if ((unsigned char) *p < 0x21 || (unsigned char) *p > 0x7e)
        __builtin_trap ();
  }
  {
    SigninDeviceCode code = { 0 };
    g_autoptr(GError) error = NULL;
    gboolean ok = signin_parse_usercode (status, body, len, &code, &error);

    if (ok != (error == NULL) || (ok && (code.device_auth_id == NULL || code.user_code == NULL)) ||
        code.interval > 3600)
      __builtin_trap ();
    signin_device_code_clear (&code);
  }
  {
    SigninDeviceGrant grant = { 0 };
    g_autoptr(GError) error = NULL;
    SigninPoll poll = signin_parse_device_token (status, body, len, &grant, &error);

    if ((poll == SIGNIN_POLL_FAILED) != (error != NULL) ||
        (poll == SIGNIN_POLL_DONE && (grant.authorization_code == NULL || grant.code_verifier == NULL)))
      __builtin_trap ();
    signin_device_grant_clear (&grant);
  }
  {
    /* What a request carried never comes out, whatever the answer. */
    const char *secrets[] = { "code-abc", "verifier-xyz", NULL };
    g_autofree char *detail = signin_error_detail (body, len, secrets);
    g_autofree char *error = g_strndup (body, len);
    const char *description = strlen (error) < len ? body + strlen (error) + 1 : NULL;
    g_autofree char *desc = description != NULL ? g_strndup (description, len - strlen (error) - 1) : NULL;
    SigninError kind;
    g_autofree char *message = signin_provider_error_message (error, desc, &kind);
    g_autofree char *page = signin_error_page (message);

    check_text (detail);
    if (strstr (detail, "code-abc") != NULL || strstr (detail, "verifier-xyz") != NULL)
      __builtin_trap ();
    check_text (message);
    if (strstr (page, "<script") != NULL)
      __builtin_trap ();
  }
  return 0;
}
