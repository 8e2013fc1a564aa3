/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The browser sign-in: the loopback callback server (its port, the
 * callback and /cancel), and the servers of ended sign-ins finishing their
 * last page. */
#define G_LOG_DOMAIN "codex-authd-signin"

#include "config.h"

#include <string.h>

#include "loopback-server.h"
#include "signin-private.h"

/* A callback server whose sign-in ended: it stays until the last page went
 * out (or 3 s), so that the browser shows it, and is closed at once when
 * a new sign-in needs the port. */
typedef struct {
  SigninManager *manager;
  Signin *signin; /* a reference: its routes' user data */
  LoopbackServer *server;
  SoupServerMessage *msg;
  gulong finished_id;
  guint timeout_id;
} RetiringServer;

void
signin_browser_free_retiring (gpointer data)
{
  RetiringServer *r = data;

  g_clear_handle_id (&r->timeout_id, g_source_remove);
  if (r->msg != NULL)
    {
      g_clear_signal_handler (&r->finished_id, r->msg);
      g_clear_object (&r->msg);
    }
  loopback_server_free (r->server);
  signin_unref (r->signin);
  g_free (r);
}

static gboolean
retiring_done_cb (gpointer user_data)
{
  RetiringServer *r = user_data;

  r->timeout_id = 0;
  g_ptr_array_remove (r->manager->retiring, r); /* frees it */
  return G_SOURCE_REMOVE;
}

static void
retiring_msg_finished_cb (SoupServerMessage *msg, gpointer user_data)
{
  RetiringServer *r = user_data;

  /* Closed from the main loop, not from inside libsoup's signal. */
  g_clear_signal_handler (&r->finished_id, r->msg);
  g_clear_handle_id (&r->timeout_id, g_source_remove);
  r->timeout_id = g_idle_add (retiring_done_cb, r);
}

void
signin_browser_retire_server (Signin *signin, SoupServerMessage *last)
{
  SigninManager *self = signin->manager;
  RetiringServer *r = g_new0 (RetiringServer, 1);

  r->manager = self;
  r->signin = signin_ref (signin);
  r->server = g_steal_pointer (&signin->server);
  if (last != NULL)
    {
      r->msg = g_object_ref (last);
      r->finished_id = g_signal_connect (last, "finished", G_CALLBACK (retiring_msg_finished_cb), r);
      r->timeout_id = g_timeout_add_seconds (3, retiring_done_cb, r);
    }
  else
    r->timeout_id = g_idle_add (retiring_done_cb, r);
  g_ptr_array_add (self->retiring, r);
}

static void
respond (SoupServerMessage *msg, guint status, const char *content_type, char *body)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "Connection", "close");
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, body, strlen (body));
}

void
signin_browser_respond_page (SoupServerMessage *msg, char *html)
{
  respond (msg, SOUP_STATUS_OK, "text/html; charset=utf-8", html);
}

/* ---- the callback --------------------------------------------------------- */

static const char *
query_get (GHashTable *query, const char *name)
{
  return query != NULL ? g_hash_table_lookup (query, name) : NULL;
}

static void
handle_callback (Signin *signin, SoupServerMessage *msg, GHashTable *query)
{
  const char *error = query_get (query, "error");
  const char *code = query_get (query, "code");

  if (!signin_state_matches (query_get (query, "state"), signin->state))
    {
      /* Another sign-in's callback, or a forged one: this one goes on. */
      g_message ("Sign-in %s: a callback with a wrong state was refused", signin->id);
      respond (msg, SOUP_STATUS_BAD_REQUEST, "text/plain; charset=utf-8", g_strdup ("State mismatch"));
      return;
    }
  if (signin->callback_msg != NULL || signin->committed)
    {
      respond (msg, SOUP_STATUS_CONFLICT, "text/plain; charset=utf-8",
               g_strdup ("This sign-in is already being completed."));
      return;
    }
  if (error != NULL && error[0] != '\0')
    {
      SigninError kind;
      g_autofree char *message = signin_provider_error_message (error, query_get (query, "error_description"),
                                                               &kind);

      signin_browser_respond_page (msg, signin_error_page (message));
      signin_end (signin, FALSE, kind, message, msg);
      return;
    }
  if (code == NULL || code[0] == '\0')
    {
      const char *message = "Missing authorization code. Sign-in could not be completed: start it again.";

      signin_browser_respond_page (msg, signin_error_page (message));
      signin_end (signin, FALSE, SIGNIN_ERROR_MISSING_CODE, message, msg);
      return;
    }
  if (strlen (code) > SIGNIN_MAX_FIELD_SIZE)
    {
      const char *message = "The authorization code is too long. Sign-in could not be completed: start it again.";

      signin_browser_respond_page (msg, signin_error_page (message));
      signin_end (signin, FALSE, SIGNIN_ERROR_MISSING_CODE, message, msg);
      return;
    }
  /* Answered once the code is exchanged and the tokens stored. */
  signin->callback_msg = g_object_ref (msg);
  soup_server_message_pause (msg);
  signin_exchange_code (signin, code, signin->redirect_uri, signin->verifier);
}

static void
callback_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  Signin *signin = user_data;

  if (signin->ended)
    signin_browser_respond_page (msg, signin_error_page ("This sign-in has ended. Start it again from your application."));
  else
    handle_callback (signin, msg, query);
}

/* What `codex login` asks of the server on its port before it takes the
 * port over. Not for web pages (an <img> on any page could end the
 * sign-in): the loopback server refuses those. */
static void
cancel_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer user_data)
{
  Signin *signin = user_data;

  respond (msg, SOUP_STATUS_OK, "text/plain; charset=utf-8", g_strdup ("Login cancelled"));
  if (!signin->ended && !signin->committed)
    signin_end (signin, FALSE, SIGNIN_ERROR_CANCELLED,
               "The sign-in was cancelled by another program that needed its port.", msg);
}

/* The callback server's routes: bodiless GETs only. */
static const LoopbackRoute callback_routes[] = {
  { "GET", SIGNIN_CALLBACK_PATH, 0, TRUE, callback_cb },
  { "GET", "/cancel", 0, FALSE, cancel_cb },
};

/* ---- the callback server's port ------------------------------------------ */

static void try_bind (Signin *signin);

static gboolean
retry_bind_cb (gpointer user_data)
{
  Signin *signin = user_data;

  signin->retry_id = 0;
  try_bind (signin);
  return G_SOURCE_REMOVE;
}

static void
cancel_request_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Signin *signin = user_data;
  g_autoptr(HttpReply) reply = http_client_request_finish (signin->manager->http, result);

  signin_op_end (signin->manager);
  g_debug ("Port %u: the /cancel request got HTTP %u", signin->port, reply->status);
  if (!signin->ended)
    try_bind (signin);
  signin_unref (signin);
}

/* Listens on 127.0.0.1 and ::1 (when the system has IPv6) on the current
 * port; retries and falls back like `codex login` does. */
static void
try_bind (Signin *signin)
{
  SigninManager *self = signin->manager;
  g_autoptr(GError) error = NULL;
  guint port = self->ports[signin->port_index];

  signin->port = port;
  /* A server of an earlier sign-in of ours still finishing its page. */
  g_ptr_array_set_size (self->retiring, 0);

  /* Both loopback families or neither: a browser resolving localhost to
   * ::1 must not find another user's server there. */
  if (loopback_server_listen (signin->server, "localhost", port, &error))
    {
      GTask *task = signin->start_task;

      loopback_server_start (signin->server);
      signin->redirect_uri = g_strdup_printf ("http://localhost:%u" SIGNIN_CALLBACK_PATH, port);
      {
        g_autofree char *challenge = signin_pkce_challenge (signin->verifier);
        g_auto(GStrv) workspaces = signin_rules_workspaces (self, signin->rules);
        signin->auth_url = signin_authorize_url (self->issuer, CLI_CLIENT_ID,
                                               signin->redirect_uri, challenge, signin->state, CLI_ORIGINATOR,
                                               (const char *const *) workspaces);
      }
      g_debug ("Sign-in %s: callback server on localhost:%u", signin->id, port);
      g_task_set_task_data (task, signin_ref (signin), signin_unref);
      signin_started (signin);
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
    {
      g_autofree char *message = g_strdup_printf ("Cannot listen on localhost:%u for the sign-in: %s", port,
                                                  error->message);
      signin_fail (signin, SIGNIN_ERROR_PORT_BUSY, message);
      return;
    }
  if (signin->port_index == 0 && !signin->cancel_sent)
    {
      /* Maybe another program's sign-in server: ask it to stop, once. */
      g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/cancel", port);

      signin->cancel_sent = TRUE;
      signin_op_begin (self);
      http_client_request_async (self->http, "GET", url, NULL, NULL, SIGNIN_CANCEL_TIMEOUT_SECONDS,
                                  signin->cancellable, cancel_request_done_cb, signin_ref (signin));
      return;
    }
  if (++signin->attempt < SIGNIN_BIND_ATTEMPTS)
    {
      signin->retry_id = g_timeout_add (SIGNIN_BIND_RETRY_MS, retry_bind_cb, signin);
      return;
    }
  if (signin->port_index + 1 < self->n_ports)
    {
      g_message ("Port %u is in use; trying %u", port, self->ports[signin->port_index + 1]);
      signin->port_index++;
      signin->attempt = 0;
      try_bind (signin);
      return;
    }
  {
    g_autofree char *message = g_strdup_printf ("Port %u is already in use (on 127.0.0.1 or ::1): close the program "
                                                "that holds it (another sign-in?) and try again.", port);
    signin_fail (signin, SIGNIN_ERROR_PORT_BUSY, message);
  }
}

void
signin_browser_begin (Signin *signin)
{
  signin->verifier = signin_random_b64url (64);
  signin->state = signin_random_b64url (32);
  signin->server = loopback_server_new (callback_routes, G_N_ELEMENTS (callback_routes), signin);
  try_bind (signin);
}
