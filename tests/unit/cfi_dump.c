/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cfi_dump: the CFI compiler (src/cfi.c) on an ELF file, for test_cfi.py.
 *
 *   cfi_dump FILE             per executable PT_LOAD segment: "range LO HI ROWS FDES",
 *                             then one line per rule: "PC KIND OFF FP" (hex PC,
 *                             link-time addresses; KIND sp fp none end signal)
 *   cfi_dump --corrupt FILE N SEED
 *                             compiles N damaged copies (random bytes changed
 *                             in .eh_frame_hdr/.eh_frame, or the segment cut
 *                             short), each placed against an unreadable page
 *                             so that any read past its end faults; prints
 *                             "ok TABLES FAILED" (tables built, builds refused)
 *   cfi_dump --cost FILE      the one-time cost (docs/bench.md), per executable
 *                             PT_LOAD segment: "cost ROWS_IN ROWS NONE_ROWS FDES
 *                             TABLE_BYTES EH_FRAME_BYTES BEST_US" (rows before and
 *                             after merging, rows no rule expresses, the table's
 *                             mapped bytes, the .eh_frame section's size, the
 *                             best build time of 5 in microseconds)
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfi.h"

static const char *const kinds[] = { "sp", "fp", "none", "end", "signal" };

struct seg {
	const uint8_t *data;
	size_t len;
	uintptr_t vaddr, hdr;
};

static int find_eh(const uint8_t *f, size_t size, struct seg *s, const Elf64_Phdr **ph, unsigned *phnum)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
	if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return -1;
	*ph = (const Elf64_Phdr *)(f + eh->e_phoff);
	*phnum = eh->e_phnum;
	s->hdr = 0;
	for (unsigned i = 0; i < *phnum; i++)
		if ((*ph)[i].p_type == PT_GNU_EH_FRAME)
			s->hdr = (*ph)[i].p_vaddr;
	for (unsigned i = 0; s->hdr && i < *phnum; i++) {
		const Elf64_Phdr *p = &(*ph)[i];
		if (p->p_type == PT_LOAD && s->hdr >= p->p_vaddr && s->hdr - p->p_vaddr < p->p_filesz) {
			s->data = f + p->p_offset;
			s->len = p->p_filesz;
			s->vaddr = p->p_vaddr;
			return 0;
		}
	}
	return -1;
}

/* A copy of len bytes ending just below a PROT_NONE page. */
static uint8_t *guarded(const uint8_t *src, size_t len, void **map, size_t *maplen)
{
	size_t page = 4096, body = (len + page - 1) & ~(page - 1);
	*maplen = body + page;
	uint8_t *m = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		exit(2);
	mprotect(m + body, page, PROT_NONE);
	uint8_t *p = m + body - len;
	memcpy(p, src, len);
	*map = m;
	return p;
}

/* The size of the section called name, or 0. */
static uint64_t section_size(const uint8_t *f, size_t size, const char *name)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
	if (!eh->e_shoff || eh->e_shstrndx >= eh->e_shnum ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > size)
		return 0;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(f + eh->e_shoff);
	const Elf64_Shdr *names = &sh[eh->e_shstrndx];
	for (unsigned i = 0; i < eh->e_shnum; i++)
		if (names->sh_offset + sh[i].sh_name < size &&
		    !strncmp((const char *)f + names->sh_offset + sh[i].sh_name, name, size - names->sh_offset - sh[i].sh_name))
			return sh[i].sh_size;
	return 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int main(int argc, char **argv)
{
	bool corrupt = argc == 5 && !strcmp(argv[1], "--corrupt");
	bool cost = argc == 3 && !strcmp(argv[1], "--cost");
	if (argc != 2 && !corrupt && !cost) {
		fprintf(stderr, "usage: cfi_dump FILE | --corrupt FILE N SEED | --cost FILE\n");
		return 2;
	}
	const char *path = corrupt || cost ? argv[2] : argv[1];
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return 2;
	uint8_t *f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f == MAP_FAILED)
		return 2;
	struct seg s;
	const Elf64_Phdr *ph;
	unsigned phnum;
	if (find_eh(f, (size_t)st.st_size, &s, &ph, &phnum) != 0) {
		fprintf(stderr, "%s: no PT_GNU_EH_FRAME\n", path);
		return 2;
	}
	if (cost) {
		uint64_t eh_frame = section_size(f, (size_t)st.st_size, ".eh_frame");
		for (unsigned i = 0; i < phnum; i++) {
			if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
				continue;
			uintptr_t lo = ph[i].p_vaddr, hi = lo + ph[i].p_memsz;
			uint64_t best = UINT64_MAX;
			struct ma_cfi_stats cs;
			struct ma_cfi_table *t = NULL;
			for (int k = 0; k < 5; k++) {
				ma_cfi_free(t);
				uint64_t t0 = now_us();
				t = ma_cfi_compile(s.data, s.len, s.vaddr, s.hdr, lo, hi, &cs);
				uint64_t us = now_us() - t0;
				if (us < best)
					best = us;
				if (!t) {
					printf("error %s\n", cs.error);
					return 1;
				}
			}
			printf("cost %u %u %u %u %zu %lu %lu\n", cs.rows_in, cs.rows_out, cs.none_rows, cs.fdes, t->bytes,
			       (unsigned long)eh_frame, (unsigned long)best);
			ma_cfi_free(t);
		}
		return 0;
	}
	if (!corrupt) {
		for (unsigned i = 0; i < phnum; i++) {
			if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
				continue;
			uintptr_t lo = ph[i].p_vaddr, hi = lo + ph[i].p_memsz;
			struct ma_cfi_stats cs;
			struct ma_cfi_table *t = ma_cfi_compile(s.data, s.len, s.vaddr, s.hdr, lo, hi, &cs);
			if (!t) {
				printf("error %s\n", cs.error);
				return 1;
			}
			printf("range %lx %lx %u %u\n", (unsigned long)lo, (unsigned long)hi, t->n, t->fdes);
			for (uint32_t k = 0; k < t->n; k++)
				printf("%lx %s %d %d\n", (unsigned long)(lo + t->rows[k].pc), kinds[t->rows[k].kind],
				       t->rows[k].off8 * 8, t->rows[k].fp);
			ma_cfi_free(t);
		}
		return 0;
	}
	unsigned n = (unsigned)atoi(argv[3]);
	srand((unsigned)atoi(argv[4]));
	uintptr_t lo = 0, hi = 0;
	for (unsigned i = 0; i < phnum; i++)
		if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X)) {
			lo = ph[i].p_vaddr;
			hi = lo + ph[i].p_memsz;
		}
	unsigned tables = 0, failed = 0;
	size_t from = s.hdr - s.vaddr; /* .eh_frame_hdr, then .eh_frame, in every linker's layout */
	for (unsigned k = 0; k < n; k++) {
		size_t len = s.len;
		if (k % 4 == 0) /* cut short: anywhere after the header's start */
			len = from + (size_t)rand() % (s.len - from);
		void *map;
		size_t maplen;
		uint8_t *p = guarded(s.data, len, &map, &maplen);
		if (k % 4 != 0) {
			unsigned flips = 1 + (unsigned)rand() % 16;
			for (unsigned j = 0; j < flips; j++) {
				/* Mostly the header and the first FDEs, where damage reaches every table. */
				size_t span = j & 1 ? len - from : (len - from < 4096 ? len - from : 4096);
				p[from + (size_t)rand() % span] = (uint8_t)rand();
			}
		}
		struct ma_cfi_table *t = ma_cfi_compile(p, len, s.vaddr, s.hdr, lo, hi, NULL);
		if (t) {
			/* Whatever it built is well formed: rows sorted, inside the range. */
			for (uint32_t r = 0; r < t->n; r++)
				if ((r && t->rows[r].pc <= t->rows[r - 1].pc) || t->rows[r].pc >= hi - lo ||
				    t->rows[r].kind > MA_CFI_SIGNAL)
					return 3;
			tables++;
		} else {
			failed++;
		}
		ma_cfi_free(t);
		munmap(map, maplen);
	}
	printf("ok %u %u\n", tables, failed);
	return 0;
}
