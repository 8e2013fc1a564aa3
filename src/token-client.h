/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "codex-secret.h"

/* The ChatGPT token endpoint: one refresh request, and the classification
 * of its outcome (DESIGN §4). */

#define TOKEN_DEFAULT_URL "https://auth.openai.com/oauth/token"
#define TOKEN_CLIENT_ID "app_EMoamEEZ73f0CkXaXp7hrann"
#define TOKEN_DEFAULT_TIMEOUT_SECONDS 30
#define TOKEN_MAX_RESPONSE_SIZE (1024 * 1024)
/* Retry-After values above this are capped. */
#define TOKEN_MAX_RETRY_AFTER_USEC (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)

typedef enum {
  TOKEN_RESULT_SUCCESS,
  TOKEN_RESULT_PERMANENT,
  TOKEN_RESULT_TRANSIENT,
} TokenResultKind;

typedef struct {
  TokenResultKind kind;
  /* Failures: the RefreshError code and a message a person can act on.
   * Success: code NULL; message set when fields of the answer were left
   * out as invalid (for the log; it never quotes the answer). */
  char *code;
  char *message;
  guint http_status;        /* 0 when no HTTP response arrived */
  gint64 retry_after_usec;  /* from Retry-After, relative; 0 when absent */
  /* Success: the fields the server sent (NULL when absent). */
  CodexSecret *id_token;
  CodexSecret *access_token;
  CodexSecret *refresh_token;
} TokenResult;

void token_result_free (TokenResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TokenResult, token_result_free)

TokenResult *token_result_new_transient (const char *code, const char *message);

/* Classifies a complete HTTP response. @now_usec (wall clock) is used to
 * turn a Retry-After date into a delay. */
TokenResult *token_result_from_response (guint status, const char *body, gsize body_len,
                                         const char *retry_after, gint64 now_usec);

/* The message for a permanent failure with @code. */
const char *token_permanent_message (const char *code);

/* http:// is accepted only for loopback hosts; https:// always. */
gboolean token_url_validate (const char *url, GError **error);

/* The request body, exactly as the Codex CLI sends it. */
CodexSecret *token_request_body (const char *refresh_token);

typedef struct _TokenClient TokenClient;

/* The HTTP client of every request to the issuer (refresh, sign-in,
 * revocation): one libsoup session. @url is the refresh endpoint;
 * @timeout_seconds bounds each request unless it says otherwise. */
TokenClient *token_client_new (const char *url, guint timeout_seconds, GError **error);
TokenClient *token_client_ref (TokenClient *client);
void token_client_unref (TokenClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TokenClient, token_client_unref)

/* A complete HTTP answer, or why none came. The body may hold secrets: it
 * is wiped when freed. */
typedef struct {
  guint status;          /* 0: no HTTP answer (see the flags and error_message) */
  CodexSecret *body;     /* NUL-terminated (the body may hold NULs too); NULL when none */
  gsize body_len;
  char *retry_after;     /* the Retry-After header, NULL when absent */
  char *error_message;   /* no answer: the transport's reason (names no secret) */
  gboolean timed_out;    /* no answer within the bound */
  gboolean cancelled;    /* no answer: the caller cancelled */
  gboolean too_large;    /* the body was larger than TOKEN_MAX_RESPONSE_SIZE (not kept) */
} HttpReply;

void http_reply_free (HttpReply *reply);

/* Why @reply is not an HTTP answer to read ("no answer in time", "the
 * answer is too large", the transport's reason), or NULL when it is one. */
const char *http_reply_failure (const HttpReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpReply, http_reply_free)

/* One request: @body (taken, wiped after sending; NULL: none) with
 * @content_type, bounded by @timeout_seconds (0: the client's bound),
 * redirects not followed. Never fails: the outcome is an HttpReply. */
void token_client_request_async (TokenClient *client, const char *method, const char *url,
                                 const char *content_type, CodexSecret *body, guint timeout_seconds,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
HttpReply *token_client_request_finish (TokenClient *client, GAsyncResult *result);

/* A refresh's reply classified (token_result_from_response(), and the
 * transient codes "timeout" and "network" when no answer came). */
TokenResult *token_result_from_reply (const HttpReply *reply, gint64 now_usec);

/* Never fails: network errors and timeouts are transient results. */
void token_client_refresh_async (TokenClient *client, const char *refresh_token,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
TokenResult *token_client_refresh_finish (TokenClient *client, GAsyncResult *result);
