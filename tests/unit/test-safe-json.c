/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one entry point for untrusted JSON: nesting is bounded before
 * json-glib sees the data; brackets inside strings do not count. */
#include "config.h"

#include <string.h>

#include "safe-json.h"
#include "test-helpers.h"

static gboolean
parses (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = safe_json_parse (text, strlen (text), &error);

  g_assert_true ((parser != NULL) == (error == NULL));
  return parser != NULL;
}

static void
test_depth_bound (void)
{
  g_autofree char *at_bound = test_nested_json ("", SAFE_JSON_MAX_DEPTH, "");
  g_autofree char *over = test_nested_json ("", SAFE_JSON_MAX_DEPTH + 1, "");
  g_autofree char *objects = NULL;
  GString *s = g_string_new (NULL);

  g_assert_true (parses (at_bound));
  g_assert_false (parses (over));
  for (int i = 0; i < SAFE_JSON_MAX_DEPTH + 1; i++)
    g_string_append (s, "{\"a\":");
  g_string_append (s, "1");
  for (int i = 0; i < SAFE_JSON_MAX_DEPTH + 1; i++)
    g_string_append_c (s, '}');
  objects = g_string_free (s, FALSE);
  g_assert_false (parses (objects));
}

static void
test_strings_do_not_count (void)
{
  g_autofree char *brackets = g_strnfill (1000, '[');
  g_autofree char *in_string = g_strdup_printf ("{\"a\":\"%s\",\"b\":\"\\\"[[[\\\\\",\"c\":[1]}", brackets);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) bad_utf8 = safe_json_parse ("{\"a\":\"\xff\"}", 10, &error);

  g_assert_true (parses (in_string));
  g_assert_null (bad_utf8);
  g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA);
}

/* json-glib takes comments and single-quoted strings: each could hide the
 * nesting that follows from a scan that knows only "..." strings, and
 * 150,000 levels overflow the parser's stack (the daemon died with
 * SIGSEGV on such an answer from the issuer). Refused, not parsed. */
static void
test_comments_and_single_quotes_are_refused (void)
{
  const char *hiders[] = { "/*\"*/", "//\"\n", "'\"'", "#\"\n", "[\"\\\"\",'\"'," };

  for (guint i = 0; i < G_N_ELEMENTS (hiders); i++)
    {
      g_autofree char *deep = test_nested_json (hiders[i], 150000, "");
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonParser) parser = safe_json_parse (deep, strlen (deep), &error);

      g_assert_null (parser);
      g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA);
    }
  /* Shallow ones too: nothing here writes them. */
  g_assert_false (parses ("{\"a\": 1 /* c */}"));
  g_assert_false (parses ("{'a': 1}"));
  /* JSON's own words and numbers still parse. */
  g_assert_true (parses ("{\"a\":[true,false,null,-1.5e+3,0,\"/*'\"]}\r\n"));
}

/* An escape JSON does not have, which json-glib's scanner takes as octal:
 * the string would not be UTF-8, and a record holding it would be written
 * back as a document nothing reads (found by fuzz-auth-record). */
static void
test_non_json_escapes_are_refused (void)
{
  g_assert_false (parses ("{\"k\": \"\\222\"}"));
  g_assert_false (parses ("{\"k\\222\": 1}"));
  g_assert_false (parses ("[[\"ok\", \"\\377\"]]"));
  g_assert_true (parses ("{\"k\": \"\\u00e9 \\n \\\\ \\/\"}"));
}

/* Found by fuzz-auth-record: json-glib reads 1e99999 as infinity, which
 * json-glib writes back as no JSON (an auth.json the Codex CLI could not
 * read any more). */
static void
test_numbers_out_of_range_are_refused (void)
{
  g_assert_false (parses ("{\"ok\":{\"_en\": [true,2999e99992]}}"));
  g_assert_false (parses ("[-1e400]"));
  g_assert_true (parses ("[1e300, -1.5e-300, 9223372036854775807, 0.1]"));
}

static void
test_wipe_all_strings (void)
{
  const char *text = "{\"a\":\"secret-1\",\"b\":[\"secret-2\",{\"c\":\"secret-3\"}],\"n\":5}";
  g_autoptr(JsonParser) parser = safe_json_parse (text, strlen (text), NULL);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  JsonArray *b = json_object_get_array_member (root, "b");
  const char *s1 = json_object_get_string_member (root, "a");
  const char *s2 = json_array_get_string_element (b, 0);
  const char *s3 = json_object_get_string_member (json_array_get_object_element (b, 1), "c");
  g_autoptr(JsonNode) copy = json_node_copy (json_parser_get_root (parser));

  /* Wiping a copy wipes the buffers the original shares with it. */
  safe_json_wipe_all_strings (copy);
  g_assert_cmpint (s1[0], ==, '\0');
  g_assert_cmpint (s2[0], ==, '\0');
  g_assert_cmpint (s3[0], ==, '\0');
  g_assert_cmpint (json_object_get_int_member (root, "n"), ==, 5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/safe-json/depth-bound", test_depth_bound);
  g_test_add_func ("/safe-json/strings-do-not-count", test_strings_do_not_count);
  g_test_add_func ("/safe-json/wipe-all-strings", test_wipe_all_strings);
  g_test_add_func ("/safe-json/non-json-escapes-are-refused", test_non_json_escapes_are_refused);
  g_test_add_func ("/safe-json/numbers-out-of-range-are-refused", test_numbers_out_of_range_are_refused);
  g_test_add_func ("/safe-json/comments-and-single-quotes-are-refused", test_comments_and_single_quotes_are_refused);

  return g_test_run ();
}
