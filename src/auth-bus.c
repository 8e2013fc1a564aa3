/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The org.codex.Auth1 object: the vtable, the method handlers, the
 * caller check, and one PropertiesChanged per state change. */
#define G_LOG_DOMAIN "codex-authd-bus"

#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "auth-bus.h"
#include "auth-error.h"
#include "bus-access.h"
#include "logout.h"
#include "sd-bus-cleanup.h"


struct _AuthBus {
  sd_bus *bus;
  AuthManager *manager;
  gulong changed_id;
  SigninManager *signins;
  Revoker *revoker;
  gulong signins_changed_id;
  gulong signin_completed_id;
  sd_bus_slot *vtable_slot;
  BusAccess *access;
  sd_bus_slot *activity_slot;
  gint64 last_activity; /* monotonic time of the last call to the object */
  /* The values the properties were last published with; the vtable reads
   * them in place. */
  AuthStatus status;
};

/* One row per property (auth-status.h): what PropertiesChanged compares
 * and what GetAuthStatusDetails returns (under the kebab-case key). */
typedef struct {
  const char *name;
  const char *key;
  char type;
  size_t offset;
  gboolean constant;
} PropertyInfo;

#define PROPERTY_IS_CONST_emits FALSE
#define PROPERTY_IS_CONST_invalidates FALSE
#define PROPERTY_IS_CONST_const TRUE
#define PROPERTY_INFO(name, key, type, field, change, label, doc) \
  { #name, key, #type[0], offsetof (AuthStatus, field), PROPERTY_IS_CONST_##change },
static const PropertyInfo property_info[] = {
  AUTH_PROPERTIES (PROPERTY_INFO)
};
#undef PROPERTY_INFO

#define FIELD_PTR(status, info, type) ((type *) ((char *) (status) + (info)->offset))

/* ---- errors ------------------------------------------------------------ */

/* The one place where a GError becomes a D-Bus error (auth-error.c holds
 * the names). */
static int
reply_gerror (sd_bus_message *m, const GError *error)
{
  return sd_bus_reply_method_errorf (m, codex_auth_error_name (error), "%s", error->message);
}

/* ---- properties -------------------------------------------------------- */

static gboolean
property_equal (const PropertyInfo *info, const AuthStatus *a, const AuthStatus *b)
{
  switch (info->type)
    {
    case 's':
      return g_strcmp0 (*FIELD_PTR (a, info, char *), *FIELD_PTR (b, info, char *)) == 0;
    case 'b':
      return (*FIELD_PTR (a, info, int) != 0) == (*FIELD_PTR (b, info, int) != 0);
    case 't':
      return *FIELD_PTR (a, info, uint64_t) == *FIELD_PTR (b, info, uint64_t);
    default:
      g_assert_not_reached ();
    }
}

static void
get_status (AuthBus *self, AuthStatus *status)
{
  auth_manager_get_status (self->manager, status);
  g_free (status->pending_login);
  status->pending_login = g_strdup (signin_manager_get_pending (self->signins));
}

/* Publishes the manager's current status and emits one PropertiesChanged
 * naming every property whose value differs from the last published one. */
static void
sync_properties (AuthBus *self)
{
  AuthStatus next = { 0 };
  const char *changed[G_N_ELEMENTS (property_info) + 1];
  guint n_changed = 0;
  int r;

  get_status (self, &next);
  for (guint i = 0; i < G_N_ELEMENTS (property_info); i++)
    if (!property_info[i].constant && !property_equal (&property_info[i], &self->status, &next))
      changed[n_changed++] = property_info[i].name;
  changed[n_changed] = NULL;

  auth_status_clear (&self->status);
  self->status = next;

  if (n_changed == 0)
    return;
  if (g_log_get_debug_enabled ())
    {
      g_autofree char *names = g_strjoinv (", ", (char **) changed);
      g_debug ("Properties changed: %s", names);
    }
  r = sd_bus_emit_properties_changed_strv (self->bus, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE,
                                           (char **) changed);
  if (r < 0)
    g_warning ("Cannot emit PropertiesChanged: %s, ignoring", g_strerror (-r));
}

static void
manager_changed_cb (AuthManager *manager, gpointer user_data)
{
  sync_properties (user_data);
}

static int
append_property_value (sd_bus_message *reply, const PropertyInfo *info, const AuthStatus *status)
{
  int r;

  r = sd_bus_message_open_container (reply, 'e', "sv");
  if (r < 0)
    return r;
  switch (info->type)
    {
    case 's':
      {
        const char *value = *FIELD_PTR (status, info, char *);
        r = sd_bus_message_append (reply, "sv", info->key, "s", value != NULL ? value : "");
      }
      break;
    case 'b':
      r = sd_bus_message_append (reply, "sv", info->key, "b", *FIELD_PTR (status, info, int) != 0);
      break;
    case 't':
      r = sd_bus_message_append (reply, "sv", info->key, "t", *FIELD_PTR (status, info, uint64_t));
      break;
    default:
      g_assert_not_reached ();
    }
  if (r < 0)
    return r;
  return sd_bus_message_close_container (reply);
}

/* ---- methods ----------------------------------------------------------- */

/* A reply that carries a token is marked sensitive: sd-bus wipes its
 * memory when it frees it. */
static int
new_reply (sd_bus_message *m, gboolean sensitive, sd_bus_message **reply)
{
  int r = sd_bus_message_new_method_return (m, reply);

  if (r >= 0 && sensitive)
    r = sd_bus_message_sensitive (*reply);
  return r;
}

/* Whether @len bytes of @s are valid UTF-8. Tokens are ASCII (JWTs, API
 * keys): one pass over the bytes, eight at a time, settles that case;
 * anything else gets GLib's full check. */
static gboolean
token_is_utf8 (const char *s, size_t len)
{
  guint64 high = 0;
  size_t i = 0;

  for (; i + sizeof high <= len; i += sizeof high)
    {
      guint64 word;

      memcpy (&word, s + i, sizeof word);
      high |= word;
    }
  for (; i < len; i++)
    high |= (unsigned char) s[i];
  return (high & G_GUINT64_CONSTANT (0x8080808080808080)) == 0 || g_utf8_validate (s, (gssize) len, NULL);
}

/* The token goes in as a string of known length. sd-bus would check its
 * UTF-8 again, one character at a time, on every call, at a cost that
 * grows with the token: with a 2 KB token the reply cost 55,000
 * instructions, and 10,500 this way (callgrind). A token that fails the
 * check fails the call, as sd-bus would have. */
static int
append_token (sd_bus_message *reply, const char *token)
{
  size_t len = token != NULL ? strlen (token) : 0;
  char *space = NULL;
  int r;

  if (!token_is_utf8 (token, len))
    return -EINVAL;
  r = sd_bus_message_append_string_space (reply, len, &space);
  if (r >= 0 && len > 0)
    memcpy (space, token, len);
  return r;
}

static int
reply_auth_status (AuthBus *self, sd_bus_message *m, gboolean include_token)
{
  g_autoptr(sd_bus_message) reply = NULL;
  const char *token = include_token ? auth_manager_get_token (self->manager) : NULL;
  int r;

  r = new_reply (m, token != NULL, &reply);
  if (r >= 0)
    r = sd_bus_message_append (reply, "s", self->status.auth_method);
  if (r >= 0)
    r = append_token (reply, token);
  if (r >= 0)
    r = sd_bus_message_append (reply, "b", 1);
  if (r < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

static int reply_auth_status_details (AuthBus *self, sd_bus_message *m, gboolean include_token);

/* A call waiting for the refresh in flight (or for the keyring item to be
 * read again first: auth_manager_prepare_async()). It is answered when the
 * refresh ends or when AUTH_BUS_ANSWER_BOUND_MS have passed, whichever comes
 * first, and freed when the refresh ends (which always comes). */
typedef struct {
  AuthBus *self;
  sd_bus_message *m;
  gboolean include_token;
  gboolean details;
  guint bound_id;
} PendingCall;

static void
pending_call_answer (PendingCall *call)
{
  int r;

  if (call->m == NULL)
    return;
  /* Whatever the refresh gave (or while it carries on), answer with what
   * there is now: a refresh never fails the call. */
  if (call->details)
    r = reply_auth_status_details (call->self, call->m, call->include_token);
  else
    r = reply_auth_status (call->self, call->m, call->include_token);
  if (r < 0)
    g_debug ("Cannot reply after the refresh: %s, ignoring", g_strerror (-r));
  g_clear_pointer (&call->m, sd_bus_message_unref);
}

static gboolean
answer_bound_cb (gpointer user_data)
{
  PendingCall *call = user_data;

  call->bound_id = 0;
  g_debug ("The refresh takes longer than %d ms: answering with what there is", AUTH_BUS_ANSWER_BOUND_MS);
  pending_call_answer (call);
  return G_SOURCE_REMOVE;
}

/* The wait is over: answer if the bound has not already, and free. */
static void
prepare_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PendingCall *call = user_data;

  auth_manager_prepare_finish (AUTH_MANAGER (source), result);
  pending_call_answer (call);
  g_clear_handle_id (&call->bound_id, g_source_remove);
  g_free (call);
}

/* Answers now, or after a re-read of the keyring item and a refresh when
 * they are due or asked for. */
static int
answer_or_wait (AuthBus *self, sd_bus_message *m, gboolean include_token, gboolean force_refresh,
                gboolean details)
{
  PendingCall *call;

  if (!auth_manager_prepare_needed (self->manager, force_refresh, include_token))
    return details ? reply_auth_status_details (self, m, include_token)
                   : reply_auth_status (self, m, include_token);

  call = g_new0 (PendingCall, 1);
  call->self = self;
  call->m = sd_bus_message_ref (m);
  call->include_token = include_token;
  call->details = details;
  call->bound_id = g_timeout_add (AUTH_BUS_ANSWER_BOUND_MS, answer_bound_cb, call);
  auth_manager_prepare_async (self->manager, force_refresh, include_token, prepare_done_cb, call);
  return 1;
}

static int
method_get_auth_status (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;
  int include_token = 0, force_refresh = 0;
  int r;

  r = sd_bus_message_read (m, "bb", &include_token, &force_refresh);
  if (r < 0)
    return r;
  return answer_or_wait (self, m, include_token, force_refresh, FALSE);
}

typedef struct {
  int include_token;
  int force_refresh; /* the refresh-token option */
} DetailsOptions;

static int
read_details_options (sd_bus_message *m, DetailsOptions *opts, sd_bus_error *ret_error)
{
  int r;

  r = sd_bus_message_enter_container (m, 'a', "{sv}");
  if (r < 0)
    return r;
  while ((r = sd_bus_message_enter_container (m, 'e', "sv")) > 0)
    {
      const char *key = NULL, *contents = NULL;
      int *target;

      r = sd_bus_message_read (m, "s", &key);
      if (r < 0)
        return r;
      if (g_strcmp0 (key, "include-token") == 0)
        target = &opts->include_token;
      else if (g_strcmp0 (key, "refresh-token") == 0)
        target = &opts->force_refresh;
      else
        return sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS,
                                  "Unknown option \"%s\"; the options are include-token (b) "
                                  "and refresh-token (b)", key);

      r = sd_bus_message_peek_type (m, NULL, &contents);
      if (r < 0)
        return r;
      if (g_strcmp0 (contents, "b") != 0)
        return sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS,
                                  "Option \"%s\" must be a boolean (b), not \"%s\"",
                                  key, contents != NULL ? contents : "");
      r = sd_bus_message_read (m, "v", "b", target);
      if (r < 0)
        return r;
      r = sd_bus_message_exit_container (m);
      if (r < 0)
        return r;
    }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container (m);
}

static int
reply_auth_status_details (AuthBus *self, sd_bus_message *m, gboolean include_token)
{
  g_autoptr(sd_bus_message) reply = NULL;
  const char *token = include_token ? auth_manager_get_token (self->manager) : NULL;
  int r;

  r = new_reply (m, token != NULL, &reply);
  if (r < 0)
    return r;
  r = sd_bus_message_open_container (reply, 'a', "{sv}");
  if (r < 0)
    return r;
  r = sd_bus_message_open_container (reply, 'e', "sv");
  if (r >= 0)
    r = sd_bus_message_append (reply, "s", "auth-token");
  if (r >= 0)
    r = sd_bus_message_open_container (reply, 'v', "s");
  if (r >= 0)
    r = append_token (reply, token);
  if (r >= 0)
    r = sd_bus_message_close_container (reply);
  if (r >= 0)
    r = sd_bus_message_close_container (reply);
  if (r >= 0)
    r = sd_bus_message_append (reply, "{sv}", "requires-openai-auth", "b", 1);
#define APPEND_DETAIL(key, field, label, doc) \
  if (r >= 0)                                 \
    r = sd_bus_message_append (reply, "{sv}", key, "s", self->status.field);
  AUTH_DETAILS (APPEND_DETAIL)
#undef APPEND_DETAIL
  if (r < 0)
    return r;
  for (guint i = 0; i < G_N_ELEMENTS (property_info); i++)
    {
      r = append_property_value (reply, &property_info[i], &self->status);
      if (r < 0)
        return r;
    }
  r = sd_bus_message_close_container (reply);
  if (r < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

static int
method_get_auth_status_details (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;
  DetailsOptions opts = { 0 };
  int r;

  r = read_details_options (m, &opts, ret_error);
  if (r < 0)
    return r;
  return answer_or_wait (self, m, opts.include_token, opts.force_refresh, TRUE);
}

static void
reload_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(sd_bus_message) m = user_data;
  g_autoptr(GError) error = NULL;
  int r;

  if (!auth_manager_reload_finish (AUTH_MANAGER (source), result, &error))
    r = reply_gerror (m, error);
  else
    r = sd_bus_reply_method_return (m, NULL);
  if (r < 0)
    g_debug ("Cannot reply to Reload: %s, ignoring", g_strerror (-r));
}

static int
method_reload (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;

  auth_manager_reload_async (self->manager, NULL, reload_done_cb, sd_bus_message_ref (m));
  return 1;
}

static void
unlock_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(sd_bus_message) m = user_data;
  g_autoptr(GError) error = NULL;
  int r;

  if (!auth_manager_unlock_store_finish (AUTH_MANAGER (source), result, &error))
    r = reply_gerror (m, error);
  else
    r = sd_bus_reply_method_return (m, NULL);
  if (r < 0)
    g_debug ("Cannot reply to UnlockStore: %s, ignoring", g_strerror (-r));
}

static int
method_unlock_store (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;

  auth_manager_unlock_store_async (self->manager, unlock_done_cb, sd_bus_message_ref (m));
  return 1;
}

/* ---- login and logout -------------------------------------------------- */

#define MAX_API_KEY_SIZE 4096
#define MAX_TOKEN_SIZE (64 * 1024)

/* Checks that @value (a secret: never quoted) is a non-empty run of
 * printable ASCII without whitespace, at most @max bytes. */
static gboolean
check_token_arg (const char *what, const char *value, gsize max, sd_bus_error *ret_error)
{
  gsize len = strlen (value);

  if (len == 0)
    {
      sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS, "The %s is empty", what);
      return FALSE;
    }
  if (len > max)
    {
      sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS,
                         "The %s is %zu bytes long, more than the %zu allowed", what, len, max);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    if ((unsigned char) value[i] < 0x21 || (unsigned char) value[i] > 0x7e)
      {
        sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS,
                           "The %s contains whitespace or a character that is not printable ASCII "
                           "(at byte %zu)", what, i + 1);
        return FALSE;
      }
  return TRUE;
}

/* The end of a login (LoginWithApiKey, ImportChatGptTokens) or a move. */
static void
store_change_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(sd_bus_message) m = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok;
  int r;

  if (g_task_get_source_tag (G_TASK (result)) == auth_manager_move_async)
    ok = auth_manager_move_finish (AUTH_MANAGER (source), result, &error);
  else
    ok = signin_manager_login_finish (SIGNIN_MANAGER (source), result, &error);
  r = ok ? sd_bus_reply_method_return (m, NULL) : reply_gerror (m, error);
  if (r < 0)
    g_debug ("Cannot reply to %s: %s, ignoring", sd_bus_message_get_member (m), g_strerror (-r));
}

static int
method_login_with_api_key (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;
  g_autoptr(AuthRecord) record = NULL;
  const char *key = NULL;
  int r;

  r = sd_bus_message_read (m, "s", &key);
  if (r < 0)
    return r;
  if (!check_token_arg ("API key", key, MAX_API_KEY_SIZE, ret_error))
    return -EINVAL;
  record = auth_record_new_api_key (key);
  if (record == NULL)
    return sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS, "The API key cannot be stored");
  signin_manager_login_async (self->signins, record, store_change_done_cb, sd_bus_message_ref (m));
  return 1;
}

static int
method_import_chatgpt_tokens (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;
  g_autoptr(AuthRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  const char *id_token = NULL, *access_token = NULL, *refresh_token = NULL;
  int r;

  r = sd_bus_message_read (m, "sss", &id_token, &access_token, &refresh_token);
  if (r < 0)
    return r;
  if (!check_token_arg ("id_token", id_token, MAX_TOKEN_SIZE, ret_error) ||
      !check_token_arg ("access_token", access_token, MAX_TOKEN_SIZE, ret_error) ||
      !check_token_arg ("refresh_token", refresh_token, MAX_TOKEN_SIZE, ret_error))
    return -EINVAL;
  record = auth_record_new_chatgpt (id_token, access_token, refresh_token, NULL, g_get_real_time (), &error);
  if (record == NULL)
    return sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS, "Cannot import the tokens: %s",
                              error->message);
  signin_manager_login_async (self->signins, record, store_change_done_cb, sd_bus_message_ref (m));
  return 1;
}

static void
logout_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(sd_bus_message) m = user_data;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(GError) error = NULL;
  LogoutOutcome outcome = { 0 };
  int r;

  if (!logout_finish (result, &outcome, &error))
    r = reply_gerror (m, error);
  else
    {
      r = sd_bus_message_new_method_return (m, &reply);
      if (r >= 0)
        r = sd_bus_message_append (reply, "a{sv}", 3, "revocation", "s", outcome.revocation,
                                   "revoked-token-type", "s", outcome.token_type,
                                   "revocation-error", "s", outcome.error);
      if (r >= 0)
        r = sd_bus_send (NULL, reply, NULL);
    }
  logout_outcome_clear (&outcome);
  if (r < 0)
    g_debug ("Cannot reply to Logout: %s, ignoring", g_strerror (-r));
}

static int
method_logout (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;

  logout_async (self->manager, self->signins, self->revoker, logout_done_cb, sd_bus_message_ref (m));
  return 1;
}

/* ---- ChatGPT sign-in --------------------------------------------------- */

/* No option is defined yet: any key is refused, so that one added later
 * is never silently ignored by an older service. */
static int
read_login_options (sd_bus_message *m, sd_bus_error *ret_error)
{
  int r;

  r = sd_bus_message_enter_container (m, 'a', "{sv}");
  if (r < 0)
    return r;
  r = sd_bus_message_enter_container (m, 'e', "sv");
  if (r < 0)
    return r;
  if (r > 0)
    {
      const char *key = NULL;

      r = sd_bus_message_read (m, "s", &key);
      if (r < 0)
        return r;
      return sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS,
                                "Unknown option \"%s\"; no option is defined", key);
    }
  return sd_bus_message_exit_container (m);
}

static void
start_browser_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(sd_bus_message) m = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL, *url = NULL;
  int r;

  if (!signin_manager_start_browser_finish (SIGNIN_MANAGER (source), result, &id, &url, &error))
    r = reply_gerror (m, error);
  else
    r = sd_bus_reply_method_return (m, "ss", id, url);
  if (r < 0)
    g_debug ("Cannot reply to StartChatGptLogin: %s, ignoring", g_strerror (-r));
}

static int
method_start_chatgpt_login (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;
  int r;

  r = read_login_options (m, ret_error);
  if (r < 0)
    return r;
  signin_manager_start_browser_async (self->signins, start_browser_done_cb, sd_bus_message_ref (m));
  return 1;
}

static void
start_device_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(sd_bus_message) m = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL, *url = NULL, *code = NULL;
  int r;

  if (!signin_manager_start_device_finish (SIGNIN_MANAGER (source), result, &id, &url, &code, &error))
    r = reply_gerror (m, error);
  else
    r = sd_bus_reply_method_return (m, "sss", id, url, code);
  if (r < 0)
    g_debug ("Cannot reply to StartDeviceCodeLogin: %s, ignoring", g_strerror (-r));
}

static int
method_start_device_code_login (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;
  int r;

  r = read_login_options (m, ret_error);
  if (r < 0)
    return r;
  signin_manager_start_device_async (self->signins, start_device_done_cb, sd_bus_message_ref (m));
  return 1;
}

static int
method_cancel_login (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;
  g_autoptr(GError) error = NULL;
  const char *id = NULL;
  int r;

  r = sd_bus_message_read (m, "s", &id);
  if (r < 0)
    return r;
  if (!signin_manager_cancel (self->signins, id, &error))
    return reply_gerror (m, error);
  return sd_bus_reply_method_return (m, NULL);
}

static void
signins_changed_cb (SigninManager *signins, gpointer user_data)
{
  sync_properties (user_data);
}

static void
signin_completed_cb (SigninManager *signins, const char *id, gboolean success, const char *error,
                    const char *message, gpointer user_data)
{
  AuthBus *self = user_data;
  int r;

  /* The properties first: a client that reads them on the signal sees the
   * new state. */
  sync_properties (self);
  r = sd_bus_emit_signal (self->bus, CODEX_AUTH_OBJECT_PATH, CODEX_AUTH_INTERFACE, "LoginCompleted", "sbss",
                          id, success, error, message);
  if (r < 0)
    g_warning ("Cannot emit LoginCompleted: %s, ignoring", g_strerror (-r));
}

static int
method_move_credentials (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;
  const char *store = NULL;
  StoreKind target;
  int r;

  r = sd_bus_message_read (m, "s", &store);
  if (r < 0)
    return r;
  if (!store_kind_from_string (store, &target))
    return sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS,
                              "Unknown store; the stores are \"secret-service\" and \"file\"");
  auth_manager_move_async (self->manager, target, store_change_done_cb, sd_bus_message_ref (m));
  return 1;
}

#define STATUS_OFFSET(field) (offsetof (AuthBus, status) + offsetof (AuthStatus, field))
#define PROPERTY_FLAGS_emits SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
#define PROPERTY_FLAGS_invalidates SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION
#define PROPERTY_FLAGS_const SD_BUS_VTABLE_PROPERTY_CONST
#define VTABLE_PROPERTY(name, key, type, field, change, label, doc) \
  SD_BUS_PROPERTY (#name, #type, NULL, STATUS_OFFSET (field), PROPERTY_FLAGS_##change),

static const sd_bus_vtable auth_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_METHOD_WITH_ARGS ("GetAuthStatus",
                           SD_BUS_ARGS ("b", include_token, "b", refresh_token),
                           SD_BUS_RESULT ("s", auth_method, "s", auth_token, "b", requires_openai_auth),
                           method_get_auth_status, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetAuthStatusDetails",
                           SD_BUS_ARGS ("a{sv}", options),
                           SD_BUS_RESULT ("a{sv}", status),
                           method_get_auth_status_details, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                           method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("MoveCredentials", SD_BUS_ARGS ("s", store), SD_BUS_NO_RESULT,
                           method_move_credentials, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("UnlockStore", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                           method_unlock_store, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("LoginWithApiKey", SD_BUS_ARGS ("s", api_key), SD_BUS_NO_RESULT,
                           method_login_with_api_key, SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
  SD_BUS_METHOD_WITH_ARGS ("ImportChatGptTokens",
                           SD_BUS_ARGS ("s", id_token, "s", access_token, "s", refresh_token),
                           SD_BUS_NO_RESULT, method_import_chatgpt_tokens,
                           SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
  SD_BUS_METHOD_WITH_ARGS ("Logout", SD_BUS_NO_ARGS, SD_BUS_RESULT ("a{sv}", details),
                           method_logout, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("StartChatGptLogin", SD_BUS_ARGS ("a{sv}", options),
                           SD_BUS_RESULT ("s", login_id, "s", auth_url),
                           method_start_chatgpt_login, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("StartDeviceCodeLogin", SD_BUS_ARGS ("a{sv}", options),
                           SD_BUS_RESULT ("s", login_id, "s", verification_url, "s", user_code),
                           method_start_device_code_login, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("CancelLogin", SD_BUS_ARGS ("s", login_id), SD_BUS_NO_RESULT,
                           method_cancel_login, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_SIGNAL_WITH_ARGS ("LoginCompleted",
                           SD_BUS_ARGS ("s", login_id, "b", success, "s", error, "s", message), 0),
  AUTH_PROPERTIES (VTABLE_PROPERTY)
  SD_BUS_VTABLE_END,
};

#undef VTABLE_PROPERTY
#undef PROPERTY_FLAGS_emits
#undef PROPERTY_FLAGS_invalidates
#undef PROPERTY_FLAGS_const
#undef STATUS_OFFSET

/* Notes every call to the object (properties and introspection included),
 * for the idle exit. */
static int
activity_filter_cb (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  AuthBus *self = userdata;

  if (sd_bus_message_is_method_call (m, NULL, NULL) &&
      g_strcmp0 (sd_bus_message_get_path (m), CODEX_AUTH_OBJECT_PATH) == 0)
    self->last_activity = g_get_monotonic_time ();
  return 0;
}

gint64
auth_bus_get_last_activity (AuthBus *self)
{
  return self->last_activity;
}

AuthBus *
auth_bus_new (sd_bus *bus, AuthManager *manager, SigninManager *signins, Revoker *revoker, GError **error)
{
  g_autoptr(AuthBus) self = g_new0 (AuthBus, 1);
  int r;

  self->bus = sd_bus_ref (bus);
  self->manager = g_object_ref (manager);
  self->signins = g_object_ref (signins);
  self->revoker = revoker;
  self->last_activity = g_get_monotonic_time ();
  get_status (self, &self->status);
  r = sd_bus_add_filter (bus, &self->activity_slot, activity_filter_cb, self);
  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r), "Cannot watch calls: %s", g_strerror (-r));
      return NULL;
    }

  self->access = bus_access_new (bus, CODEX_AUTH_OBJECT_PATH, geteuid (),
                                 codex_auth_error_info (CODEX_AUTH_ERROR_ACCESS_DENIED)->name, error);
  if (self->access == NULL)
    return NULL;

  r = sd_bus_add_object_vtable (bus, &self->vtable_slot, CODEX_AUTH_OBJECT_PATH,
                                CODEX_AUTH_INTERFACE, auth_vtable, self);
  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                   "Cannot export %s: %s", CODEX_AUTH_OBJECT_PATH, g_strerror (-r));
      return NULL;
    }

  self->changed_id = g_signal_connect (manager, "changed", G_CALLBACK (manager_changed_cb), self);
  self->signins_changed_id = g_signal_connect (signins, "changed", G_CALLBACK (signins_changed_cb), self);
  self->signin_completed_id = g_signal_connect (signins, "completed", G_CALLBACK (signin_completed_cb), self);
  return g_steal_pointer (&self);
}

void
auth_bus_free (AuthBus *self)
{
  if (self == NULL)
    return;
  if (self->changed_id != 0)
    g_clear_signal_handler (&self->changed_id, self->manager);
  if (self->signins != NULL)
    {
      g_clear_signal_handler (&self->signins_changed_id, self->signins);
      g_clear_signal_handler (&self->signin_completed_id, self->signins);
    }
  g_clear_object (&self->signins);
  sd_bus_slot_unref (self->vtable_slot);
  sd_bus_slot_unref (self->activity_slot);
  bus_access_free (self->access);
  g_clear_object (&self->manager);
  sd_bus_unref (self->bus);
  auth_status_clear (&self->status);
  g_free (self);
}
