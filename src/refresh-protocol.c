/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The issuer's refresh protocol: the request body, and the
 * classification of an answer into success, permanent or transient. */
#define G_LOG_DOMAIN "codex-authd-refresh-protocol"

#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "issuer.h"
#include "refresh-protocol.h"
#include "safe-json.h"

/* ---- results ------------------------------------------------------------ */

void
refresh_result_free (RefreshResult *r)
{
  if (r == NULL)
    return;
  g_free (r->code);
  g_free (r->message);
  sensitive_free (r->id_token);
  sensitive_free (r->access_token);
  sensitive_free (r->refresh_token);
  g_free (r);
}

static RefreshResult *
result_new (RefreshResultKind kind, const char *code, char *message, guint status)
{
  RefreshResult *r = g_new0 (RefreshResult, 1);

  r->kind = kind;
  r->code = g_strdup (code);
  r->message = message;
  r->http_status = status;
  return r;
}

RefreshResult *
refresh_result_new_transient (const char *code, const char *message)
{
  return result_new (REFRESH_RESULT_TRANSIENT, code, g_strdup (message), 0);
}

const char *
refresh_permanent_message (const char *code)
{
  if (g_strcmp0 (code, "refresh_token_expired") == 0)
    return "Your access token could not be refreshed because your refresh token has expired. "
           "Please log out and sign in again.";
  if (g_strcmp0 (code, "refresh_token_reused") == 0)
    return "Your access token could not be refreshed because your refresh token was already used. "
           "Please log out and sign in again.";
  if (g_strcmp0 (code, "refresh_token_invalidated") == 0)
    return "Your access token could not be refreshed because your refresh token was revoked. "
           "Please log out and sign in again.";
  return "Your access token could not be refreshed. Please log out and sign in again.";
}

static gboolean
is_known_permanent_code (const char *code)
{
  return g_strcmp0 (code, "refresh_token_expired") == 0 ||
         g_strcmp0 (code, "refresh_token_reused") == 0 ||
         g_strcmp0 (code, "refresh_token_invalidated") == 0;
}

/* The error code of a body: the first of error.code (object), error
 * (string), top-level code; lower-cased. NULL when there is none. */
static char *
extract_error_code (JsonObject *root)
{
  const char *code = NULL;

  if (root == NULL)
    return NULL;
  if (json_object_has_member (root, "error"))
    {
      JsonNode *error = json_object_get_member (root, "error");

      if (JSON_NODE_HOLDS_OBJECT (error))
        code = safe_json_get_string (json_node_get_object (error), "code");
      else
        code = safe_json_get_string (root, "error");
    }
  if (code == NULL)
    code = safe_json_get_string (root, "code");
  return code != NULL ? g_ascii_strdown (code, -1) : NULL;
}

static gint64
parse_retry_after (const char *value, gint64 now_usec)
{
  gint64 delay = 0;
  guint64 seconds;
  char *end = NULL;

  if (value == NULL)
    return 0;
  while (g_ascii_isspace (*value))
    value++;
  if (g_ascii_isdigit (*value))
    {
      seconds = g_ascii_strtoull (value, &end, 10);
      if (end != NULL && (*end == '\0' || g_ascii_isspace (*end)))
        delay = seconds > 3600 * 24 ? REFRESH_MAX_RETRY_AFTER_USEC : (gint64) seconds * G_USEC_PER_SEC;
    }
  else
    {
      g_autoptr(GDateTime) when = soup_date_time_new_from_http_string (value);

      if (when != NULL)
        delay = g_date_time_to_unix (when) * G_USEC_PER_SEC - now_usec;
    }
  return CLAMP (delay, 0, REFRESH_MAX_RETRY_AFTER_USEC);
}

/* A 2xx answer: every field that is a non-empty string is taken; a field
 * of another type, or empty, is left out and named in the result's message
 * (for the log), so that a usable new refresh_token is never thrown away
 * because a field beside it is broken. Nothing usable: bad_response. */
static RefreshResult *
parse_success (guint status, JsonObject *root)
{
  static const char *const fields[] = { "id_token", "access_token", "refresh_token" };
  Sensitive **targets[3];
  g_autoptr(GString) invalid = g_string_new (NULL);
  RefreshResult *r;
  gboolean any = FALSE;

  if (root == NULL)
    return result_new (REFRESH_RESULT_TRANSIENT, "bad_response",
                       g_strdup_printf ("The token server's answer (HTTP %u) is not a JSON object; "
                                        "will retry.", status), status);

  r = result_new (REFRESH_RESULT_SUCCESS, NULL, NULL, status);
  targets[0] = &r->id_token;
  targets[1] = &r->access_token;
  targets[2] = &r->refresh_token;
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      JsonNode *node;

      if (!json_object_has_member (root, fields[i]))
        continue;
      node = json_object_get_member (root, fields[i]);
      if (JSON_NODE_HOLDS_NULL (node))
        continue;
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
          json_node_get_string (node)[0] == '\0')
        {
          g_string_append_printf (invalid, "%s\"%s\"", invalid->len > 0 ? ", " : "", fields[i]);
          continue;
        }
      *targets[i] = sensitive_dup (json_node_get_string (node));
      safe_json_wipe_string_member (root, fields[i]);
      any = TRUE;
    }
  if (!any)
    {
      refresh_result_free (r);
      if (invalid->len > 0)
        return result_new (REFRESH_RESULT_TRANSIENT, "bad_response",
                           g_strdup_printf ("The token server's answer has an invalid %s and no "
                                            "usable token; will retry.", invalid->str), status);
      return result_new (REFRESH_RESULT_TRANSIENT, "bad_response",
                         g_strdup ("The token server's answer carries no token; will retry."), status);
    }
  if (invalid->len > 0)
    r->message = g_strdup_printf ("The token server's answer has an invalid %s; the other fields "
                                  "are used.", invalid->str);
  return r;
}

RefreshResult *
refresh_result_from_response (guint status, const char *body, gsize body_len,
                            const char *retry_after, gint64 now_usec)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *code = NULL;
  JsonObject *root = NULL;
  RefreshResult *r;

  if (body != NULL && body_len > 0)
    parser = safe_json_parse (body, body_len, NULL);
  if (parser != NULL && json_parser_get_root (parser) != NULL &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_node_get_object (json_parser_get_root (parser));

  code = extract_error_code (root);

  /* Permanent: the refresh token will never work again. */
  if (is_known_permanent_code (code) || status == 401 ||
      (status == 400 && g_strcmp0 (code, "invalid_grant") == 0))
    {
      const char *permanent_code;

      if (is_known_permanent_code (code) || g_strcmp0 (code, "invalid_grant") == 0)
        permanent_code = code;
      else
        permanent_code = "unauthorized";
      return result_new (REFRESH_RESULT_PERMANENT, permanent_code,
                         g_strdup (refresh_permanent_message (permanent_code)), status);
    }

  if (status >= 200 && status < 300)
    return parse_success (status, root);

  if (status == 408)
    r = result_new (REFRESH_RESULT_TRANSIENT, "timeout",
                    g_strdup ("The token server timed out (HTTP 408); will retry."), status);
  else if (status == 429)
    r = result_new (REFRESH_RESULT_TRANSIENT, "rate_limited",
                    g_strdup ("The token server is limiting requests (HTTP 429); will retry."), status);
  else if (status >= 500 && status < 600)
    r = result_new (REFRESH_RESULT_TRANSIENT, "server_error",
                    g_strdup_printf ("The token server failed (HTTP %u); will retry.", status), status);
  else
    r = result_new (REFRESH_RESULT_TRANSIENT, "bad_response",
                    g_strdup_printf ("The token server sent an unexpected answer (HTTP %u); will retry.",
                                     status), status);
  r->retry_after_usec = parse_retry_after (retry_after, now_usec);
  return r;
}

/* ---- replies and requests ----------------------------------------------- */

RefreshResult *
refresh_result_from_reply (const HttpReply *reply, gint64 now_usec)
{
  RefreshResult *r;

  if (reply->too_large)
    {
      r = refresh_result_new_transient ("bad_response", NULL);
      r->message = g_strdup_printf ("The token server's answer (HTTP %u) is larger than %d bytes; will retry.",
                                    reply->status, HTTP_MAX_RESPONSE_SIZE);
      r->http_status = reply->status;
      return r;
    }
  if (reply->status == 0)
    {
      if (reply->timed_out)
        return refresh_result_new_transient ("timeout", "The token server did not answer in time; will retry.");
      r = refresh_result_new_transient ("network", NULL);
      r->message = g_strdup_printf ("Could not reach the token server: %s; will retry.",
                                    reply->error_message != NULL ? reply->error_message : "no answer");
      return r;
    }
  return refresh_result_from_response (reply->status, reply->body, reply->body_len, reply->retry_after, now_usec);
}

Sensitive *
refresh_request_body (const char *refresh_token)
{
  return safe_json_string_object ("client_id", CLI_CLIENT_ID, "grant_type", "refresh_token",
                                   "refresh_token", refresh_token, NULL);
}
