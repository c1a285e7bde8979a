/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dlclose: a library that allocates, opened and closed 200 times.  Blocks
 * allocated inside it outlive its dlclose (half of them to the report);
 * their frames must still be named in the report (module = the library's
 * file, function = mod_keep / mod_churn).  Counts are exact per site.
 *
 * With a second library, each round opens and closes both in turn, so the
 * second is likely mapped where the first was: frames of the first must
 * still name the first.
 *
 *   dlclose /path/to/libstressmod.so [/path/to/libstressmod2.so]
 */
#include "stress.h"

#include <dlfcn.h>

#define ROUNDS 200
#define CHURN 10

int main(int argc, char **argv)
{
	S_CHECK(argc == 2 || argc == 3);
	void *keep[ROUNDS], *keep2[ROUNDS];
	uint64_t keep2_bytes = 0;
	uint64_t keep_bytes = 0, live_blocks = 0, churn_bytes = 0;
	for (int i = 0; i < ROUNDS; i++) {
		void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
		S_CHECK(h != NULL);
		void *(*keep_fn)(size_t) = (void *(*)(size_t))dlsym(h, "mod_keep");
		void (*churn_fn)(int) = (void (*)(int))dlsym(h, "mod_churn");
		S_CHECK(keep_fn && churn_fn);
		struct modalloc_stats m = s_now();
		keep[i] = keep_fn(64 + (size_t)i);
		S_CHECK(keep[i] != NULL);
		memset(keep[i], i, 64 + (size_t)i);
		churn_fn(CHURN);
		S_DELTA(&m, 1 + CHURN, 64 + i + CHURN * (CHURN + 1) / 2, CHURN, CHURN * (CHURN + 1) / 2);
		keep_bytes += 64 + (uint64_t)i;
		churn_bytes += CHURN * (CHURN + 1) / 2;
		S_EQ(dlclose(h), 0);
		if (argc == 3) {
			h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
			S_CHECK(h != NULL);
			keep_fn = (void *(*)(size_t))dlsym(h, "mod2_keep");
			S_CHECK(keep_fn != NULL);
			keep2[i] = keep_fn(3000 + (size_t)i);
			S_CHECK(keep2[i] != NULL);
			keep2_bytes += 3000 + (uint64_t)i;
			S_EQ(dlclose(h), 0);
		}
	}
	for (int i = 0; i < ROUNDS; i++) {
		S_CHECK(((unsigned char *)keep[i])[63] == (unsigned char)i);
		if (i % 2)
			free(keep[i]);
		else
			live_blocks++;
	}
	s_site("mod_keep", ROUNDS, keep_bytes, live_blocks);
	s_site("mod_churn", ROUNDS * CHURN, churn_bytes, 0);
	if (argc == 3)
		s_site("mod2_keep", ROUNDS, keep2_bytes, ROUNDS);
	return 0;
}
