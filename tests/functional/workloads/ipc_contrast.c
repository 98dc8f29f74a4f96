/* Two loops of the same length with opposite instruction-level
 * parallelism, for the hardware tier of test_events.py: dependent_chain
 * feeds every multiply into the next (IPC well under 1 on any core),
 * independent_lanes runs eight unrelated chains the core can overlap.
 * They alternate until killed, or for PYRO_TEST_LIFETIME seconds. */
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;

__attribute__((noinline)) unsigned long dependent_chain(unsigned long x)
{
	for (unsigned long i = 0; i < 4000000; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return x;
}

__attribute__((noinline)) unsigned long independent_lanes(unsigned long x)
{
	unsigned long a = x, b = x + 1, c = x + 2, d = x + 3, e = x + 4, f = x + 5, g = x + 6,
		      h = x + 7;
	for (unsigned long i = 0; i < 500000; i++) {
		a += i; b ^= i; c += i << 1; d ^= i >> 1;
		e += i * 3; f ^= i + 7; g += i ^ 5; h ^= i - 9;
	}
	return a + b + c + d + e + f + g + h;
}

int main(void)
{
	const char *life = getenv("PYRO_TEST_LIFETIME");
	time_t end = time(NULL) + (life ? atoi(life) : 60);
	while (time(NULL) < end) {
		sink += dependent_chain(sink);
		sink += independent_lanes(sink);
	}
	return 0;
}
