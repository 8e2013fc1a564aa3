/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A GTK 4 app that shows the Codex login through libcodex-auth-1: the
 * account, the state in words, and a button that fetches a token without
 * blocking. Everything updates live from the service's notifications.
 *
 *   codex-auth-gtk [--print-state]
 *
 * --print-state prints what the window shows each time it changes (one
 * "SHOW" line), and SIGUSR1 presses the button: how the test drives it. */
#include <glib-unix.h>
#include <gtk/gtk.h>
#include <codex-auth.h>

typedef struct {
  CodexAuthClient *client;
  GtkWidget *account;
  GtkWidget *state;
  GtkWidget *detail;
  GtkWidget *token;
  GtkWidget *button;
  gboolean print_state;
  char *last_printed;
} App;

static void
print_state (App *app)
{
  g_autofree char *line = NULL;

  if (!app->print_state)
    return;
  line = g_strdup_printf ("SHOW account=%s|state=%s|detail=%s|token=%s",
                          gtk_label_get_text (GTK_LABEL (app->account)),
                          gtk_label_get_text (GTK_LABEL (app->state)),
                          gtk_label_get_text (GTK_LABEL (app->detail)),
                          gtk_label_get_text (GTK_LABEL (app->token)));
  if (g_strcmp0 (line, app->last_printed) == 0)
    return;
  g_free (app->last_printed);
  app->last_printed = g_strdup (line);
  g_print ("%s\n", line);
}

/* The account, the state and its detail, from the client's properties. */
static void
update (App *app)
{
  CodexAuthClient *c = app->client;
  CodexAuthState state = codex_auth_client_get_state (c);
  const char *method = codex_auth_client_get_auth_method (c);
  g_autofree char *account = NULL;
  g_autofree char *detail = NULL;
  GDateTime *refreshed = codex_auth_client_get_last_refresh (c);

  if (g_str_equal (method, "chatgpt"))
    account = g_strdup_printf ("%s (%s)", codex_auth_client_get_email (c), codex_auth_client_get_plan_type (c));
  else if (g_str_equal (method, "apikey"))
    account = g_strdup ("API key");
  else
    account = g_strdup ("No account");

  if (state == CODEX_AUTH_STATE_LOG_IN_AGAIN || state == CODEX_AUTH_STATE_TEMPORARILY_FAILING)
    detail = g_strdup (codex_auth_client_get_refresh_error_message (c));
  else if (state == CODEX_AUTH_STATE_READY && refreshed != NULL)
    {
      g_autoptr(GDateTime) local = g_date_time_to_local (refreshed);
      detail = g_date_time_format (local, "Last refreshed %Y-%m-%d %H:%M:%S");
    }
  else
    detail = g_strdup ("");

  gtk_label_set_text (GTK_LABEL (app->account), account);
  gtk_label_set_text (GTK_LABEL (app->state), codex_auth_state_describe (state));
  gtk_label_set_text (GTK_LABEL (app->detail), detail);
  gtk_widget_set_sensitive (app->button, state == CODEX_AUTH_STATE_READY ||
                                         state == CODEX_AUTH_STATE_TEMPORARILY_FAILING ||
                                         state == CODEX_AUTH_STATE_REFRESHING);
  /* A token fetched for an account that is gone says nothing any more. */
  if (!gtk_widget_get_sensitive (app->button))
    gtk_label_set_text (GTK_LABEL (app->token), "");
  print_state (app);
}

static void
notify_cb (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  update (user_data);
}

static void
token_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = codex_auth_client_get_token_finish (CODEX_AUTH_CLIENT (source), result, &error);
  g_autofree char *text = NULL;

  /* Never show a token: only that there is one. */
  if (token != NULL)
    text = g_strdup_printf ("Got a token (%zu characters)", strlen (token));
  else if (g_error_matches (error, CODEX_AUTH_ERROR, CODEX_AUTH_ERROR_LOGIN_REQUIRED))
    text = g_strdup ("No token: sign in again");
  else
    text = g_strdup_printf ("No token: %s", error->message);
  gtk_label_set_text (GTK_LABEL (app->token), text);
  print_state (app);
}

static void
clicked_cb (GtkButton *button, gpointer user_data)
{
  App *app = user_data;

  gtk_label_set_text (GTK_LABEL (app->token), "Fetching a token...");
  print_state (app);
  codex_auth_client_get_token_async (app->client, FALSE, NULL, token_cb, app);
}

static gboolean
sigusr1_cb (gpointer user_data)
{
  App *app = user_data;

  if (gtk_widget_get_sensitive (app->button))
    g_signal_emit_by_name (app->button, "clicked");
  return G_SOURCE_CONTINUE;
}

static GtkWidget *
label (const char *css_class)
{
  GtkWidget *w = gtk_label_new ("");

  gtk_label_set_xalign (GTK_LABEL (w), 0);
  gtk_label_set_wrap (GTK_LABEL (w), TRUE);
  if (css_class != NULL)
    gtk_widget_add_css_class (w, css_class);
  return w;
}

static void
client_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  app->client = codex_auth_client_new_finish (result, &error);
  if (app->client == NULL)
    {
      gtk_label_set_text (GTK_LABEL (app->state), error->message);
      print_state (app);
      return;
    }
  g_signal_connect (app->client, "notify", G_CALLBACK (notify_cb), app);
  update (app);
}

static void
activate_cb (GtkApplication *gtk_app, gpointer user_data)
{
  App *app = user_data;
  GtkWidget *window = gtk_application_window_new (gtk_app);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);

  gtk_window_set_title (GTK_WINDOW (window), "Codex account (GTK)");
  gtk_window_set_default_size (GTK_WINDOW (window), 420, 220);
  gtk_widget_set_margin_top (box, 18);
  gtk_widget_set_margin_bottom (box, 18);
  gtk_widget_set_margin_start (box, 18);
  gtk_widget_set_margin_end (box, 18);
  app->account = label ("title-2");
  app->state = label ("heading");
  app->detail = label ("dim-label");
  app->button = gtk_button_new_with_label ("Get token");
  app->token = label (NULL);
  gtk_widget_set_sensitive (app->button, FALSE);
  g_signal_connect (app->button, "clicked", G_CALLBACK (clicked_cb), app);
  gtk_box_append (GTK_BOX (box), app->account);
  gtk_box_append (GTK_BOX (box), app->state);
  gtk_box_append (GTK_BOX (box), app->detail);
  gtk_box_append (GTK_BOX (box), app->button);
  gtk_box_append (GTK_BOX (box), app->token);
  gtk_window_set_child (GTK_WINDOW (window), box);
  gtk_label_set_text (GTK_LABEL (app->state), "Connecting...");
  gtk_window_present (GTK_WINDOW (window));
  codex_auth_client_new (NULL, client_ready_cb, app);
}

int
main (int argc, char **argv)
{
  g_autoptr(GtkApplication) gtk_app = NULL;
  App app = { 0 };
  int status;

  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--print-state"))
      app.print_state = TRUE;
  gtk_app = gtk_application_new ("org.codex.AuthExample.Gtk", G_APPLICATION_NON_UNIQUE);
  g_signal_connect (gtk_app, "activate", G_CALLBACK (activate_cb), &app);
  g_unix_signal_add (SIGUSR1, sigusr1_cb, &app);
  status = g_application_run (G_APPLICATION (gtk_app), 1, argv);
  g_clear_object (&app.client);
  g_free (app.last_printed);
  return status;
}
