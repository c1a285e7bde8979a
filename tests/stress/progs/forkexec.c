/* SPDX-License-Identifier: Apache-2.0 */
/*
 * forkexec: fork from a multi-threaded process while 4 threads allocate,
 * reallocate and free without pause, 40 times.  Each child allocates 2
 * blocks, frees one and frees a block its parent allocated (inherited); even
 * children then exec this program again ("child" mode), odd ones exit.  No
 * child may hang on a lock a vanished thread held, every child's report is
 * exact, and the parent writes exactly one report.
 *
 *   forkexec            the parent
 *   forkexec child N    the exec'd image: allocates N blocks and checks them
 */
#include "stress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define WORKERS 4
#define FORKS 40
#define INHERITED_SIZE 777

static atomic_int stop;
static atomic_ulong rounds[WORKERS];

static void *worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	uint64_t rng = me + 1;
	void *keep[64] = { 0 };
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned k = (unsigned)(s_rand(&rng) % 64);
		if (keep[k] && (s_rand(&rng) & 1)) {
			void *q = realloc(keep[k], 1 + s_rand(&rng) % 5000);
			S_CHECK(q != NULL);
			keep[k] = q;
		} else {
			free(keep[k]);
			keep[k] = malloc(1 + s_rand(&rng) % 3000);
			S_CHECK(keep[k] != NULL);
		}
		atomic_fetch_add_explicit(&rounds[me], 1, memory_order_relaxed);
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
	return NULL;
}

static int child_image(unsigned n)
{
	struct modalloc_stats m = s_now();
	void *p[64];
	uint64_t bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		p[i] = malloc(100 + i);
		S_CHECK(p[i] != NULL);
		bytes += 100 + i;
	}
	for (unsigned i = 0; i < n; i += 2)
		free(p[i]);
	uint64_t freed = 0, frees = 0;
	for (unsigned i = 0; i < n; i += 2) {
		freed += 100 + i;
		frees++;
	}
	S_DELTA(&m, n, bytes, frees, freed);
	if (s_active()) {
		/* Nothing allocates after this: the report at exit must match. */
		s_expect("E", "totals.blocks", m.blocks);
		s_expect("E", "totals.bytes", m.bytes);
		s_expect("E", "totals.frees", m.frees);
		s_expect("E", "at_exec", 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "child") == 0)
		return child_image((unsigned)atoi(argv[2]) % 64);
	pthread_t t[WORKERS];
	for (unsigned i = 0; i < WORKERS; i++)
		S_EQ(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i), 0);
	for (unsigned i = 0; i < WORKERS; i++)
		while (atomic_load(&rounds[i]) < 1000)
			sched_yield();
	unsigned files = 1;
	for (unsigned i = 0; i < FORKS; i++) {
		char *inherited = malloc(INHERITED_SIZE);
		S_CHECK(inherited != NULL);
		pid_t pid = fork();
		S_CHECK(pid >= 0);
		if (pid == 0) {
			char *a = malloc(100), *b = malloc(200);
			S_CHECK(a && b);
			free(a);
			free(inherited);
			if (i % 2 == 0) {
				if (s_active()) {
					/* The report this image writes just before exec. */
					struct s_line l = { .n = 0 };
					const char *keys[] = { "totals.blocks 2", "totals.bytes 300", "totals.frees 1",
					                       "totals.freed_bytes 100", "inherited.frees 1",
					                       "inherited.freed_bytes 777", "threads 1" };
					for (unsigned k = 0; k < sizeof keys / sizeof keys[0]; k++) {
						s_str(&l, "E ");
						s_u64(&l, (uint64_t)getpid());
						s_str(&l, "/exec ");
						s_str(&l, keys[k]);
						s_flush(&l);
					}
				}
				char n[16];
				struct s_line l = { .n = 0 };
				s_u64(&l, i);
				memcpy(n, l.s, l.n);
				n[l.n] = '\0';
				execl("/proc/self/exe", argv[0], "child", n, (char *)NULL);
				_exit(98);
			}
			free(b);
			if (s_active()) {
				s_expect("E", "totals.blocks", 2);
				s_expect("E", "totals.bytes", 300);
				s_expect("E", "totals.frees", 2);
				s_expect("E", "totals.freed_bytes", 300);
				s_expect("E", "inherited.frees", 1);
				s_expect("E", "inherited.freed_bytes", INHERITED_SIZE);
			}
			exit(0);
		}
		free(inherited);
		int st;
		S_EQ(waitpid(pid, &st, 0), pid);
		S_CHECK(WIFEXITED(st));
		S_EQ(WEXITSTATUS(st), 0);
		files += i % 2 == 0 ? 2 : 1;
	}
	atomic_store(&stop, 1);
	for (unsigned i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	if (s_active()) {
		s_say_u64("FILES", files);
		s_say_u64("PARENT", (uint64_t)getpid());
		s_expect("E", "threads", 1);
	}
	return 0;
}
