/*
 * sample.h - the raw sample: the seam between sampling and everything else.
 *
 * A sampling backend (today: the kernel's sample plus a user-space read of
 * the Python stack right after it) produces raw samples; everything after
 * (decoding, aggregation, outputs) consumes them and never asks which
 * backend made one. Python frames stay raw here - (code object address,
 * instruction index) pairs - and are decoded later through caches.
 */
#ifndef PYROMETER_SAMPLE_H
#define PYROMETER_SAMPLE_H

#include <stdint.h>
#include <sys/types.h>

#include "pyrometer/python.h"

enum raw_py_status {
	RAW_PY_OK = 0,         /* frames[0..nframes) hold the stack (maybe 0 deep) */
	RAW_PY_NO_THREAD,      /* the thread has no Python thread state */
	RAW_PY_UNREADABLE,     /* its state could not be read */
};

struct raw_sample {
	uint64_t time;         /* ns, CLOCK_MONOTONIC */
	pid_t pid, tid;
	uint32_t cpu;
	uint64_t period;       /* what this sample stands for of its event */
	int event;             /* the event that sampled (0: the group's leader) */
	const uint64_t *counts;  /* per event, what this sample stands for (the
				    sampler's period, the group members' deltas);
				    NULL when only samples are counted */
	enum raw_py_status py_status;
	unsigned py_flags;     /* enum py_stack_flags */
	int nframes;
	const struct py_raw_frame *frames;   /* innermost first; owned by the producer */
	const struct py_activations *acts;   /* how frames split into eval-loop calls;
						NULL without native frames */

	/* The native stack (nnative == 0: none was taken), innermost first:
	 * pcs[0] the interrupted instruction, later ones return addresses;
	 * frame i owns the stack [sps[i], sps[i + 1]). The sample's stack copy
	 * (at sps[0]) comes along for markers that live on the stack. */
	int nnative;
	const uint64_t *native_pcs, *native_sps;
	unsigned unwind_flags;               /* enum in unwind.h */
	const uint8_t *stack;
	size_t stack_len;
};

#endif
