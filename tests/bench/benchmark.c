/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codex-authd-bench: measures a running codex-authd on the session bus.
 *
 *   codex-authd-bench throughput [--calls N]
 *       Peer.Ping and GetAuthStatus(true, false) calls per second, one at a
 *       time and with 64 in flight, and the ratio.
 *   codex-authd-bench storm [--clients K] [--polls M]
 *       K connections each calling GetAuthStatus(true, true) M times, one
 *       call outstanding per connection; prints how the answers went.
 *
 * Run by scripts/run-benchmark.sh, which sets up the bus, the daemon and the
 * fake token endpoint and counts the endpoint's requests. */
#include "config.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#define IN_FLIGHT 64

static double
now_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static sd_bus *
connect_bus (void)
{
  sd_bus *bus = NULL;
  int r = sd_bus_open_user (&bus);

  if (r < 0)
    {
      fprintf (stderr, "Cannot connect to the session bus: %s\n", strerror (-r));
      exit (1);
    }
  return bus;
}

static int
new_call (sd_bus *bus, gboolean ping, sd_bus_message **m)
{
  int r;

  if (ping)
    return sd_bus_message_new_method_call (bus, m, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH,
                                           "org.freedesktop.DBus.Peer", "Ping");
  r = sd_bus_message_new_method_call (bus, m, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH,
                                      CODEX_AUTH_INTERFACE, "GetAuthStatus");
  if (r >= 0)
    r = sd_bus_message_append (*m, "bb", 1, 0);
  return r;
}

static double
sequential_rate (sd_bus *bus, gboolean ping, guint calls)
{
  double start = now_seconds ();

  for (guint i = 0; i < calls; i++)
    {
      sd_bus_message *m = NULL, *reply = NULL;
      sd_bus_error error = SD_BUS_ERROR_NULL;
      int r = new_call (bus, ping, &m);

      if (r >= 0)
        r = sd_bus_call (bus, m, 0, &error, &reply);
      if (r < 0)
        {
          fprintf (stderr, "call failed: %s\n", error.message ? error.message : strerror (-r));
          exit (1);
        }
      sd_bus_error_free (&error);
      sd_bus_message_unref (m);
      sd_bus_message_unref (reply);
    }
  return calls / (now_seconds () - start);
}

typedef struct {
  sd_bus *bus;
  gboolean ping;
  guint to_send;
  guint outstanding;
  guint failed;
} Pipeline;

static int pipeline_send (Pipeline *p);

static int
pipeline_reply_cb (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Pipeline *p = userdata;

  p->outstanding--;
  if (sd_bus_message_is_method_error (reply, NULL))
    p->failed++;
  return pipeline_send (p);
}

static int
pipeline_send (Pipeline *p)
{
  while (p->to_send > 0 && p->outstanding < IN_FLIGHT)
    {
      sd_bus_message *m = NULL;
      int r = new_call (p->bus, p->ping, &m);

      if (r >= 0)
        r = sd_bus_call_async (p->bus, NULL, m, pipeline_reply_cb, p, 0);
      sd_bus_message_unref (m);
      if (r < 0)
        return r;
      p->to_send--;
      p->outstanding++;
    }
  return 0;
}

static double
pipelined_rate (sd_bus *bus, gboolean ping, guint calls)
{
  Pipeline p = { bus, ping, calls, 0, 0 };
  double start = now_seconds ();

  if (pipeline_send (&p) < 0)
    exit (1);
  while (p.to_send > 0 || p.outstanding > 0)
    {
      int r = sd_bus_process (bus, NULL);

      if (r < 0)
        {
          fprintf (stderr, "bus failed: %s\n", strerror (-r));
          exit (1);
        }
      if (r == 0 && sd_bus_wait (bus, UINT64_MAX) < 0)
        exit (1);
    }
  if (p.failed > 0)
    {
      fprintf (stderr, "%u calls failed\n", p.failed);
      exit (1);
    }
  return calls / (now_seconds () - start);
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

#define ROUNDS 25

typedef double (*RateFunc) (sd_bus *bus, gboolean ping, guint calls);

/* Alternates Ping and GetAuthStatus rounds, so that both see the same
 * machine noise, and reports the median of each. */
static void
compare (sd_bus *bus, RateFunc rate, guint calls, const char *label)
{
  double ping[ROUNDS], status[ROUNDS];

  for (int i = 0; i < ROUNDS; i++)
    {
      ping[i] = rate (bus, TRUE, calls / ROUNDS);
      status[i] = rate (bus, FALSE, calls / ROUNDS);
    }
  qsort (ping, ROUNDS, sizeof (double), compare_doubles);
  qsort (status, ROUNDS, sizeof (double), compare_doubles);
  printf ("%-12s Peer.Ping:      %8.0f calls/s (median of %d rounds; %.0f..%.0f)\n",
          label, ping[ROUNDS / 2], ROUNDS, ping[0], ping[ROUNDS - 1]);
  printf ("%-12s GetAuthStatus:  %8.0f calls/s (median of %d rounds; %.0f..%.0f)  ratio %.2f\n",
          label, status[ROUNDS / 2], ROUNDS, status[0], status[ROUNDS - 1],
          status[ROUNDS / 2] / ping[ROUNDS / 2]);
}

static int
run_throughput (guint calls)
{
  sd_bus *bus = connect_bus ();

  /* Warm up: the daemon identifies the caller on its first call. */
  sequential_rate (bus, FALSE, 500);
  sequential_rate (bus, TRUE, 500);

  printf ("GetAuthStatus(include_token=true, refresh_token=false), %u calls of each kind\n", calls);
  compare (bus, sequential_rate, calls, "sequential");
  compare (bus, pipelined_rate, calls, "64 in flight");
  sd_bus_flush_close_unref (bus);
  return 0;
}

typedef struct {
  sd_bus *bus;
  guint remaining;
  guint *done_clients;
  guint *answers;
  guint *with_token;
  guint *errors;
  sd_event *event;
  guint n_clients;
} StormClient;

static int storm_send (StormClient *c);

static int
storm_reply_cb (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  StormClient *c = userdata;
  const char *method = NULL, *token = NULL;
  int requires = 0;

  if (sd_bus_message_is_method_error (reply, NULL) ||
      sd_bus_message_read (reply, "ssb", &method, &token, &requires) < 0)
    (*c->errors)++;
  else
    {
      (*c->answers)++;
      if (token[0] != '\0')
        (*c->with_token)++;
    }
  if (c->remaining == 0)
    {
      if (++(*c->done_clients) == c->n_clients)
        sd_event_exit (c->event, 0);
      return 0;
    }
  return storm_send (c);
}

static int
storm_send (StormClient *c)
{
  sd_bus_message *m = NULL;
  int r;

  r = sd_bus_message_new_method_call (c->bus, &m, CODEX_AUTH_BUS_NAME, CODEX_AUTH_OBJECT_PATH,
                                      CODEX_AUTH_INTERFACE, "GetAuthStatus");
  if (r >= 0)
    r = sd_bus_message_append (m, "bb", 1, 1);
  if (r >= 0)
    r = sd_bus_call_async (c->bus, NULL, m, storm_reply_cb, c, 60 * G_USEC_PER_SEC);
  sd_bus_message_unref (m);
  c->remaining--;
  return r;
}

static int
run_storm (guint clients, guint polls)
{
  g_autofree StormClient *c = g_new0 (StormClient, clients);
  guint done = 0, answers = 0, with_token = 0, errors = 0;
  sd_event *event = NULL;
  double start;

  if (sd_event_new (&event) < 0)
    return 1;
  for (guint i = 0; i < clients; i++)
    {
      c[i].bus = connect_bus ();
      c[i].remaining = polls;
      c[i].done_clients = &done;
      c[i].answers = &answers;
      c[i].with_token = &with_token;
      c[i].errors = &errors;
      c[i].event = event;
      c[i].n_clients = clients;
      sd_bus_attach_event (c[i].bus, event, 0);
    }
  start = now_seconds ();
  for (guint i = 0; i < clients; i++)
    if (storm_send (&c[i]) < 0)
      return 1;
  sd_event_loop (event);

  printf ("storm: %u clients x %u polls = %u calls in %.2f s; %u answers (%u with a token), %u errors\n",
          clients, polls, clients * polls, now_seconds () - start, answers, with_token, errors);
  for (guint i = 0; i < clients; i++)
    {
      sd_bus_detach_event (c[i].bus);
      sd_bus_flush_close_unref (c[i].bus);
    }
  sd_event_unref (event);
  return errors == 0 ? 0 : 1;
}

int
main (int argc, char **argv)
{
  guint calls = 20000, clients = 100, polls = 100;

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s throughput [--calls N] | storm [--clients K] [--polls M]\n", argv[0]);
      return 2;
    }
  for (int i = 2; i + 1 < argc; i += 2)
    {
      guint v = (guint) strtoul (argv[i + 1], NULL, 10);

      if (strcmp (argv[i], "--calls") == 0)
        calls = v;
      else if (strcmp (argv[i], "--clients") == 0)
        clients = v;
      else if (strcmp (argv[i], "--polls") == 0)
        polls = v;
      else
        {
          fprintf (stderr, "unknown option %s\n", argv[i]);
          return 2;
        }
    }
  if (calls == 0 || clients == 0 || polls == 0)
    {
      fprintf (stderr, "counts must be positive\n");
      return 2;
    }
  if (strcmp (argv[1], "throughput") == 0)
    return run_throughput (calls);
  if (strcmp (argv[1], "storm") == 0)
    return run_storm (clients, polls);
  fprintf (stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
