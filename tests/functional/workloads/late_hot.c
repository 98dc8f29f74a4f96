/* Shared library that tests/functional/test_native.py builds and the
 * late_dlopen.py workload loads only after pyrometer has attached. */
__attribute__((noinline)) unsigned long late_hot(unsigned long n)
{
    volatile unsigned long x = 1;
    for (unsigned long i = 0; i < n; i++)
        x = x * 6364136223846793005UL + i;
    return x;
}
