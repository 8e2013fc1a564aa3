/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TOML side of cli-config.h: the only C++ in the project, so that the
 * Codex CLI's config.toml is read by a real TOML parser (toml++). No
 * exception leaves this file. */
#include "config.h"

#include <gio/gio.h>

#include <string>
#include <string_view>
#include <vector>

#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

#include "cli-config.h"

namespace {

/* toml++ counts columns in code points; the byte offset of (@line,
 * @column) in @text, or std::string::npos. */
size_t
offset_of (std::string_view text, toml::source_index line, toml::source_index column)
{
  size_t pos = 0;

  for (toml::source_index l = 1; l < line; l++)
    {
      pos = text.find ('\n', pos);
      if (pos == std::string_view::npos)
        return std::string::npos;
      pos++;
    }
  for (toml::source_index c = 1; c < column; c++)
    {
      if (pos >= text.size ())
        return std::string::npos;
      /* Skip one UTF-8 sequence: a lead byte and its continuation bytes. */
      pos++;
      while (pos < text.size () && (static_cast<unsigned char> (text[pos]) & 0xC0) == 0x80)
        pos++;
    }
  return pos;
}

/* toml++ bounds the nesting of arrays and inline tables but not the parts
 * of a dotted key or table name, which it takes recursively: a key of
 * 100,000 parts overflowed the daemon's stack at every start. So before
 * it sees the document, every line is scanned (strings and comments
 * skipped as TOML has them) and refused with a parse error when its keys
 * have more than CLI_CONFIG_MAX_KEY_PARTS parts in all, or when what lies
 * outside strings is longer than CLI_CONFIG_MAX_LINE. */
class Bounds
{
public:
  explicit Bounds (std::string_view text) : text_ (text) {}

  void
  check ()
  {
    while (pos_ < text_.size ())
      {
        char c = text_[pos_];

        if (c == '\n')
          {
            line_++;
            line_start_ = ++pos_;
            dots_ = 0;
            bare_ = 0;
          }
        else if (c == '#')
          skip_comment ();
        else if (c == '"' || c == '\'')
          skip_string (c);
        else
          {
            if (c == '.' && !(digit_at (pos_ - 1) && digit_at (pos_ + 1)) && ++dots_ >= CLI_CONFIG_MAX_KEY_PARTS)
              fail ("keys with more than " G_STRINGIFY (CLI_CONFIG_MAX_KEY_PARTS) " dotted parts are refused");
            if (++bare_ > CLI_CONFIG_MAX_LINE)
              fail ("lines longer than " G_STRINGIFY (CLI_CONFIG_MAX_LINE) " bytes outside strings are refused");
            pos_++;
          }
      }
  }

private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t line_start_ = 0;
  toml::source_index line_ = 1;
  size_t dots_ = 0;
  size_t bare_ = 0;

  bool
  digit_at (size_t i) const
  {
    return i < text_.size () && g_ascii_isdigit (text_[i]);
  }

  [[noreturn]] void
  fail (const char *what) const
  {
    toml::source_position at{ line_, static_cast<toml::source_index> (pos_ - line_start_ + 1) };
    throw toml::parse_error (what, toml::source_region{ at, at, nullptr });
  }

  void
  skip_comment ()
  {
    while (pos_ < text_.size () && text_[pos_] != '\n')
      pos_++;
  }

  /* From an opening quote past the closing one (a newline ends a
   * one-line string: the parser refuses it there anyway). */
  void
  skip_string (char quote)
  {
    bool multi = text_.compare (pos_, 3, std::string (3, quote)) == 0;

    pos_ += multi ? 3 : 1;
    while (pos_ < text_.size ())
      {
        char c = text_[pos_];

        if (c == '\\' && quote == '"')
          {
            pos_ += 2;
            continue;
          }
        if (c == '\n')
          {
            if (!multi)
              return;
            line_++;
            line_start_ = pos_ + 1;
          }
        if (c == quote && (!multi || text_.compare (pos_, 3, std::string (3, quote)) == 0))
          {
            /* Up to two more quotes belong to the string's end. */
            size_t run = 0;

            while (pos_ < text_.size () && text_[pos_] == quote && run < (multi ? 5u : 1u))
              pos_++, run++;
            return;
          }
        pos_++;
      }
  }
};

/* The document, bounded (Bounds), then parsed: throws toml::parse_error. */
toml::table
parse_bounded (std::string_view text)
{
  Bounds (text).check ();
  return toml::parse (text);
}

char *
describe_error (const toml::parse_error &e)
{
  const auto &where = e.source ().begin;
  std::string_view what = e.description ();

  return g_strdup_printf ("line %u, column %u: %.*s", static_cast<unsigned> (where.line),
                          static_cast<unsigned> (where.column), static_cast<int> (what.size ()), what.data ());
}

/* A string value of the document, shown in a message: valid UTF-8, cut. */
char *
shown_value (std::string_view value)
{
  return g_utf8_make_valid (value.data (), static_cast<gssize> (MIN (value.size (), 64)));
}

CliStoreSetting
setting_of (const toml::table &table, char **problem)
{
  const toml::node *node = table.get (CLI_CONFIG_KEY);
  std::optional<std::string_view> value;

  if (node == nullptr)
    return CLI_STORE_SETTING_DEFAULT;
  value = node->value<std::string_view> ();
  if (value && *value == "file")
    return CLI_STORE_SETTING_FILE;
  if (value && *value == "keyring")
    return CLI_STORE_SETTING_KEYRING;
  if (value && *value == "auto")
    return CLI_STORE_SETTING_AUTO;
  if (value && *value == "ephemeral")
    return CLI_STORE_SETTING_EPHEMERAL;
  if (problem != nullptr)
    {
      if (value)
        {
          g_autofree char *shown = shown_value (*value);
          *problem = g_strdup_printf (CLI_CONFIG_KEY " is \"%s\"; the values codex-authd follows are "
                                      "\"file\", \"keyring\", \"auto\" and \"ephemeral\"", shown);
        }
      else
        *problem = g_strdup (CLI_CONFIG_KEY " is not a string");
    }
  return CLI_STORE_SETTING_INVALID;
}

void
login_rules_of (const toml::table &table, CliLoginRules *rules)
{
  const toml::node *method = table.get (CLI_CONFIG_LOGIN_METHOD_KEY);
  const toml::node *workspace = table.get (CLI_CONFIG_WORKSPACE_KEY);

  if (method != nullptr)
    {
      std::optional<std::string_view> value = method->value<std::string_view> ();

      if (value && *value == "chatgpt")
        rules->method = CLI_LOGIN_METHOD_CHATGPT;
      else if (value && *value == "api")
        rules->method = CLI_LOGIN_METHOD_API;
      else
        {
          g_autofree char *shown = value ? shown_value (*value) : nullptr;
          rules->problem = value ? g_strdup_printf (CLI_CONFIG_LOGIN_METHOD_KEY " is \"%s\", not \"chatgpt\" "
                                                    "or \"api\"", shown)
                                 : g_strdup (CLI_CONFIG_LOGIN_METHOD_KEY " is not a string");
          return;
        }
    }
  if (workspace != nullptr)
    {
      std::vector<std::string> ids;
      const toml::array *list = workspace->as_array ();

      if (list != nullptr)
        {
          for (const toml::node &item : *list)
            {
              std::optional<std::string_view> id = item.value<std::string_view> ();

              if (!id)
                {
                  rules->problem = g_strdup (CLI_CONFIG_WORKSPACE_KEY " holds something that is not a string");
                  return;
                }
              ids.emplace_back (*id);
            }
        }
      else if (std::optional<std::string_view> id = workspace->value<std::string_view> ())
        ids.emplace_back (*id);
      else
        {
          rules->problem = g_strdup (CLI_CONFIG_WORKSPACE_KEY " is neither a string nor a list of them");
          return;
        }
      if (!ids.empty ())
        {
          rules->workspaces = g_new0 (char *, ids.size () + 1);
          for (size_t i = 0; i < ids.size (); i++)
            rules->workspaces[i] = g_strndup (ids[i].data (), ids[i].size ());
        }
    }
}

} // namespace

extern "C" CliLoginRules *
cli_config_parse_login_rules (const char *text, gsize len)
{
  CliLoginRules *rules = g_new0 (CliLoginRules, 1);

  try
    {
      toml::table table = parse_bounded (std::string_view (text, len));
      login_rules_of (table, rules);
    }
  catch (const toml::parse_error &e)
    {
      g_autofree char *where = describe_error (e);
      rules->problem = g_strdup_printf ("not valid TOML (%s)", where);
    }
  catch (...)
    {
      rules->problem = g_strdup ("cannot be read as TOML");
    }
  if (rules->problem != nullptr)
    {
      g_clear_pointer (&rules->workspaces, g_strfreev);
      rules->method = CLI_LOGIN_METHOD_ANY;
    }
  return rules;
}

extern "C" const char *
cli_store_setting_to_string (CliStoreSetting setting)
{
  switch (setting)
    {
    case CLI_STORE_SETTING_FILE:
      return "file";
    case CLI_STORE_SETTING_KEYRING:
      return "keyring";
    case CLI_STORE_SETTING_AUTO:
      return "auto";
    case CLI_STORE_SETTING_EPHEMERAL:
      return "ephemeral";
    case CLI_STORE_SETTING_DEFAULT:
    case CLI_STORE_SETTING_INVALID:
    default:
      return "";
    }
}

extern "C" CliStoreSetting
cli_config_parse_store_setting (const char *text, gsize len, char **problem)
{
  if (problem != nullptr)
    *problem = nullptr;
  try
    {
      toml::table table = parse_bounded (std::string_view (text, len));
      return setting_of (table, problem);
    }
  catch (const toml::parse_error &e)
    {
      if (problem != nullptr)
        {
          g_autofree char *where = describe_error (e);
          *problem = g_strdup_printf ("not valid TOML (%s)", where);
        }
    }
  catch (...)
    {
      if (problem != nullptr)
        *problem = g_strdup ("cannot be read as TOML");
    }
  return CLI_STORE_SETTING_INVALID;
}

extern "C" char *
cli_config_with_store_setting (const char *text, gsize len, const char *value, GError **error)
{
  std::string_view doc (text, len);
  std::string out;

  try
    {
      toml::table before = parse_bounded (doc);
      const toml::node *node = before.get (CLI_CONFIG_KEY);
      toml::table expected = before;
      std::string literal = std::string ("\"") + value + "\"";

      if (node != nullptr)
        {
          const toml::source_region &where = node->source ();
          size_t begin = offset_of (doc, where.begin.line, where.begin.column);
          size_t end = offset_of (doc, where.end.line, where.end.column);

          if (begin == std::string::npos || end == std::string::npos || end < begin)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "cannot find where " CLI_CONFIG_KEY " is set");
              return nullptr;
            }
          out.reserve (len + literal.size ());
          out.append (doc.substr (0, begin)).append (literal).append (doc.substr (end));
        }
      else
        {
          /* A root key goes before the first table header: the first line
           * is always such a place (after a byte-order mark). */
          size_t at = doc.substr (0, 3) == "\xEF\xBB\xBF" ? 3 : 0;

          out.append (doc.substr (0, at))
              .append (CLI_CONFIG_KEY " = ")
              .append (literal)
              .append ("\n")
              .append (doc.substr (at));
        }

      expected.insert_or_assign (CLI_CONFIG_KEY, std::string (value));
      toml::table after = parse_bounded (std::string_view (out));
      if (after != expected)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "cannot set " CLI_CONFIG_KEY " without changing other settings");
          return nullptr;
        }
    }
  catch (const toml::parse_error &e)
    {
      g_autofree char *where = describe_error (e);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not valid TOML (%s)", where);
      return nullptr;
    }
  catch (...)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot edit the TOML document");
      return nullptr;
    }
  return g_strndup (out.data (), out.size ());
}
