/*
 * unwind_debug_frame.c - one function of test_unwind's call chains built
 * so that its call frame information lies in .debug_frame only: the
 * Makefile compiles this file with -g -fno-asynchronous-unwind-tables
 * -fno-unwind-tables -fomit-frame-pointer, so .eh_frame (and with it
 * .eh_frame_hdr) does not cover it and RBP is no frame pointer in it.
 *
 * Its frame holds a local array and a saved register, so its stack
 * pointer moves: only its CFI can step over it.
 */
int unwind_test_df_middle(int x, int (*next)(int, volatile char *));

int unwind_test_df_middle(int x, int (*next)(int, volatile char *))
{
	volatile char buf[48];

	for (int i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (char)(x + i);
	int r = next(x * 2, buf);
	return r + buf[x & 31];
}
