/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One sign-in and the manager's state, shared by signin-manager.c (the
 * pending slot, a sign-in's life, the code exchange and the store),
 * signin-browser.c and signin-device.c. Nothing else includes this. */

#include <libsoup/soup.h>

#include "cli-config.h"
#include "loopback-server.h"
#include "signin-manager.h"

typedef enum {
  SIGNIN_KIND_BROWSER,
  SIGNIN_KIND_DEVICE,
} SigninKind;

/* One sign-in, from its start to its end. References: the manager's slot,
 * each request in flight, and its callback server once retiring. */
typedef struct {
  int ref_count;
  SigninManager *manager; /* not a reference: the manager outlives its sign-ins (stop()) */
  char *id;
  SigninKind kind;
  GCancellable *cancellable; /* its requests */
  GTask *start_task;         /* the start, until answered */
  gboolean started;          /* the start was answered: "completed" will be emitted */
  gboolean committed;        /* tokens obtained, being stored: no longer cancellable */
  gboolean ended;
  guint timeout_id;
  guint retry_id; /* browser: the next bind attempt; device: the next poll */

  CliLoginRules *rules; /* the Codex CLI's, read at the start (signin-rules.c) */

  /* Browser. */
  LoopbackServer *server; /* its routes have this sign-in as user data */
  guint port_index;
  guint attempt;
  gboolean cancel_sent;
  guint port;
  char *redirect_uri;
  char *state;
  Sensitive *verifier;
  char *auth_url;
  SoupServerMessage *callback_msg; /* the callback, paused while the code is exchanged */

  /* Device code. */
  SigninDeviceCode device;
  char *verification_url;

  /* The code exchange's secrets, while it is under way. */
  Sensitive *exchange_code;
  Sensitive *exchange_verifier;

  /* Between the code exchange and the store. */
  SigninTokens tokens;
  AuthRecord *record; /* from the tokens, without an API key */
} Signin;

struct _SigninManager {
  GObject parent;
  AuthManager *auth;
  HttpClient *http;
  Revoker *revoker;
  /* The settings, copied. */
  char *issuer;
  char *codex_home; /* whose config.toml has the CLI's sign-in rules; NULL: none */
  char **workspaces;
  guint ports[SIGNIN_MAX_PORTS];
  guint n_ports;
  guint browser_timeout;
  guint device_timeout;

  Signin *current;           /* the pending sign-in (or the one starting) */
  GPtrArray *retiring;       /* callback servers finishing their last page (signin-browser.c) */
  GCancellable *cancellable; /* background requests (revocations) */
  int ops;                   /* requests and store changes in flight */
};

/* signin-manager.c */
Signin *signin_new (SigninManager *self, SigninKind kind, GTask *start_task);
Signin *signin_ref (Signin *signin);
void signin_unref (gpointer signin);
void signin_op_begin (SigninManager *self);
void signin_op_end (SigninManager *self);
/* The start is answered: the sign-in is pending from now on. */
void signin_started (Signin *signin);
/* Ends @signin: success, or failure with @code and @message (a sentence a
 * person can act on). @last: the server message whose answer must go out
 * before the callback server closes (NULL: none). */
void signin_end (Signin *signin, gboolean success, SigninError code, const char *message, SoupServerMessage *last);
void signin_fail (Signin *signin, SigninError code, const char *message);
/* Exchanges the authorization code, then stores the tokens. */
void signin_exchange_code (Signin *signin, const char *code, const char *redirect_uri, const char *verifier);

/* signin-browser.c */
/* Starts the browser flow of @signin: the callback server, on the first
 * port it can take. */
void signin_browser_begin (Signin *signin);
/* A page for the browser, on the callback's answer. */
void signin_browser_respond_page (SoupServerMessage *msg, char *html);
/* Hands the server of ended @signin over to retire (it answers its last
 * page, @last, then closes). */
void signin_browser_retire_server (Signin *signin, SoupServerMessage *last);
void signin_browser_free_retiring (gpointer retiring);

/* signin-device.c */
/* Starts the device-code flow of @signin: asks the issuer for a code. */
void signin_device_begin (Signin *signin);

/* signin-rules.c */
/* Reads the Codex CLI's rules (none without a codex_home); never NULL. */
void signin_rules_read_async (SigninManager *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data);
CliLoginRules *signin_rules_read_finish (SigninManager *self, GAsyncResult *result);
/* Why a ChatGPT sign-in (@chatgpt) or an API key login may not happen
 * under @rules, or NULL when it may. */
char *signin_rules_refusal (SigninManager *self, const CliLoginRules *rules, gboolean chatgpt);
/* The workspace ids a ChatGPT sign-in may end in (both lists where both
 * are set), or NULL: any. */
char **signin_rules_workspaces (SigninManager *self, const CliLoginRules *rules);
/* Why a sign-in into @account (NULL: none in the id_token) is refused, or
 * NULL. */
char *signin_rules_check_account (SigninManager *self, const CliLoginRules *rules, const char *account);
