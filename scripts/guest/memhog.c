/*
 * memhog RANDOM_MB PATTERN_MB ZERO_MB MARKER
 *
 * First-kernel workload: holds anonymous memory of three kinds so that every page class a
 * dump filter cares about exists in the vmcore (busybox has no tool that just mallocs):
 *   - RANDOM_MB of xorshift data (incompressible: exercises the raw-page fallback),
 *   - PATTERN_MB of text-like pages (compressible, every page different),
 *   - ZERO_MB of pages that were written with zeros (real zero-filled anon pages; a read
 *     fault would only map the shared zero page and allocate nothing).
 * Then creates MARKER so the caller knows the memory is populated, and sleeps forever.
 * Static (gcc -static) so the initramfs needs no libraries.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL

static unsigned char *map(size_t n)
{
	if (n == 0)
		return NULL;
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s RANDOM_MB PATTERN_MB ZERO_MB MARKER\n", argv[0]);
		return 2;
	}
	size_t mb = 1UL << 20;
	size_t nr = strtoul(argv[1], NULL, 10) * mb;
	size_t np = strtoul(argv[2], NULL, 10) * mb;
	size_t nz = strtoul(argv[3], NULL, 10) * mb;

	uint64_t x = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	uint64_t *r = (uint64_t *)map(nr);
	for (size_t i = 0; i < nr / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r[i] = x;
	}

	unsigned char *p = map(np);
	for (size_t pg = 0; pg < np / PAGE; pg++) {
		char line[96];
		int len = snprintf(line, sizeof(line), "memhog pid %d page %zu: the quick brown fox %zx\n",
				   (int)getpid(), pg, pg * 2654435761UL);
		for (size_t off = 0; off < PAGE; off += (size_t)len) {
			size_t n = PAGE - off < (size_t)len ? PAGE - off : (size_t)len;
			memcpy(p + pg * PAGE + off, line, n);
		}
	}

	volatile unsigned char *z = map(nz);
	for (size_t off = 0; off < nz; off += PAGE)
		z[off] = 0;

	FILE *f = fopen(argv[4], "w");
	if (!f) {
		perror(argv[4]);
		return 1;
	}
	fprintf(f, "%zu %zu %zu\n", nr / mb, np / mb, nz / mb);
	fclose(f);
	for (;;)
		pause();
}
