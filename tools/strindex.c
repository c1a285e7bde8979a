/* SPDX-License-Identifier: Apache-2.0 */
/* strindex.c: see strindex.h.  A thin cover over json-c's lh_table. */
#include "strindex.h"

#include <json-c/linkhash.h>
#include <stdint.h>

#include "util.h"

/* lh_table grows by itself; this is only its first size. */
#define MT_STRINDEX_FIRST_SIZE 64

struct mt_strindex *mt_strindex_new(void)
{
	struct lh_table *t = lh_kchar_table_new(MT_STRINDEX_FIRST_SIZE, NULL);
	if (!t)
		mt_die(2, "out of memory");
	return (struct mt_strindex *)t;
}

void mt_strindex_free(struct mt_strindex *m)
{
	if (m)
		lh_table_free((struct lh_table *)m);
}

bool mt_strindex_get(const struct mt_strindex *m, const char *key, size_t *v)
{
	void *p;
	if (!lh_table_lookup_ex((struct lh_table *)m, key, &p))
		return false;
	*v = (size_t)(uintptr_t)p;
	return true;
}

void mt_strindex_add(struct mt_strindex *m, const char *key, size_t v)
{
	if (lh_table_insert((struct lh_table *)m, key, (const void *)(uintptr_t)v) != 0)
		mt_die(2, "out of memory");
}
