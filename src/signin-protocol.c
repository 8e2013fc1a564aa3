/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ChatGPT sign-in protocol: requests and how their answers are read. */
#define G_LOG_DOMAIN "codex-authd-signin"

#include "config.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/random.h>

#include "safe-json.h"
#include "signin-protocol.h"

G_DEFINE_QUARK (codex-signin-error-quark, signin_error)

const char *
signin_error_code (SigninError error)
{
  switch (error)
    {
    case SIGNIN_ERROR_CANCELLED: return "cancelled";
    case SIGNIN_ERROR_TIMED_OUT: return "timed-out";
    case SIGNIN_ERROR_ACCESS_DENIED: return "access-denied";
    case SIGNIN_ERROR_PROVIDER_ERROR: return "provider-error";
    case SIGNIN_ERROR_MISSING_CODE: return "missing-code";
    case SIGNIN_ERROR_EXCHANGE_FAILED: return "exchange-failed";
    case SIGNIN_ERROR_WORKSPACE_RESTRICTED: return "workspace-restricted";
    case SIGNIN_ERROR_DEVICE_LOGIN_DISABLED: return "device-login-disabled";
    case SIGNIN_ERROR_DEVICE_AUTH_FAILED: return "device-auth-failed";
    case SIGNIN_ERROR_STORE_FAILED: return "store-failed";
    case SIGNIN_ERROR_PORT_BUSY: return "port-busy";
    case SIGNIN_ERROR_RESTRICTED: return "restricted";
    case SIGNIN_ERROR_FAILED:
    default: return "failed";
    }
}

/* ---- PKCE, state and URLs ---------------------------------------------- */

static char *
b64url (const guchar *data, gsize len)
{
  char *s = g_base64_encode (data, len);
  gsize n = strlen (s);

  while (n > 0 && s[n - 1] == '=')
    s[--n] = '\0';
  for (char *p = s; *p != '\0'; p++)
    if (*p == '+')
      *p = '-';
    else if (*p == '/')
      *p = '_';
  return s;
}

char *
signin_random_b64url (gsize n_bytes)
{
  guchar buf[128];
  gsize got = 0;
  char *out;

  g_return_val_if_fail (n_bytes <= sizeof buf, NULL);
  while (got < n_bytes)
    {
      ssize_t r = getrandom (buf + got, n_bytes - got, 0);

      if (r < 0 && errno == EINTR)
        continue;
      /* The kernel's generator does not fail once seeded; without it there
       * is no safe sign-in. */
      if (r < 0)
        g_error ("getrandom: %s", g_strerror (errno));
      got += (gsize) r;
    }
  out = b64url (buf, n_bytes);
  sensitive_wipe (buf, sizeof buf);
  return out;
}

char *
signin_pkce_challenge (const char *verifier)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize len = sizeof digest;

  g_checksum_update (sum, (const guchar *) verifier, (gssize) strlen (verifier));
  g_checksum_get_digest (sum, digest, &len);
  return b64url (digest, len);
}

/* Appends "&name=value" (no "&" when @s is empty), value percent-encoded;
 * the encoded copy is wiped (values may be secrets). */
static void
append_param (GString *s, const char *name, const char *value)
{
  char *escaped = g_uri_escape_string (value, NULL, FALSE);

  if (s->len > 0 && s->str[s->len - 1] != '?')
    g_string_append_c (s, '&');
  g_string_append (s, name);
  g_string_append_c (s, '=');
  g_string_append (s, escaped);
  sensitive_wipe (escaped, strlen (escaped));
  g_free (escaped);
}

static Sensitive *
secret_from_gstring (GString *s)
{
  Sensitive *out = sensitive_dup (s->str);

  sensitive_wipe (s->str, s->allocated_len);
  g_string_free (s, TRUE);
  return out;
}

char *
signin_issuer_endpoint (const char *issuer, const char *path)
{
  gsize n = strlen (issuer);

  while (n > 0 && issuer[n - 1] == '/')
    n--;
  return g_strdup_printf ("%.*s%s", (int) n, issuer, path);
}

char *
signin_authorize_url (const char *issuer, const char *client_id, const char *redirect_uri,
                     const char *challenge, const char *state, const char *originator,
                     const char *const *workspaces)
{
  g_autofree char *base = signin_issuer_endpoint (issuer, "/oauth/authorize?");
  GString *s = g_string_new (base);

  append_param (s, "response_type", "code");
  append_param (s, "client_id", client_id);
  append_param (s, "redirect_uri", redirect_uri);
  append_param (s, "scope", SIGNIN_SCOPE);
  append_param (s, "code_challenge", challenge);
  append_param (s, "code_challenge_method", "S256");
  append_param (s, "id_token_add_organizations", "true");
  append_param (s, "codex_cli_simplified_flow", "true");
  append_param (s, "state", state);
  append_param (s, "originator", originator);
  if (workspaces != NULL && workspaces[0] != NULL)
    {
      g_autofree char *joined = g_strjoinv (",", (char **) workspaces);
      append_param (s, "allowed_workspace_id", joined);
    }
  return g_string_free (s, FALSE);
}

gboolean
signin_state_matches (const char *state, const char *expected)
{
  gsize n = strlen (expected);
  guchar diff = 0;

  if (state == NULL || strlen (state) < n)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    diff |= (guchar) (state[i] ^ expected[i]);
  return diff == 0 && (state[n] == '\0' || state[n] == '.');
}

Sensitive *
signin_code_exchange_body (const char *code, const char *redirect_uri, const char *client_id,
                          const char *verifier)
{
  GString *s = g_string_new (NULL);

  append_param (s, "grant_type", "authorization_code");
  append_param (s, "code", code);
  append_param (s, "redirect_uri", redirect_uri);
  append_param (s, "client_id", client_id);
  append_param (s, "code_verifier", verifier);
  return secret_from_gstring (s);
}

Sensitive *
signin_api_key_exchange_body (const char *client_id, const char *id_token)
{
  GString *s = g_string_new (NULL);

  append_param (s, "grant_type", "urn:ietf:params:oauth:grant-type:token-exchange");
  append_param (s, "client_id", client_id);
  append_param (s, "requested_token", "openai-api-key");
  append_param (s, "subject_token", id_token);
  append_param (s, "subject_token_type", "urn:ietf:params:oauth:token-type:id_token");
  return secret_from_gstring (s);
}

char *
signin_device_usercode_body (const char *client_id)
{
  return safe_json_string_object ("client_id", client_id, NULL);
}

Sensitive *
signin_device_token_body (const char *device_auth_id, const char *user_code)
{
  return safe_json_string_object ("device_auth_id", device_auth_id, "user_code", user_code, NULL);
}

Sensitive *
signin_revoke_body (const char *token, const char *hint, const char *client_id)
{
  if (g_strcmp0 (hint, "refresh_token") == 0)
    return safe_json_string_object ("token", token, "token_type_hint", hint, "client_id", client_id, NULL);
  return safe_json_string_object ("token", token, "token_type_hint", hint, NULL);
}

/* ---- answers ----------------------------------------------------------- */

/* The root object of a JSON body, NULL when it is not one. */
static JsonObject *
parse_object (JsonParser **parser, const char *body, gsize len)
{
  JsonNode *root;

  if (body == NULL || len == 0)
    return NULL;
  *parser = safe_json_parse (body, len, NULL);
  if (*parser == NULL)
    return NULL;
  root = json_parser_get_root (*parser);
  return root != NULL && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
}

static const char *
nonempty (const char *s)
{
  return s != NULL && s[0] != '\0' ? s : NULL;
}

/* A string fit to show: printable ASCII, at most 200 bytes. */
static char *
printable (const char *s, gsize len)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < len && out->len < 200; i++)
    g_string_append_c (out, g_ascii_isprint (s[i]) ? s[i] : ' ');
  g_strstrip (out->str);
  out->len = strlen (out->str);
  if (out->len == 0)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

/* Overwrites every occurrence of each of @secrets in @text with '*'. */
static void
scrub (char *text, const char *const *secrets)
{
  for (guint i = 0; secrets != NULL && secrets[i] != NULL; i++)
    {
      gsize n = strlen (secrets[i]);
      char *hit;

      if (n == 0)
        continue;
      while ((hit = strstr (text, secrets[i])) != NULL)
        memset (hit, '*', n);
    }
}

/* @text (@len bytes) without @secrets, fit to show; NULL when nothing of
 * it is. */
static char *
shown_without (const char *text, gsize len, const char *const *secrets)
{
  g_autofree char *copy = g_strndup (text, len);

  scrub (copy, secrets);
  return printable (copy, strlen (copy));
}

char *
signin_error_detail (const char *body, gsize len, const char *const *secrets)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root = parse_object (&parser, body, len);
  const char *detail = NULL;
  char *raw;

  if (root != NULL)
    {
      detail = nonempty (safe_json_get_string (root, "error_description"));
      if (detail == NULL && json_object_has_member (root, "error"))
        {
          JsonNode *error = json_object_get_member (root, "error");

          if (JSON_NODE_HOLDS_OBJECT (error))
            {
              JsonObject *obj = json_node_get_object (error);

              detail = nonempty (safe_json_get_string (obj, "message"));
              if (detail == NULL)
                detail = nonempty (safe_json_get_string (obj, "code"));
            }
          else
            detail = nonempty (safe_json_get_string (root, "error"));
        }
      /* A detail of nothing but blanks or control characters says
       * nothing: the body, else "unknown error", does. */
      if (detail != NULL)
        {
          char *shown = shown_without (detail, strlen (detail), secrets);

          if (shown != NULL)
            return shown;
        }
    }
  raw = body != NULL ? shown_without (body, len, secrets) : NULL;
  return raw != NULL ? raw : g_strdup ("unknown error");
}

void
signin_tokens_clear (SigninTokens *tokens)
{
  g_clear_pointer (&tokens->id_token, sensitive_free);
  g_clear_pointer (&tokens->access_token, sensitive_free);
  g_clear_pointer (&tokens->refresh_token, sensitive_free);
}

/* A non-empty string member no larger than SIGNIN_MAX_FIELD_SIZE, copied as
 * a secret and wiped in the parsed tree; NULL otherwise. */
static Sensitive *
take_string (JsonObject *obj, const char *name)
{
  const char *value = safe_json_get_string (obj, name);
  Sensitive *out;

  if (value == NULL || value[0] == '\0' || strlen (value) > SIGNIN_MAX_FIELD_SIZE)
    return NULL;
  out = sensitive_dup (value);
  safe_json_wipe_string_member (obj, name);
  return out;
}

gboolean
signin_parse_code_exchange (guint status, const char *body, gsize len, const char *const *secrets,
                            SigninTokens *tokens, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root;

  memset (tokens, 0, sizeof *tokens);
  if (status < 200 || status >= 300)
    {
      g_autofree char *detail = signin_error_detail (body, len, secrets);

      g_set_error (error, SIGNIN_ERROR, SIGNIN_ERROR_EXCHANGE_FAILED,
                   "token endpoint returned status %u: %s", status, detail);
      return FALSE;
    }
  root = parse_object (&parser, body, len);
  if (root == NULL)
    {
      g_set_error (error, SIGNIN_ERROR, SIGNIN_ERROR_EXCHANGE_FAILED,
                   "token endpoint returned status %u with an answer that is not a JSON object", status);
      return FALSE;
    }
  tokens->id_token = take_string (root, "id_token");
  tokens->access_token = take_string (root, "access_token");
  tokens->refresh_token = take_string (root, "refresh_token");
  if (tokens->id_token == NULL || tokens->access_token == NULL || tokens->refresh_token == NULL)
    {
      const char *missing = tokens->id_token == NULL ? "id_token"
                            : tokens->access_token == NULL ? "access_token" : "refresh_token";

      signin_tokens_clear (tokens);
      g_set_error (error, SIGNIN_ERROR, SIGNIN_ERROR_EXCHANGE_FAILED,
                   "token endpoint returned status %u without a usable %s", status, missing);
      return FALSE;
    }
  return TRUE;
}

Sensitive *
signin_parse_api_key (guint status, const char *body, gsize len)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root;
  Sensitive *key;

  if (status < 200 || status >= 300)
    return NULL;
  root = parse_object (&parser, body, len);
  if (root == NULL)
    return NULL;
  key = take_string (root, "access_token");
  /* It is stored as OPENAI_API_KEY: the same rules as LoginWithApiKey's. */
  for (const char *p = key; p != NULL && *p != '\0'; p++)
    if ((unsigned char) *p < 0x21 || (unsigned char) *p > 0x7e)
      {
        g_clear_pointer (&key, sensitive_free);
        break;
      }
  return key;
}

void
signin_device_code_clear (SigninDeviceCode *code)
{
  g_clear_pointer (&code->device_auth_id, g_free);
  g_clear_pointer (&code->user_code, g_free);
  code->interval = 0;
}

/* A short identifier fit to show and send back: printable ASCII without
 * spaces, 1 to 256 bytes. */
static char *
take_identifier (JsonObject *obj, const char *name)
{
  const char *value = safe_json_get_string (obj, name);
  gsize n;

  if (value == NULL)
    return NULL;
  n = strlen (value);
  if (n == 0 || n > 256)
    return NULL;
  for (gsize i = 0; i < n; i++)
    if ((unsigned char) value[i] < 0x21 || (unsigned char) value[i] > 0x7e)
      return NULL;
  return g_strdup (value);
}

gboolean
signin_parse_usercode (guint status, const char *body, gsize len, SigninDeviceCode *code, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root;

  memset (code, 0, sizeof *code);
  if (status == 404)
    {
      g_set_error_literal (error, SIGNIN_ERROR, SIGNIN_ERROR_DEVICE_LOGIN_DISABLED,
                           "Device code login is not enabled for this account or server. Use the "
                           "browser sign-in, or turn on device code login in ChatGPT's security "
                           "settings.");
      return FALSE;
    }
  if (status < 200 || status >= 300)
    {
      g_set_error (error, SIGNIN_ERROR, SIGNIN_ERROR_DEVICE_AUTH_FAILED,
                   "The device code request failed with status %u. Try again later, or use the "
                   "browser sign-in.", status);
      return FALSE;
    }
  root = parse_object (&parser, body, len);
  if (root != NULL)
    {
      code->device_auth_id = take_identifier (root, "device_auth_id");
      code->user_code = take_identifier (root, "user_code");
      if (code->user_code == NULL)
        code->user_code = take_identifier (root, "usercode");
    }
  if (code->device_auth_id == NULL || code->user_code == NULL)
    {
      signin_device_code_clear (code);
      g_set_error_literal (error, SIGNIN_ERROR, SIGNIN_ERROR_DEVICE_AUTH_FAILED,
                           "The device code answer has no usable device_auth_id or user_code. Try "
                           "again later, or use the browser sign-in.");
      return FALSE;
    }
  if (json_object_has_member (root, "interval"))
    {
      JsonNode *node = json_object_get_member (root, "interval");
      guint64 n = 0;

      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        {
          g_autofree char *text = g_strstrip (g_strdup (json_node_get_string (node)));

          if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &n, NULL))
            n = 0;
          n = MIN (n, 3600);
        }
      else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
        n = (guint64) CLAMP (json_node_get_int (node), 0, 3600);
      else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE)
        {
          double d = json_node_get_double (node);
          n = d > 0 && d <= 3600 ? (guint64) d : 0;
        }
      code->interval = (guint) n;
    }
  return TRUE;
}

void
signin_device_grant_clear (SigninDeviceGrant *grant)
{
  g_clear_pointer (&grant->authorization_code, sensitive_free);
  g_clear_pointer (&grant->code_challenge, g_free);
  g_clear_pointer (&grant->code_verifier, sensitive_free);
}

SigninPoll
signin_parse_device_token (guint status, const char *body, gsize len, SigninDeviceGrant *grant, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root;

  memset (grant, 0, sizeof *grant);
  if (status == 403 || status == 404)
    return SIGNIN_POLL_PENDING;
  if (status < 200 || status >= 300)
    {
      g_set_error (error, SIGNIN_ERROR, SIGNIN_ERROR_DEVICE_AUTH_FAILED,
                   "Device authorization failed with status %u. Start the sign-in again.", status);
      return SIGNIN_POLL_FAILED;
    }
  root = parse_object (&parser, body, len);
  if (root != NULL)
    {
      grant->authorization_code = take_string (root, "authorization_code");
      grant->code_challenge = take_string (root, "code_challenge");
      grant->code_verifier = take_string (root, "code_verifier");
    }
  if (grant->authorization_code == NULL || grant->code_challenge == NULL || grant->code_verifier == NULL)
    {
      signin_device_grant_clear (grant);
      g_set_error_literal (error, SIGNIN_ERROR, SIGNIN_ERROR_DEVICE_AUTH_FAILED,
                           "The device authorization answer lacks authorization_code, code_challenge "
                           "or code_verifier. Start the sign-in again.");
      return SIGNIN_POLL_FAILED;
    }
  return SIGNIN_POLL_DONE;
}

char *
signin_provider_error_message (const char *error, const char *description, SigninError *code)
{
  g_autofree char *desc = description != NULL ? printable (description, strlen (description)) : NULL;
  g_autofree char *err = error != NULL ? printable (error, strlen (error)) : NULL;

  *code = g_strcmp0 (error, "access_denied") == 0 ? SIGNIN_ERROR_ACCESS_DENIED : SIGNIN_ERROR_PROVIDER_ERROR;
  if (*code == SIGNIN_ERROR_ACCESS_DENIED && desc != NULL && strstr (desc, "missing_codex_entitlement") != NULL)
    return g_strdup ("Codex is not enabled for your workspace. Contact your workspace administrator to "
                     "request access to Codex.");
  return g_strdup_printf ("Sign-in failed: %s", desc != NULL ? desc : err != NULL ? err : "unknown error");
}

/* ---- pages ------------------------------------------------------------- */

static char *
page (const char *title, const char *text)
{
  g_autofree char *t = g_markup_escape_text (title, -1);
  g_autofree char *x = g_markup_escape_text (text, -1);

  return g_strdup_printf ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                          "<title>%s</title><style>body{font-family:sans-serif;max-width:36em;"
                          "margin:4em auto;padding:0 1em;line-height:1.5}</style></head>\n"
                          "<body><h1>%s</h1><p>%s</p></body></html>\n", t, t, x);
}

char *
signin_success_page (const char *email)
{
  g_autofree char *text = NULL;

  if (email != NULL && email[0] != '\0')
    text = g_strdup_printf ("You are signed in to Codex as %s. You can close this window and "
                            "return to your application.", email);
  else
    text = g_strdup ("You are signed in to Codex. You can close this window and return to your "
                     "application.");
  return page ("Signed in to Codex", text);
}

char *
signin_error_page (const char *message)
{
  return page ("Sign-in could not be completed", message);
}
