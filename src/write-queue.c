/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Store changes applied one at a time, in the order they were asked for. */
#define G_LOG_DOMAIN "codex-authd-writes"

#include "config.h"

#include "write-queue.h"

typedef struct {
  const char *what;
  WriteJobStart start;
  WriteJobDone done;
  gpointer data;
  GDestroyNotify free_data;
} WriteJob;

struct _WriteQueue {
  GQueue jobs;      /* WriteJob*, the head is the one running */
  gboolean running; /* the head has been started */
};

static void
write_job_free (WriteJob *job)
{
  if (job->free_data != NULL)
    job->free_data (job->data);
  g_free (job);
}

WriteQueue *
write_queue_new (void)
{
  WriteQueue *queue = g_new0 (WriteQueue, 1);

  g_queue_init (&queue->jobs);
  return queue;
}

void
write_queue_free (WriteQueue *queue)
{
  if (queue == NULL)
    return;
  g_warn_if_fail (!queue->running);
  g_queue_clear_full (&queue->jobs, (GDestroyNotify) write_job_free);
  g_free (queue);
}

gboolean
write_queue_is_idle (WriteQueue *queue)
{
  return g_queue_is_empty (&queue->jobs);
}

static void run_next (WriteQueue *queue);

/* The head job is over: report, drop it, start the next. */
static void
finish_head (WriteQueue *queue, GAsyncResult *result)
{
  WriteJob *job = g_queue_pop_head (&queue->jobs);

  queue->running = FALSE;
  job->done (job->data, result);
  write_job_free (job);
  run_next (queue);
}

static void
job_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  finish_head (user_data, result);
}

static void
run_next (WriteQueue *queue)
{
  WriteJob *job;

  if (queue->running || g_queue_is_empty (&queue->jobs))
    return;
  job = g_queue_peek_head (&queue->jobs);
  queue->running = TRUE;
  g_debug ("Writing: %s", job->what);
  if (!job->start (job->data, job_written_cb, queue))
    {
      g_debug ("Nothing to write any more: %s", job->what);
      finish_head (queue, NULL);
    }
}

void
write_queue_push (WriteQueue *queue, const char *what, WriteJobStart start, WriteJobDone done,
                  gpointer data, GDestroyNotify free_data)
{
  WriteJob *job = g_new0 (WriteJob, 1);

  job->what = what;
  job->start = start;
  job->done = done;
  job->data = data;
  job->free_data = free_data;
  g_queue_push_tail (&queue->jobs, job);
  run_next (queue);
}
