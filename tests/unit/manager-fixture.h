/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the manager's tests (test-auth-manager.c, test-auth-writes.c)
 * share: records, a manager running on the world of fakes (fakes/fakes.h),
 * scripted answers, and a client's call as auth-bus.c makes it. */

#include <glib.h>

#include "auth-manager.h"
#include "fakes.h"

#define SEC G_GINT64_CONSTANT (1000000)
#define T0 (G_GINT64_CONSTANT (1800000000) * SEC)

/* A ChatGPT record; @exp_usec 0 gives an opaque access token; @last_usec 0
 * no last_refresh. */
AuthRecord *chatgpt_record (const char *refresh_token, gint64 exp_usec, gint64 last_usec, const char *tag);

typedef struct {
  AuthManager *manager;
  guint changes;
} Fixture;

void spin_until_idle (void);

/* Starts a manager with the daemon's store @setting on a fresh world whose
 * store holds @stored (auth.json, or the keyring item for
 * STORE_SETTING_SECRET_SERVICE) and, when not NULL, the persisted poison
 * record @poison (both taken). */
void fixture_start_in (Fixture *fx, StoreSetting setting, AuthRecord *stored, PoisonRecord *poison);
/* The same with store=file. */
void fixture_start_full (Fixture *fx, AuthRecord *stored, PoisonRecord *poison);
void fixture_start (Fixture *fx, AuthRecord *stored);
/* A second manager on the same world, as a restart on the same stores. */
void fixture_start_again (Fixture *fx);
/* Stops the manager; the world is cleared when the last one stops. */
void fixture_stop (Fixture *fx);

/* The token endpoint's next answer. */
void script (Fixture *fx, RefreshResult *r);
RefreshResult *success (const char *access, const char *refresh);
RefreshResult *transient (const char *code, gint64 retry_after);
RefreshResult *permanent (const char *code);

/* Callbacks that assert success and count or flag completion. */
void login_done (GObject *source, GAsyncResult *res, gpointer data);
void logout_done (GObject *source, GAsyncResult *res, gpointer data);
void refresh_done (GObject *source, GAsyncResult *res, gpointer data);

/* What a client calling GetAuthStatus(include_token, refresh_token) gets:
 * the manager's decision, and a refresh when it says so. */
const char *client_call (Fixture *fx, gboolean include_token, gboolean force_refresh);

/* "state", "error" or "store" of the status. */
char *status_field (Fixture *fx, const char *which);
#define assert_status(fx, which, expected) \
  G_STMT_START { g_autofree char *_v = status_field (fx, which); g_assert_cmpstr (_v, ==, expected); } G_STMT_END

/* The token requests sent so far. */
guint requests (Fixture *fx);
/* How many times the log of store operations shows @op. */
guint count_ops (const char *op);
