/* A pthread program: mutexes, condition variables, thread-local storage,
 * join values, barriers, semaphores, a pipe between threads, sleeps,
 * timeouts, signals to one thread, and a CPU-bound thread that must be
 * preempted.  Every line it prints is the same on every correct run.
 * With "exit-main", main leaves with pthread_exit and the last thread's
 * end is the process's.  With "order", threads race for a log and the
 * order they got it in is printed: it varies from run to run, except
 * under dunerun --deterministic. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 8
#define ITER 20000

static void die(const char *what)
{
	printf("FAIL %s\n", what);
	exit(1);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *count(void *arg)
{
	for (int i = 0; i < ITER; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
		if (i % 1000 == 0)
			sched_yield();
	}
	return (void *)((intptr_t)arg * 10);
}

static void mutex_counter(void)
{
	pthread_t t[NTHREADS];
	long joined = 0;

	for (intptr_t i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, count, (void *)i))
			die("pthread_create");
	for (int i = 0; i < NTHREADS; i++) {
		void *v;
		pthread_join(t[i], &v);
		joined += (intptr_t)v;
	}
	printf("mutex counter: %ld (join values sum %ld)\n", counter, joined);
}

/* A bounded queue: two producers, two consumers. */
#define QCAP 16
#define PER_PRODUCER 5000
static struct {
	pthread_mutex_t m;
	pthread_cond_t not_full, not_empty;
	int buf[QCAP], head, len, done;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER };

static void *produce(void *arg)
{
	int base = (int)(intptr_t)arg;

	for (int i = 1; i <= PER_PRODUCER; i++) {
		pthread_mutex_lock(&q.m);
		while (q.len == QCAP)
			pthread_cond_wait(&q.not_full, &q.m);
		q.buf[(q.head + q.len++) % QCAP] = base + i;
		pthread_cond_signal(&q.not_empty);
		pthread_mutex_unlock(&q.m);
	}
	return NULL;
}

static void *consume(void *arg)
{
	long sum = 0, n = 0;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&q.m);
		while (q.len == 0 && !q.done)
			pthread_cond_wait(&q.not_empty, &q.m);
		if (q.len == 0) {
			pthread_mutex_unlock(&q.m);
			break;
		}
		sum += q.buf[q.head];
		q.head = (q.head + 1) % QCAP;
		q.len--;
		n++;
		pthread_cond_signal(&q.not_full);
		pthread_mutex_unlock(&q.m);
	}
	return (void *)(intptr_t)(sum * 1000 + n % 1000);
}

static void producer_consumer(void)
{
	pthread_t p[2], c[2];
	long total = 0;

	for (intptr_t i = 0; i < 2; i++) {
		pthread_create(&p[i], NULL, produce, (void *)(i * 100000));
		pthread_create(&c[i], NULL, consume, NULL);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(p[i], NULL);
	pthread_mutex_lock(&q.m);
	q.done = 1;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.m);
	for (int i = 0; i < 2; i++) {
		void *v;
		pthread_join(c[i], &v);
		total += (intptr_t)v / 1000;
	}
	long want = 0;
	for (int k = 0; k < 2; k++)
		for (int i = 1; i <= PER_PRODUCER; i++)
			want += k * 100000 + i;
	printf("producer/consumer: sum %ld, expected %ld\n", total, want);
}

static __thread int mine = -1;
static pthread_barrier_t barrier;

static void *tls_check(void *arg)
{
	int id = (int)(intptr_t)arg;

	if (mine != -1)
		die("a new thread's TLS starts from the initial value");
	mine = id;
	pthread_barrier_wait(&barrier);         /* all set theirs */
	sched_yield();
	pthread_barrier_wait(&barrier);
	return (void *)(intptr_t)(mine == id);
}

static void thread_local(void)
{
	pthread_t t[NTHREADS];
	int good = 0;

	mine = 1000;
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (intptr_t i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, tls_check, (void *)i);
	for (int i = 0; i < NTHREADS; i++) {
		void *v;
		pthread_join(t[i], &v);
		good += (intptr_t)v;
	}
	printf("thread-local: %d of %d threads kept their own; main's is %d\n", good, NTHREADS, mine);
}

/* A pipe between two threads of one process: the reader blocks while
 * the writer runs. */
static int pfd[2];

static void *pipe_writer(void *arg)
{
	char buf[4096];

	(void)arg;
	for (int i = 0; i < 256; i++) {
		memset(buf, 'a' + i % 26, sizeof buf);
		if (write(pfd[1], buf, sizeof buf) != sizeof buf)
			die("write to the pipe");
	}
	close(pfd[1]);
	return NULL;
}

static void pipe_between_threads(void)
{
	pthread_t t;
	unsigned long sum = 0, bytes = 0;
	char buf[1000];
	ssize_t n;

	if (pipe(pfd))
		die("pipe");
	pthread_create(&t, NULL, pipe_writer, NULL);
	while ((n = read(pfd[0], buf, sizeof buf)) > 0) {
		bytes += n;
		for (ssize_t i = 0; i < n; i++)
			sum = sum * 31 + (unsigned char)buf[i];
	}
	pthread_join(t, NULL);
	close(pfd[0]);
	printf("pipe between threads: %lu bytes, checksum %lx\n", bytes, sum);
}

/* A sleeping thread and a spinning one: the spinner must be preempted
 * for main's join of the sleeper to end, and must see the flag. */
static volatile int stop_spinning;

static void *spinner(void *arg)
{
	unsigned long n = 0;

	(void)arg;
	while (!stop_spinning)
		n++;
	return (void *)(intptr_t)(n > 0);
}

static void *sleeper(void *arg)
{
	struct timespec ts = { 0, 20 * 1000000 };

	(void)arg;
	nanosleep(&ts, NULL);
	return (void *)1;
}

static void preemption(void)
{
	pthread_t s, z;
	void *a, *b;

	pthread_create(&s, NULL, spinner, NULL);
	pthread_create(&z, NULL, sleeper, NULL);
	pthread_join(z, &b);
	stop_spinning = 1;
	pthread_join(s, &a);
	printf("preemption: spinner ran %d, sleeper woke %d\n", (int)(intptr_t)a, (int)(intptr_t)b);
}

/* A semaphore handed around, and a timed wait that times out. */
static sem_t sem;

static void *sem_poster(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		sem_post(&sem);
	return NULL;
}

static void semaphores_and_timeouts(void)
{
	pthread_t t;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec until, t0, t1;
	int got = 0, r;

	sem_init(&sem, 0, 0);
	pthread_create(&t, NULL, sem_poster, NULL);
	for (int i = 0; i < 100; i++)
		if (sem_wait(&sem) == 0)
			got++;
	pthread_join(t, NULL);
	clock_gettime(CLOCK_REALTIME, &until);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	until.tv_nsec += 30 * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&m);
	r = pthread_cond_timedwait(&c, &m, &until);
	pthread_mutex_unlock(&m);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("semaphore: %d posts taken; timed wait: %s after at least 25 ms: %s\n", got,
	       r == ETIMEDOUT ? "ETIMEDOUT" : strerror(r), ms >= 25 ? "yes" : "no");
}

/* pthread_kill: the handler runs in the thread it was sent to. */
static volatile pid_t handled_by;

static void on_usr1(int sig)
{
	(void)sig;
	handled_by = (pid_t)syscall(SYS_gettid);
}

static void *wait_for_signal(void *arg)
{
	pid_t *tid = arg;
	struct timespec ts = { 0, 1000000 };

	*tid = (pid_t)syscall(SYS_gettid);
	while (!handled_by)
		nanosleep(&ts, NULL);
	return NULL;
}

static void signal_one_thread(void)
{
	pthread_t t;
	volatile pid_t tid = 0;
	struct timespec ts = { 0, 1000000 };

	signal(SIGUSR1, on_usr1);
	pthread_create(&t, NULL, wait_for_signal, (void *)&tid);
	while (!tid)
		nanosleep(&ts, NULL);
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	printf("pthread_kill: handled in the target thread: %s; tids differ from the pid: %s\n",
	       handled_by == tid ? "yes" : "no", tid != getpid() ? "yes" : "no");
}

static void *last_one(void *arg)
{
	struct timespec ts = { 0, 10 * 1000000 };

	(void)arg;
	nanosleep(&ts, NULL);
	printf("the last thread ends the process\n");
	fflush(stdout);
	return NULL;
}

/* Four threads take turns at a log in whatever order they get the lock;
 * between turns each sleeps, yields or computes, as its own sequence says. */
static char order_log[4 * 60 + 1];
static int order_len;

static void *racer(void *arg)
{
	unsigned x = (unsigned)(intptr_t)arg * 2654435761u + 1;

	for (int i = 0; i < 60; i++) {
		pthread_mutex_lock(&lock);
		order_log[order_len++] = (char)('A' + (intptr_t)arg);
		pthread_mutex_unlock(&lock);
		x = x * 1103515245 + 12345;
		if (x >> 30 == 0) {
			struct timespec ts = { 0, (x >> 10) % 200000 };
			nanosleep(&ts, NULL);
		} else if (x >> 30 == 1) {
			sched_yield();
		} else {
			for (volatile unsigned k = 0; k < (x >> 12) % 100000; k++)
				;
		}
	}
	return NULL;
}

static void order(void)
{
	pthread_t t[4];

	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, racer, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("%s\n", order_log);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && !strcmp(argv[1], "order")) {
		order();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "exit-main")) {
		pthread_t t;
		pthread_create(&t, NULL, last_one, NULL);
		printf("main leaves with pthread_exit\n");
		pthread_exit(NULL);
	}
	mutex_counter();
	producer_consumer();
	thread_local();
	pipe_between_threads();
	preemption();
	semaphores_and_timeouts();
	signal_one_thread();
	printf("done\n");
	return 0;
}
