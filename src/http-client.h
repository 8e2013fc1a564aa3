/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "sensitive.h"

/* The HTTP client of every request the daemon makes (refreshes, sign-ins,
 * revocations): one libsoup session, bounded answers, bounded time, no
 * redirects. It knows nothing of what the requests mean. */

#define HTTP_DEFAULT_TIMEOUT_SECONDS 30
/* Answers larger than this are not read. */
#define HTTP_MAX_RESPONSE_SIZE (1024 * 1024)

/* http:// is accepted only for loopback hosts; https:// always. Neither
 * message quotes credentials written into the URL. */
gboolean http_url_validate (const char *url, GError **error);

/* TRUE for "localhost" and loopback IP literals (IPv6 without brackets). */
gboolean http_host_is_loopback (const char *host);

typedef struct _HttpClient HttpClient;

/* @timeout_seconds bounds each request unless it says otherwise (0: the
 * default). */
HttpClient *http_client_new (guint timeout_seconds);
HttpClient *http_client_ref (HttpClient *client);
void http_client_unref (HttpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpClient, http_client_unref)

/* A complete HTTP answer, or why none came. The body may hold secrets: it
 * is wiped when freed. */
typedef struct {
  guint status;          /* 0: no HTTP answer (see the flags and error_message) */
  Sensitive *body;       /* NUL-terminated (the body may hold NULs too); NULL when none */
  gsize body_len;
  char *retry_after;     /* the Retry-After header, NULL when absent */
  char *error_message;   /* no answer: the transport's reason (names no secret) */
  gboolean timed_out;    /* no answer within the bound */
  gboolean cancelled;    /* no answer: the caller cancelled */
  gboolean too_large;    /* the body was larger than HTTP_MAX_RESPONSE_SIZE (not kept) */
} HttpReply;

void http_reply_free (HttpReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpReply, http_reply_free)

/* Why @reply is not an HTTP answer to read ("no answer in time", "the
 * answer is too large", the transport's reason), or NULL when it is one. */
const char *http_reply_failure (const HttpReply *reply);

/* One request: @body (taken, wiped after sending; NULL: none) with
 * @content_type, bounded by @timeout_seconds (0: the client's bound),
 * redirects not followed. Never fails: the outcome is an HttpReply. */
void http_client_request_async (HttpClient *client, const char *method, const char *url,
                                const char *content_type, Sensitive *body, guint timeout_seconds,
                                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
HttpReply *http_client_request_finish (HttpClient *client, GAsyncResult *result);
