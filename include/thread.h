/* thread: starting the program's helper threads (the writer, emit_writer.c; the reader,
 * read_ahead.c) so that the signals stay the analysis thread's (POSIX pthread_sigmask). */
#ifndef SMTPTRACE_THREAD_H
#define SMTPTRACE_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/* Starts fn(arg) on a new thread with every asynchronous signal blocked: SIGINT, SIGTERM,
 * SIGHUP and the rest reach the analysis thread, whose loop handles them. A fault's signal
 * (SIGBUS of a file cut shorter while mapped, capture_map.c; SIGSEGV, SIGFPE, SIGILL) is left
 * to the thread that made it. Returns false when no thread could be made. */
bool thread_start_quiet(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
