/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Text from outside (the issuer's id_token claims, an answer's message)
 * made safe to print and to show: valid UTF-8, with every control and
 * format character (C0 and C1 controls, DEL, bidirectional overrides,
 * zero-width characters) replaced by U+FFFD. A terminal shown it runs no
 * escape sequence (ESC]52 clipboard writes, cursor moves, line erasing),
 * and a window shows what the text says, in its order. NULL gives NULL. */
char *printable_text (const char *text);

/* Whether @text needs no replacement (printable_text() would return it
 * unchanged). */
gboolean printable_text_is_clean (const char *text);
