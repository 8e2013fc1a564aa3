/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

/* Helpers shared by the unit test programs. */

/* base64url without padding (RFC 4648 §5). */
char *test_base64url (const char *data);

/* An unsigned JWT ("alg":"none") carrying @payload_json, signature "sig". */
char *test_make_jwt (const char *payload_json);

/* A fresh 0700 directory under $TMPDIR; removed with test_remove_tree(). */
char *test_make_tmpdir (void);
void test_remove_tree (const char *path);

/* @prefix, then @depth nested JSON arrays, then @suffix: a document nested
 * @depth levels (plus what @prefix opens). */
char *test_nested_json (const char *prefix, guint depth, const char *suffix);

/* tests/fakes/fake-token-server.py, started with the interpreter of
 * $CODEX_AUTHD_TEST_PYTHON: its base URL, and its control endpoint. */
typedef struct {
  GSubprocess *proc;
  char *base;           /* http://127.0.0.1:PORT */
  SoupSession *control;
} TestFakeServer;

void test_fake_server_start (TestFakeServer *s);
void test_fake_server_stop (TestFakeServer *s);
/* A request to its control API (/_control/...): the answer's body. */
char *test_fake_server_control (TestFakeServer *s, const char *method, const char *path, const char *json);

/* Spawns a child that is killed when the test dies (so that a failed test
 * leaves nothing running); @launcher (may be NULL) sets its environment. */
GSubprocess *test_spawn (GSubprocessFlags flags, GSubprocessLauncher *launcher, GError **error, const char *first,
                         ...) G_GNUC_NULL_TERMINATED;
