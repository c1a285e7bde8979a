/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api: include/modalloc.h with and without the library.  Bare, every call
 * says MODALLOC_NOT_ACTIVE and the program prints "not active".  Preloaded,
 * the stats follow a code path exactly, the thread stats agree, and
 * modalloc_report_now(argv[1]) writes a report (at_exit false) on demand.
 */
#include "t.h"

int main(int argc, char **argv)
{
	struct modalloc_stats s, t;
	if (!modalloc_is_active()) {
		T_EQ(modalloc_stats_now(&s), MODALLOC_NOT_ACTIVE);
		T_EQ(modalloc_thread_stats_now(&t), MODALLOC_NOT_ACTIVE);
		T_EQ(s.blocks + s.bytes + s.threads + t.blocks + t.threads, 0);
		T_EQ(modalloc_report_now(argc > 1 ? argv[1] : NULL), MODALLOC_NOT_ACTIVE);
		t_say("not active", NULL);
		return 0;
	}
	T_CHECK(modalloc_version != NULL && strcmp(modalloc_version(), MODALLOC_VERSION) == 0);
	T_EQ(modalloc_stats_now(&s), MODALLOC_OK);
	T_EQ(s.blocks, 0);
	T_EQ(s.threads, 1);
	T_CHECK(s.rss_peak_bytes > 0);
	char *p = malloc(300);
	T_ESCAPE(p);
	T_EQ(modalloc_stats_now(&s), MODALLOC_OK);
	T_EQ(modalloc_thread_stats_now(&t), MODALLOC_OK);
	T_EQ(s.blocks, 1);
	T_EQ(s.bytes, 300);
	T_EQ(s.live_bytes, 300);
	T_EQ(s.peak_bytes, 300);
	T_EQ(t.blocks, 1);
	T_EQ(t.bytes, 300);
	T_EQ(t.live_bytes, 300);
	/* A short struct (an older caller) gets only its prefix filled. */
	uint64_t small[2] = { 7, 7 };
	T_EQ(modalloc_get_stats((struct modalloc_stats *)(void *)small, sizeof small), MODALLOC_OK);
	T_EQ(small[0], 1);
	T_EQ(small[1], 300);
	if (argc > 1)
		T_EQ(modalloc_report_now(argv[1]), 0);
	free(p);
	/* The on-demand report saw 1 live block; the one at exit sees it freed. */
	t_expect("totals.blocks", 1);
	t_expect("totals.frees", 1);
	t_expect("at_exit", 1);
	t_say("active", NULL);
	return 0;
}
