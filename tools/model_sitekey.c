/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_sitekey.c: naming code in a report: a frame's module base name and
 * label, which frames belong to the allocator or the profiler, how deep a
 * stack is usable, and the two site keys (model.h says what they mean).
 * Pure functions of the frames: no I/O, no state.
 */
#include "model.h"

#include <fnmatch.h>
#include <string.h>

#include "util.h"

const char *mt_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static bool is_self_module(const char *module)
{
	return strncmp(mt_basename(module), "libmodalloc", 11) == 0;
}

static bool unknown_function(const char *f)
{
	return !f || !*f || strcmp(f, "??") == 0;
}

bool mt_frame_is_allocator(const struct mt_frame *f)
{
	static const char *const entry[] = {
		"malloc", "calloc", "realloc", "reallocarray", "free", "cfree", "posix_memalign",
		"aligned_alloc", "memalign", "valloc", "pvalloc", "__libc_*", "_Znw*", "_Zna*",
		"operator new*", "operator new[]*",
	};
	if (is_self_module(f->module))
		return true;
	if (unknown_function(f->function))
		return false;
	for (size_t i = 0; i < sizeof entry / sizeof entry[0]; i++)
		if (fnmatch(entry[i], f->function, 0) == 0)
			return true;
	return false;
}

const char *mt_frame_label(const struct mt_frame *f, char *buf, size_t cap)
{
	if (!unknown_function(f->function))
		return f->function;
	snprintf(buf, cap, "%s+%s", mt_basename(f->module), f->offset);
	return buf;
}

size_t mt_site_depth(const struct mt_site *s)
{
	for (size_t i = 0; i < s->nframes; i++) {
		const char *m = s->frames[i].module;
		if (!m || !*m || strcmp(m, "??") == 0)
			return i;
	}
	return s->nframes;
}

size_t mt_site_first_meaningful(const struct mt_site *s)
{
	size_t n = mt_site_depth(s);
	if (!n)
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		if (!mt_frame_is_allocator(&s->frames[i]))
			return i;
	return 0;
}

/*
 * The site keys: see model.h.  Separators cannot occur in symbols.
 * exact: a frame is its module and offset (the address less the load bias:
 * the same in every process and run of one binary), or its function when
 * the offset is unknown.  by_function: its module and function, or module
 * and offset for "??".  Both end where the stack leaves known modules.
 */
char *mt_site_key(const struct mt_site *s, bool by_function)
{
	size_t cap = 1;
	for (size_t i = 0; i < s->nframes; i++) {
		const struct mt_frame *f = &s->frames[i];
		cap += strlen(mt_basename(f->module)) + strlen(f->function) + strlen(f->offset) + 3;
	}
	char *k = mt_xmalloc(cap), *o = k;
	size_t depth = mt_site_depth(s);
	for (size_t i = 0; i < depth; i++) {
		const struct mt_frame *f = &s->frames[i];
		if (is_self_module(f->module) || f->inlined)
			continue;
		const char *b = mt_basename(f->module);
		bool off = unknown_function(f->function) ||
		           (!by_function && strcmp(f->offset, "0x0") != 0 && *f->offset);
		o += sprintf(o, "%s\x1f%s%s\x1e", b, off ? "+" : "", off ? f->offset : f->function);
	}
	*o = '\0';
	return k;
}
