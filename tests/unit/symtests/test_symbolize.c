/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_symbolize.c: resolving addresses of this executable (built PIE and
 * non-PIE: EXPECT_PIE), of libc, of a dlopen'd library before and after
 * dlclose (and after its file is deleted), through a separate debug file
 * found by build id; and ma_sym_lookup_image on truncated and corrupted
 * ELF images, which must return false or a name, never crash.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize.h"

#define NOINLINE __attribute__((noinline, used))

static NOINLINE int local_function(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 11;
}

NOINLINE int global_function(int x)
{
	__asm__ volatile("" : "+r"(x));
	return local_function(x) * 2;
}

static struct ma_sym_result r;

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void *read_file(const char *path, size_t *size)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	char *buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*size = (size_t)st.st_size;
	return buf;
}

/* Whether the code of a library is mapped (the symbolizer's own read-only
 * mapping of the file is not code). */
static bool code_mapped(const char *path)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[8192];
	bool found = false;
	while (f && fgets(line, sizeof line, f))
		found |= strstr(line, path) != NULL && strstr(line, " r-xp ") != NULL;
	if (f)
		fclose(f);
	return found;
}

/* The load address of the object holding p (its first PT_LOAD's page). */
static uintptr_t object_base(const void *p)
{
	Dl_info info;
	assert_int_not_equal(dladdr(p, &info), 0);
	return (uintptr_t)info.dli_fbase;
}

static void test_own_functions(void **state)
{
	(void)state;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	assert_true(n > 0);
	exe[n] = '\0';

	uintptr_t ip = (uintptr_t)&local_function + 1;
	assert_true(ma_sym_resolve(ip, &r));
	assert_true(r.found_module);
	assert_string_equal(r.module, exe);
	assert_string_equal(r.function, "local_function");
	assert_int_equal(r.sym_offset, 1);
	/* PIE: relative to the load address; non-PIE: the address itself. */
	uintptr_t base = object_base((void *)ip);
	assert_int_equal(r.offset, EXPECT_PIE ? ip - base : ip);
#if !EXPECT_PIE
	assert_int_equal(base, 0x400000);
#endif

	ip = (uintptr_t)&global_function + 5;
	assert_true(ma_sym_resolve(ip, &r));
	assert_string_equal(r.function, "global_function");
	assert_int_equal(r.sym_offset, 5);
	assert_int_equal(r.offset, EXPECT_PIE ? ip - base : ip);
}

static void test_libc_functions(void **state)
{
	(void)state;
	/* From libc's own handle: sanitizers interpose malloc_usable_size. */
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(libc);
	const char *names[] = { "qsort", "malloc_usable_size", "getpid" };
	for (size_t i = 0; i < 3; i++) {
		uintptr_t ip = (uintptr_t)dlsym(libc, names[i]) + 3;
		assert_true(ip > 3);
		assert_true(ma_sym_resolve(ip, &r));
		assert_string_equal(base_name(r.module), "libc.so.6");
		assert_string_equal(r.function, names[i]);
		assert_int_equal(r.sym_offset, 3);
		assert_int_equal(r.offset, ip - object_base((void *)ip));
	}
	dlclose(libc);
}

static void test_not_in_a_module(void **state)
{
	(void)state;
	void *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(anon != MAP_FAILED);
	ma_sym_refresh_modules();
	assert_false(ma_sym_resolve((uintptr_t)anon + 8, &r));
	assert_false(r.found_module);
	assert_false(r.found_function);
	assert_string_equal(r.function, "??");
	assert_string_equal(r.module, "");
	munmap(anon, 4096);
	assert_false(ma_sym_resolve(16, &r));
}

struct lib_addrs {
	uintptr_t global, stat, mangled, base;
};

static void *open_lib(const char *path, struct lib_addrs *a)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	a->global = (uintptr_t)dlsym(h, "symlib_global");
	a->mangled = (uintptr_t)dlsym(h, "_ZN6symlib7mangledEi");
	void *(*get)(void) = (void *(*)(void))dlsym(h, "symlib_static_addr");
	assert_true(a->global && a->mangled && get);
	a->stat = (uintptr_t)get();
	a->base = object_base((void *)a->global);
	return h;
}

static void check_lib(const struct lib_addrs *a, const char *path)
{
	assert_true(ma_sym_resolve(a->global + 2, &r));
	assert_string_equal(r.module, path);
	assert_string_equal(r.function, "symlib_global");
	assert_int_equal(r.sym_offset, 2);
	assert_int_equal(r.offset, a->global + 2 - a->base);
	assert_true(ma_sym_resolve(a->stat + 1, &r));
	assert_string_equal(r.function, "symlib_static");
	assert_int_equal(r.sym_offset, 1);
	assert_true(ma_sym_resolve(a->mangled, &r));
	assert_string_equal(r.function, "symlib::mangled(int)");
	assert_int_equal(r.sym_offset, 0);
}

static void test_dlopen_dlclose(void **state)
{
	(void)state;
	struct lib_addrs a;
	void *h = open_lib(SYMLIB_PATH, &a);
	ma_sym_refresh_modules();
	check_lib(&a, SYMLIB_PATH);
	/* As the profiler does: refresh, then let the library go. */
	ma_sym_refresh_modules();
	assert_true(code_mapped(SYMLIB_PATH));
	assert_int_equal(dlclose(h), 0);
	assert_false(code_mapped(SYMLIB_PATH));
	ma_sym_refresh_modules();
	check_lib(&a, SYMLIB_PATH);
	struct ma_sym_stats st;
	ma_sym_get_stats(&st);
	assert_true(st.modules > st.live);
}

static void copy_file(const char *from, const char *to)
{
	size_t size;
	void *buf = read_file(from, &size);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

/* The file is gone, but the module was mapped while it existed. */
static void test_deleted_library(void **state)
{
	(void)state;
	char dir[] = "/tmp/ma_symXXXXXX", path[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/libcopy.so", dir);
	copy_file(SYMLIB_PATH, path);
	struct lib_addrs a;
	void *h = open_lib(path, &a);
	ma_sym_refresh_modules();
	assert_int_equal(dlclose(h), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	ma_sym_refresh_modules();
	check_lib(&a, path);
}

/* A stripped library whose static function is named by its debug file. */
static void test_debug_file_by_build_id(void **state)
{
	(void)state;
	char dir[] = "/tmp/ma_dbgXXXXXX", lib[256], cmd[2048];
	assert_non_null(mkdtemp(dir));
	snprintf(lib, sizeof lib, "%s/libstripped.so", dir);
	snprintf(cmd, sizeof cmd,
		 "set -e; cd %s; objcopy --only-keep-debug %s full.debug; objcopy --strip-all %s %s; "
		 "id=$(readelf -n %s | sed -n 's/.*Build ID: *//p'); test -n \"$id\"; "
		 "d=$(echo $id | cut -c1-2); f=$(echo $id | cut -c3-); mkdir -p .build-id/$d; "
		 "mv full.debug .build-id/$d/$f.debug",
		 dir, SYMLIB_PATH, SYMLIB_PATH, lib, lib);
	if (system(cmd) != 0) {
		print_message("objcopy/readelf or a build id missing: skipped\n");
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
		skip();
	}
	struct lib_addrs a;
	/* Without the debug file: the static function is unknown. */
	ma_sym_set_debug_root("/nonexistent");
	void *h = open_lib(lib, &a);
	ma_sym_refresh_modules();
	assert_true(ma_sym_resolve(a.global, &r));
	assert_string_equal(r.function, "symlib_global");
	/* In the module, in no symbol: module and offset, no function. */
	assert_true(ma_sym_resolve(a.stat + 1, &r));
	assert_true(r.found_module);
	assert_false(r.found_function);
	assert_string_equal(r.function, "??");
	assert_string_equal(r.module, lib);
	assert_int_equal(r.offset, a.stat + 1 - a.base);
	assert_int_equal(dlclose(h), 0);
	ma_sym_release();

	struct ma_sym_stats before, after;
	ma_sym_set_debug_root(dir);
	ma_sym_refresh_modules();
	ma_sym_get_stats(&before);
	h = open_lib(lib, &a);
	ma_sym_refresh_modules();
	ma_sym_get_stats(&after);
	assert_int_equal(after.with_debug_file, before.with_debug_file + 1);
	check_lib(&a, lib);
	assert_int_equal(dlclose(h), 0);
	ma_sym_set_debug_root("/usr/lib/debug");
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The sorted index and the linear scan agree on every address of our text. */
static void test_index_matches_scan(void **state)
{
	(void)state;
	size_t size;
	void *img = read_file("/proc/self/exe", &size);
	uintptr_t base = object_base((void *)&global_function);
	uintptr_t bias = EXPECT_PIE ? base : 0;
	uintptr_t lo = (uintptr_t)&local_function - 4096, hi = (uintptr_t)&global_function + 8192;
	char name[1024];
	uint64_t off;
	unsigned both = 0;
	for (uintptr_t ip = lo; ip < hi; ip += 3) {
		bool a = ma_sym_lookup_image(img, size, ip - bias, name, sizeof name, &off);
		assert_true(ma_sym_resolve(ip, &r));
		bool b = r.found_function;
		if (a != b)
			fail_msg("at %#lx: scan %d (%s), index %d (%s)", (unsigned long)(ip - bias), a,
				 a ? name : "", b, r.function);
		if (a && b) {
			assert_string_equal(name, r.function);
			assert_int_equal(off, r.sym_offset);
			both++;
		}
	}
	assert_true(both > 100);
	free(img);
}

/* ---- hostile images ---------------------------------------------------- */

struct image {
	unsigned char *buf;
	size_t size;
	uint64_t vglobal, vstatic;   /* virtual addresses inside the two functions */
};

static void load_image(struct image *im)
{
	struct lib_addrs a;
	void *h = open_lib(SYMLIB_PATH, &a);
	im->vglobal = a.global + 1 - a.base;
	im->vstatic = a.stat + 1 - a.base;
	dlclose(h);
	im->buf = read_file(SYMLIB_PATH, &im->size);
	char name[256];
	uint64_t off;
	assert_true(ma_sym_lookup_image(im->buf, im->size, im->vglobal, name, sizeof name, &off));
	assert_string_equal(name, "symlib_global");
	assert_int_equal(off, 1);
	assert_true(ma_sym_lookup_image(im->buf, im->size, im->vstatic, name, sizeof name, &off));
	assert_string_equal(name, "symlib_static");
	/* Truncated name. */
	assert_true(ma_sym_lookup_image(im->buf, im->size, im->vglobal, name, 7, &off));
	assert_string_equal(name, "symlib");
}

static Elf64_Ehdr *ehdr(unsigned char *b)
{
	return (Elf64_Ehdr *)b;
}

static Elf64_Shdr *find_section(unsigned char *b, uint32_t type)
{
	Elf64_Ehdr *eh = ehdr(b);
	Elf64_Shdr *sh = (Elf64_Shdr *)(b + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == type)
			return &sh[i];
	return NULL;
}

static bool look(const unsigned char *b, size_t size, uint64_t v, const char *want)
{
	char name[256];
	uint64_t off;
	bool ok = ma_sym_lookup_image(b, size, v, name, sizeof name, &off);
	if (ok && want)
		assert_string_equal(name, want);
	return ok;
}

static void test_truncated_images(void **state)
{
	(void)state;
	struct image im;
	load_image(&im);
	Elf64_Ehdr eh = *ehdr(im.buf);
	size_t need = eh.e_shoff + (size_t)eh.e_shnum * sizeof(Elf64_Shdr);
	unsigned char *copy = malloc(im.size);
	for (size_t cut = 0; cut < im.size; cut += cut < 512 ? 1 : 37) {
		/* An exact-size heap copy, so ASan sees any read past the end. */
		unsigned char *t = malloc(cut ? cut : 1);
		memcpy(t, im.buf, cut);
		bool ok = look(t, cut, im.vglobal, "symlib_global");
		if (cut < need)
			assert_false(ok);
		free(t);
	}
	free(copy);
	free(im.buf);
}

static void test_corrupted_headers(void **state)
{
	(void)state;
	struct image im;
	load_image(&im);
	unsigned char *b = malloc(im.size);

#define RESET() memcpy(b, im.buf, im.size)
	RESET();
	ehdr(b)->e_shoff = UINT64_MAX - 10;
	assert_false(look(b, im.size, im.vglobal, NULL));
	RESET();
	ehdr(b)->e_shnum = 0xffff;
	assert_false(look(b, im.size, im.vglobal, NULL));
	RESET();
	ehdr(b)->e_shentsize = 32;
	assert_false(look(b, im.size, im.vglobal, NULL));
	RESET();
	ehdr(b)->e_ident[EI_CLASS] = ELFCLASS32;
	assert_false(look(b, im.size, im.vglobal, NULL));
	RESET();
	ehdr(b)->e_ident[EI_DATA] = ELFDATA2MSB;
	assert_false(look(b, im.size, im.vglobal, NULL));
	RESET();
	b[1] = 'X';
	assert_false(look(b, im.size, im.vglobal, NULL));
	/* Extended numbering with a huge count in section 0. */
	RESET();
	ehdr(b)->e_shnum = 0;
	((Elf64_Shdr *)(b + ehdr(b)->e_shoff))->sh_size = UINT64_MAX / 2;
	assert_false(look(b, im.size, im.vglobal, NULL));

	/* .symtab broken in different ways: .dynsym still names exported
	 * functions, nothing names the static one. */
	for (int how = 0; how < 6; how++) {
		RESET();
		Elf64_Shdr *sym = find_section(b, SHT_SYMTAB);
		assert_non_null(sym);
		Elf64_Shdr *str = (Elf64_Shdr *)(b + ehdr(b)->e_shoff) + sym->sh_link;
		switch (how) {
		case 0: sym->sh_link = 9999; break;
		case 1: sym->sh_entsize = 16; break;
		case 2: sym->sh_offset = im.size - 8; break;
		case 3: sym->sh_size = UINT64_MAX - sym->sh_offset + 100; break;
		case 4: memset(b + str->sh_offset, 'A', str->sh_size); break; /* no NUL anywhere */
		case 5: str->sh_type = SHT_PROGBITS; break;
		}
		assert_true(look(b, im.size, im.vglobal, "symlib_global"));
		char name[256];
		uint64_t off;
		if (ma_sym_lookup_image(b, im.size, im.vstatic, name, sizeof name, &off))
			assert_string_not_equal(name, "symlib_static");
	}
	/* Both tables' string tables unterminated: nothing at all. */
	RESET();
	for (uint32_t type = SHT_SYMTAB; type <= SHT_DYNSYM; type += SHT_DYNSYM - SHT_SYMTAB) {
		Elf64_Shdr *sym = find_section(b, type);
		Elf64_Shdr *str = (Elf64_Shdr *)(b + ehdr(b)->e_shoff) + sym->sh_link;
		memset(b + str->sh_offset, 'A', str->sh_size);
	}
	assert_false(look(b, im.size, im.vglobal, NULL));
	/* Symbol names pointing past their table. */
	RESET();
	for (uint32_t type = SHT_SYMTAB; type <= SHT_DYNSYM; type += SHT_DYNSYM - SHT_SYMTAB) {
		Elf64_Shdr *sym = find_section(b, type);
		Elf64_Sym *s = (Elf64_Sym *)(b + sym->sh_offset);
		for (uint64_t i = 0; i < sym->sh_size / sizeof *s; i++)
			s[i].st_name = 0x7fffffff;
	}
	assert_false(look(b, im.size, im.vglobal, NULL));
	free(b);
	free(im.buf);
#undef RESET
}

/* Random byte flips anywhere, and concentrated on the headers and tables. */
static void test_random_flips(void **state)
{
	(void)state;
	struct image im;
	load_image(&im);
	unsigned char *b = malloc(im.size);
	Elf64_Ehdr eh = *ehdr(im.buf);
	Elf64_Shdr *sym = find_section(im.buf, SHT_SYMTAB);
	uint64_t zones[3][2] = {
		{ 0, im.size },
		{ eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) },
		{ sym->sh_offset, sym->sh_size },
	};
	uint64_t x = 0x243F6A8885A308D3ull;
	unsigned found = 0;
	for (int iter = 0; iter < 6000; iter++) {
		memcpy(b, im.buf, im.size);
		for (int k = 0; k < 1 + iter % 8; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			uint64_t *z = zones[iter % 3];
			size_t pos = (size_t)(z[0] + (x >> 8) % z[1]);
			b[pos] ^= (unsigned char)(1u << ((x >> 3) % 8));
		}
		found += look(b, im.size, im.vglobal, NULL);
		found += look(b, im.size, x % 0x4000, NULL);
	}
	assert_true(found > 0);
	free(b);
	free(im.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_functions),
		cmocka_unit_test(test_libc_functions),
		cmocka_unit_test(test_not_in_a_module),
		cmocka_unit_test(test_dlopen_dlclose),
		cmocka_unit_test(test_deleted_library),
		cmocka_unit_test(test_debug_file_by_build_id),
		cmocka_unit_test(test_index_matches_scan),
		cmocka_unit_test(test_truncated_images),
		cmocka_unit_test(test_corrupted_headers),
		cmocka_unit_test(test_random_flips),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	ma_sym_release();
	return rc;
}
