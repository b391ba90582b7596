/* threads: glibc's pthread_create (clone3, or clone where that is
 * ENOSYS), join, a mutex and thread-local storage in a dynamic program. */
#include <pthread.h>
#include <stdio.h>

static __thread long mine = 1;
static long total;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg)
{
	long n = (long)arg;

	for (long i = 0; i < n; i++) {
		mine += i;
		pthread_mutex_lock(&lock);
		total += i;
		pthread_mutex_unlock(&lock);
	}
	return (void *)mine;
}

int main(void)
{
	pthread_t t[4];
	void *r[4];

	for (long i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, work, (void *)(1000 * (i + 1))) != 0)
			return 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], &r[i]);
	for (int i = 0; i < 4; i++)
		printf("thread %d: %ld\n", i, (long)r[i]);
	printf("total %ld, main's own %ld\n", total, mine);
	return 0;
}
