/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Text from outside, made safe to print (printable.h). */
#include "config.h"

#include <string.h>

#include "printable.h"

#define REPLACEMENT 0xFFFD

static gboolean
unsafe (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL: /* C0, DEL, C1 (ESC, CSI...) */
    case G_UNICODE_FORMAT:  /* bidi overrides and isolates, zero-width characters */
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
printable_text_is_clean (const char *text)
{
  if (text == NULL)
    return TRUE;
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (unsafe (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

char *
printable_text (const char *text)
{
  g_autofree char *valid = NULL;
  GString *out;

  if (text == NULL)
    return NULL;
  if (printable_text_is_clean (text))
    return g_strdup (text);
  valid = g_utf8_make_valid (text, -1);
  out = g_string_sized_new (strlen (valid));
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      g_string_append_unichar (out, unsafe (c) ? REPLACEMENT : c);
    }
  return g_string_free (out, FALSE);
}
