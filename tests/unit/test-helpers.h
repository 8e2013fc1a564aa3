/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

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
