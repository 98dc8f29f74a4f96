/* A plain C program (no Python) for test_native.py, which compiles it with
 * gcc -O1 -g: main calls middle, which calls the hot function hot_leaf; main
 * also calls the lukewarm warm_leaf, about a tenth as long.  It runs until
 * killed, or for PYRO_TEST_LIFETIME seconds (default 60). */
#include <stdlib.h>
#include <unistd.h>

volatile unsigned long sink;

__attribute__((noinline)) unsigned long hot_leaf(unsigned long n)
{
    unsigned long x = n;
    for (unsigned long i = 0; i < 200000; i++)
        x = x * 6364136223846793005UL + i;
    return x;
}

__attribute__((noinline)) unsigned long warm_leaf(unsigned long n)
{
    unsigned long x = n;
    for (unsigned long i = 0; i < 20000; i++)
        x = x * 2862933555777941757UL + i;
    return x;
}

__attribute__((noinline)) unsigned long middle(unsigned long n)
{
    unsigned long r = hot_leaf(n);
    sink += r;
    return r;
}

int main(void)
{
    const char *life = getenv("PYRO_TEST_LIFETIME");
    alarm(life && atoi(life) > 0 ? (unsigned)atoi(life) : 60);
    for (unsigned long n = 0;; n++) {
        sink += middle(n);
        sink += warm_leaf(n);
    }
}
