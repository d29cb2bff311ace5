/* workers.h - the cpu device's threads: nw_run(fn, arg, parts) calls
 * fn(arg, p, parts, buf) for p = 0 .. parts - 1, on the calling thread and
 * on threads started at the first call and kept, each with a buffer of
 * NW_BUF floats of its own. The caller takes the parts from the front and
 * the workers from the back (nw_take), so a thread slowed (by cold caches,
 * or a neighbour on its core) does fewer.
 *
 * The parts must not depend on each other, and what they compute must not
 * depend on how many there are (tiled_gemm.h's products do not): a call
 * made while another thread holds the workers, or where none could be
 * started, runs every part's work as one part on the caller, with the
 * same result.
 *
 * How many: NN_NUM_THREADS, else OPENBLAS_NUM_THREADS (which also set
 * OpenBLAS's, so one setting serves both), else the CPUs this process may
 * run on; at most NW_MAX. A worker waits for the next call spinning for
 * NW_SPIN_NS, as the steps of a training loop come faster than a sleeping
 * thread wakes, then sleeps on a condition variable. The threads are
 * stopped and joined when the plugin is unloaded or the process exits, and
 * a child of fork() starts its own.
 *
 * Background work (nw_post, nw_wait): one job of parts at a time, which
 * the workers take only while they have nothing else, a part at a time,
 * and the poster finishes in nw_wait. A worker asked for by nw_run while
 * it runs a part joins after that part. */
#ifndef NN_PLUGINS_WORKERS_H
#define NN_PLUGINS_WORKERS_H

/* CPU_COUNT wants _GNU_SOURCE before the first system header (cpu.c
 * defines it); without it, one thread. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NW_MAX 64
#define NW_BUF (256 * 1024)
#define NW_SPIN_NS 50000

typedef void (*nw_fn)(const void *arg, int p, int parts, float *buf);

typedef struct {
    pthread_mutex_t busy; /* held by the caller that uses the workers */
    _Atomic int parts;    /* threads with the caller; 0: not started */
    pthread_t tid[NW_MAX];
    float *buf[NW_MAX];
    nw_fn fn;
    const void *arg;
    int nparts;
    _Atomic int taken;     /* parts handed out, or asked for past the last */
    _Atomic int next;      /* the caller's next part, from the front */
    _Atomic int last;      /* the workers' next part, from the back */
    _Atomic unsigned seq;  /* calls made: a worker runs when it moves */
    _Atomic int pending;   /* workers not done with this call */
    _Atomic int sleepers;  /* workers that may be in cond_wait */
    _Atomic int quit;
    pthread_mutex_t sleep;
    pthread_cond_t wake;
    /* the background job, under bg_lock: parts bg_next .. bg_parts - 1 not
     * taken, bg_done finished; bg_ticket names the job (0: none) */
    pthread_mutex_t bg_lock;
    void (*bg_fn)(void *arg, int part, int parts);
    void *bg_arg;
    int bg_parts, bg_next, bg_done, bg_ticket, bg_last;
    _Atomic int bg_ready; /* parts are there to take: a hint, read without the lock */
} nw_pool;

static nw_pool nw = {.busy = PTHREAD_MUTEX_INITIALIZER,
                     .sleep = PTHREAD_MUTEX_INITIALIZER,
                     .wake = PTHREAD_COND_INITIALIZER,
                     .bg_lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t nw_once = PTHREAD_ONCE_INIT;

static double nw_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline void nw_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The caller takes parts from the front, the workers from the back, until
 * all are taken: with as many parts as threads, the caller does the first
 * and a worker the last, every call, so each finds the rows it wrote in
 * its own cache; with more, a thread held up leaves its parts to the
 * others, and where the two ends meet moves with it. */
static void nw_take(int id)
{
    while (atomic_fetch_add_explicit(&nw.taken, 1, memory_order_relaxed) < nw.nparts) {
        int p = id ? atomic_fetch_sub_explicit(&nw.last, 1, memory_order_relaxed)
                   : atomic_fetch_add_explicit(&nw.next, 1, memory_order_relaxed);
        nw.fn(nw.arg, p, nw.nparts, nw.buf[id]);
    }
}

/* Takes and runs one part of the background job (of that ticket, when
 * not 0), if one is left: 1 when it ran one. */
static int nw_bg_one(int ticket)
{
    pthread_mutex_lock(&nw.bg_lock);
    if (!nw.bg_ticket || (ticket && ticket != nw.bg_ticket) || nw.bg_next >= nw.bg_parts) {
        pthread_mutex_unlock(&nw.bg_lock);
        return 0;
    }
    int p = nw.bg_next++, parts = nw.bg_parts;
    void (*fn)(void *, int, int) = nw.bg_fn;
    void *arg = nw.bg_arg;
    if (nw.bg_next >= parts) atomic_store_explicit(&nw.bg_ready, 0, memory_order_relaxed);
    pthread_mutex_unlock(&nw.bg_lock);
    fn(arg, p, parts);
    pthread_mutex_lock(&nw.bg_lock);
    nw.bg_done++;
    pthread_mutex_unlock(&nw.bg_lock);
    return 1;
}

static void *nw_worker(void *u)
{
    const int id = (int)(intptr_t)u;
    unsigned seen = 0;
    for (;;) {
        unsigned s = atomic_load_explicit(&nw.seq, memory_order_acquire);
        if (s == seen) {
            double t0 = nw_now_ns();
            for (int i = 1; (s = atomic_load_explicit(&nw.seq, memory_order_acquire)) == seen; i++) {
                if (atomic_load_explicit(&nw.bg_ready, memory_order_relaxed) && nw_bg_one(0)) {
                    t0 = nw_now_ns(); /* busy, not idle */
                    continue;
                }
                nw_pause();
                if (!(i & 255) && nw_now_ns() - t0 > NW_SPIN_NS) break;
            }
        }
        if (s == seen) { /* sleep: nw_run and nw_post wake the sleepers */
            pthread_mutex_lock(&nw.sleep);
            atomic_fetch_add(&nw.sleepers, 1);
            while ((s = atomic_load(&nw.seq)) == seen && !atomic_load(&nw.bg_ready))
                pthread_cond_wait(&nw.wake, &nw.sleep);
            atomic_fetch_sub(&nw.sleepers, 1);
            pthread_mutex_unlock(&nw.sleep);
            if (s == seen) continue; /* woken for background work */
        }
        seen = s;
        if (atomic_load(&nw.quit)) return NULL;
        nw_take(id);
        atomic_fetch_sub_explicit(&nw.pending, 1, memory_order_release);
    }
}

/* A thread count from the environment: 0 when unset; a value that is not
 * a whole number from 1 is refused with a note on stderr (read once, when
 * the threads start), and the default is used. */
static int nw_env(const char *name)
{
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < 1) {
        fprintf(stderr, "nn: %s=%s is not a thread count (a whole number from 1); not used\n",
                name, s);
        return 0;
    }
    return v < NW_MAX ? (int)v : NW_MAX;
}

static int nw_wanted(void)
{
    int n = nw_env("NN_NUM_THREADS");
    if (!n) n = nw_env("OPENBLAS_NUM_THREADS");
    if (!n) {
#ifdef CPU_COUNT
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
#else
        n = 1;
#endif
    }
    return n < 1 ? 1 : n > NW_MAX ? NW_MAX : n;
}

static void nw_stop(void)
{
    if (nw.parts <= 1) return;
    atomic_store(&nw.quit, 1);
    pthread_mutex_lock(&nw.sleep);
    atomic_fetch_add(&nw.seq, 1);
    pthread_cond_broadcast(&nw.wake);
    pthread_mutex_unlock(&nw.sleep);
    for (int i = 1; i < nw.parts; i++) pthread_join(nw.tid[i], NULL);
    nw.parts = 1;
}

/* On unload and at exit. */
__attribute__((destructor)) static void nw_fini(void)
{
    nw_stop();
    for (int i = 0; i < NW_MAX; i++) free(nw.buf[i]), nw.buf[i] = NULL;
    nw.parts = 0;
}

/* fork() copies this thread only: the child starts its own workers. The
 * parent's busy lock is held around fork, so no call is half made, and a
 * background job is finished first (its parts run here if not taken), so
 * that the child, which has no workers, finds it done. */
static void nw_prefork(void)
{
    pthread_mutex_lock(&nw.busy);
    while (nw_bg_one(0)) {
    }
    for (;;) {
        pthread_mutex_lock(&nw.bg_lock);
        if (!nw.bg_ticket || nw.bg_done >= nw.bg_parts) break; /* held across fork */
        pthread_mutex_unlock(&nw.bg_lock);
        nw_pause();
    }
}
static void nw_postfork(void)
{
    pthread_mutex_unlock(&nw.bg_lock);
    pthread_mutex_unlock(&nw.busy);
}
static void nw_child(void)
{
    pthread_mutex_unlock(&nw.bg_lock);
    pthread_mutex_unlock(&nw.busy);
    nw.parts = 0;
    atomic_store(&nw.sleepers, 0);
    atomic_store(&nw.pending, 0);
    pthread_once_t fresh = PTHREAD_ONCE_INIT;
    nw_once = fresh;
}

static void nw_register(void) { pthread_atfork(nw_prefork, nw_postfork, nw_child); }

/* Called with busy held. */
static void nw_start(void)
{
    pthread_once(&nw_once, nw_register);
    int want = nw_wanted();
    atomic_store(&nw.quit, 0);
    atomic_store(&nw.seq, 0);
    nw.parts = 1;
    if (!nw.buf[0] && !(nw.buf[0] = aligned_alloc(64, NW_BUF * sizeof(float)))) {
        nw.parts = 0;
        return;
    }
    for (int i = 1; i < want; i++) {
        if (!nw.buf[i] && !(nw.buf[i] = aligned_alloc(64, NW_BUF * sizeof(float)))) break;
        if (pthread_create(&nw.tid[i], NULL, nw_worker, (void *)(intptr_t)i)) break;
        nw.parts = i + 1;
    }
}

/* How many threads a call may use, the caller's included; the first call
 * starts them. 0 when not even the caller's buffer could be had. */
static int nw_threads(void)
{
    if (!atomic_load_explicit(&nw.parts, memory_order_relaxed)) {
        pthread_mutex_lock(&nw.busy);
        if (!nw.parts) nw_start();
        pthread_mutex_unlock(&nw.busy);
    }
    return atomic_load_explicit(&nw.parts, memory_order_relaxed);
}

/* fn's parts over the workers, or all on this thread as one part when
 * parts is 1. Returns 0, having called nothing, when not even the caller's
 * buffer could be had: the caller then takes another way. */
static int nw_run(nw_fn fn, const void *arg, int parts)
{
    if (pthread_mutex_trylock(&nw.busy)) { /* in use: the whole on this thread */
        float *buf = aligned_alloc(64, NW_BUF * sizeof(float));
        if (!buf) return 0;
        fn(arg, 0, 1, buf);
        free(buf);
        return 1;
    }
    if (!nw.parts) nw_start();
    if (!nw.parts) {
        pthread_mutex_unlock(&nw.busy);
        return 0;
    }
    if (nw.parts == 1 || parts <= 1) {
        fn(arg, 0, 1, nw.buf[0]);
        pthread_mutex_unlock(&nw.busy);
        return 1;
    }
    nw.fn = fn, nw.arg = arg, nw.nparts = parts;
    atomic_store_explicit(&nw.taken, 0, memory_order_relaxed);
    atomic_store_explicit(&nw.next, 0, memory_order_relaxed);
    atomic_store_explicit(&nw.last, parts - 1, memory_order_relaxed);
    atomic_store_explicit(&nw.pending, nw.parts - 1, memory_order_relaxed);
    atomic_fetch_add(&nw.seq, 1); /* releases fn, arg and pending to the workers */
    if (atomic_load(&nw.sleepers)) {
        pthread_mutex_lock(&nw.sleep);
        pthread_cond_broadcast(&nw.wake);
        pthread_mutex_unlock(&nw.sleep);
    }
    nw_take(0);
    for (int i = 1; atomic_load_explicit(&nw.pending, memory_order_acquire); i++) {
        nw_pause();
        if (!(i & 1023)) sched_yield();
    }
    pthread_mutex_unlock(&nw.busy);
    return 1;
}

/* Starts fn's parts in the background: a ticket for nw_wait, or 0 when
 * there are no workers or another job is not waited for yet (the caller
 * then runs the parts itself). */
static int nw_post(void (*fn)(void *arg, int part, int parts), void *arg, int parts)
{
    if (parts < 1 || nw_threads() <= 1) return 0;
    pthread_mutex_lock(&nw.bg_lock);
    if (nw.bg_ticket) {
        pthread_mutex_unlock(&nw.bg_lock);
        return 0;
    }
    nw.bg_fn = fn, nw.bg_arg = arg, nw.bg_parts = parts;
    nw.bg_next = nw.bg_done = 0;
    nw.bg_ticket = nw.bg_last = nw.bg_last % 1000000000 + 1;
    int ticket = nw.bg_ticket;
    atomic_store(&nw.bg_ready, 1);
    pthread_mutex_unlock(&nw.bg_lock);
    if (atomic_load(&nw.sleepers)) {
        pthread_mutex_lock(&nw.sleep);
        pthread_cond_broadcast(&nw.wake);
        pthread_mutex_unlock(&nw.sleep);
    }
    return ticket;
}

/* Runs the parts of job ticket not taken yet on this thread, then waits
 * for those the workers took. A ticket not current (0, or a job already
 * waited for) does nothing. */
static void nw_wait(int ticket)
{
    if (!ticket) return;
    while (nw_bg_one(ticket)) {
    }
    for (int i = 1;; i++) {
        pthread_mutex_lock(&nw.bg_lock);
        int done = nw.bg_ticket != ticket || nw.bg_done >= nw.bg_parts;
        if (done && nw.bg_ticket == ticket) nw.bg_ticket = 0;
        pthread_mutex_unlock(&nw.bg_lock);
        if (done) return;
        nw_pause();
        if (!(i & 1023)) sched_yield();
    }
}

#endif
