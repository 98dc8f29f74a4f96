/*
 * target.h - the process being profiled, seen through /proc and its memory.
 *
 * Everything read here is controlled by the target and therefore untrusted:
 * names are kept as bytes and escaped by whoever prints them; memory reads
 * return how much was really read.
 */
#ifndef PYROMETER_TARGET_H
#define PYROMETER_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 0 if the process exists (and is visible), -ESRCH / -EACCES otherwise. */
int target_check(pid_t pid);

/* Kernel name of a thread (comm) into buf; "" when unknown. */
void target_comm(pid_t pid, pid_t tid, char *buf, size_t cap);

/* Command line with NULs turned into spaces; "" when unknown. */
void target_cmdline(pid_t pid, char *buf, size_t cap);

/*
 * Thread ids of the process, into tids (at most cap). Returns the number
 * found (may exceed cap: call again with more room), or -errno.
 */
int target_threads(pid_t pid, pid_t *tids, int cap);

/* One line of /proc/PID/maps. */
struct target_map {
	uint64_t start, end, offset;
	uint64_t inode;
	unsigned dev_major, dev_minor;
	char perms[5];
	char *path;          /* owned by the target_maps; NULL for anonymous */
};

struct target_maps {
	struct target_map *v;
	size_t n;
};

/* Read /proc/PID/maps. 0 or -errno. Release with target_maps_release(). */
int target_maps_read(pid_t pid, struct target_maps *out);
void target_maps_release(struct target_maps *m);

/*
 * Reading the target's memory. process_vm_readv is used while it works;
 * when the kernel refuses it (EPERM/ENOSYS under some sandboxes) the reader
 * switches to /proc/PID/mem for the rest of the session.
 */
struct target_mem {
	pid_t pid;
	int memfd;           /* /proc/PID/mem, -1 until needed */
	int use_procmem;
	uint64_t reads, failures;
};

void target_mem_init(struct target_mem *m, pid_t pid);
void target_mem_release(struct target_mem *m);

/* Read len bytes at addr into buf. 0 when all were read, -errno otherwise. */
int target_read(struct target_mem *m, uint64_t addr, void *buf, size_t len);

/*
 * Read up to len bytes; returns the number read (a short count when the
 * range runs into unmapped memory), or -errno when nothing could be read.
 */
ssize_t target_read_partial(struct target_mem *m, uint64_t addr, void *buf, size_t len);

/* One piece of a batched read. */
struct target_iov {
	uint64_t addr;
	void *buf;
	size_t len;
};

/*
 * Read n pieces, in as few system calls as possible. Returns the number of
 * leading pieces read completely (n when all were), or -errno.
 */
int target_readv(struct target_mem *m, const struct target_iov *iov, int n);

#endif
