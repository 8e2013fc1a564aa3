/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "http-client.h"
#include "sensitive.h"

/* The issuer's refresh protocol (DESIGN §4): the request body the Codex
 * CLI sends, and what an answer means. No I/O here. */

/* Retry-After values above this are capped. */
#define REFRESH_MAX_RETRY_AFTER_USEC (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)

typedef enum {
  REFRESH_RESULT_SUCCESS,
  REFRESH_RESULT_PERMANENT,
  REFRESH_RESULT_TRANSIENT,
} RefreshResultKind;

typedef struct {
  RefreshResultKind kind;
  /* Failures: the RefreshError code and a message a person can act on.
   * Success: code NULL; message set when fields of the answer were left
   * out as invalid (for the log; it never quotes the answer). */
  char *code;
  char *message;
  guint http_status;        /* 0 when no HTTP answer arrived */
  gint64 retry_after_usec;  /* from Retry-After, relative; 0 when absent */
  /* Success: the fields the issuer sent (NULL when absent). */
  Sensitive *id_token;
  Sensitive *access_token;
  Sensitive *refresh_token;
} RefreshResult;

void refresh_result_free (RefreshResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RefreshResult, refresh_result_free)

RefreshResult *refresh_result_new_transient (const char *code, const char *message);

/* Classifies a complete HTTP answer. @now_usec (wall clock) is used to
 * turn a Retry-After date into a delay. */
RefreshResult *refresh_result_from_response (guint status, const char *body, gsize body_len,
                                             const char *retry_after, gint64 now_usec);

/* The same for an HttpReply, with the transient codes "timeout" and
 * "network" when no answer came. */
RefreshResult *refresh_result_from_reply (const HttpReply *reply, gint64 now_usec);

/* The message for a permanent failure with @code. */
const char *refresh_permanent_message (const char *code);

/* The request body, exactly as the Codex CLI sends it. */
Sensitive *refresh_request_body (const char *refresh_token);
