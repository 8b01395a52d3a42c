/*
 * kexec-crash KERNEL INITRD CMDLINE
 *
 * Loads the capture kernel with kexec_file_load(2) and KEXEC_FILE_ON_CRASH, which is what
 * `kexec -s -p` does. Built with `gcc -static` so the initramfs needs no shared libraries:
 * Debian's kexec is dynamically linked and pulls in nine Xen libraries (ldd), which is more
 * to copy and to get wrong than these few lines (real-vmcore.md, readers-and-tools.md §3.2).
 * The kernel appends elfcorehdr= to CMDLINE itself.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef KEXEC_FILE_ON_CRASH
#define KEXEC_FILE_ON_CRASH 0x00000002
#endif

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s KERNEL INITRD CMDLINE\n", argv[0]);
		return 2;
	}
	int kfd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (kfd < 0) {
		perror(argv[1]);
		return 1;
	}
	int ifd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (ifd < 0) {
		perror(argv[2]);
		return 1;
	}
	const char *cmdline = argv[3];
	/* cmdline_len includes the terminating NUL. */
	if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(cmdline) + 1, cmdline,
		    KEXEC_FILE_ON_CRASH) != 0) {
		perror("kexec_file_load");
		return 1;
	}
	printf("kexec-crash: capture kernel loaded (%s)\n", cmdline);
	return 0;
}
