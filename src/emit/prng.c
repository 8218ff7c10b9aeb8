/* prng.c: the simulator's seeded generator: xoshiro256** (Blackman and Vigna) seeded with splitmix64,
 * and the few distributions the model draws from. Never rand(): the C library's generator differs
 * between systems and shares hidden state, which would break reproducible output. */
#include "levee/prng.h"

#include <math.h>

uint64_t lv_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void lv_prng_seed(lv_prng *r, uint64_t seed)
{
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = lv_splitmix64(&sm);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t lv_prng_next(lv_prng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Lemire's multiply-and-reject: uniform without the bias of x % n. */
uint64_t lv_prng_below(lv_prng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    unsigned __int128 m = (unsigned __int128)lv_prng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (unsigned __int128)lv_prng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

int64_t lv_prng_range(lv_prng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)lv_prng_below(r, (uint64_t)(hi - lo) + 1);
}

double lv_prng_unit(lv_prng *r)
{
    return (double)(lv_prng_next(r) >> 11) * 0x1.0p-53;
}

bool lv_prng_chance(lv_prng *r, double p)
{
    return lv_prng_unit(r) < p;
}

double lv_prng_normal(lv_prng *r)
{
    double u1 = 1.0 - lv_prng_unit(r); /* (0, 1]: log is finite */
    double u2 = lv_prng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double lv_prng_lognormal(lv_prng *r, double mu, double sigma)
{
    return exp(mu + sigma * lv_prng_normal(r));
}

unsigned lv_prng_poisson(lv_prng *r, double lambda)
{
    if (!(lambda > 0))
        return 0;
    if (lambda > 30) {
        /* Normal approximation: the model only asks for large means in bulk. */
        double x = lambda + sqrt(lambda) * lv_prng_normal(r) + 0.5;
        return x < 0 ? 0 : (unsigned)x;
    }
    /* Knuth: multiply uniforms until the product drops below e^-lambda. */
    double limit = exp(-lambda), p = 1.0;
    unsigned k = 0;
    for (;;) {
        p *= lv_prng_unit(r);
        if (p <= limit)
            return k;
        k++;
    }
}

size_t lv_prng_weighted(lv_prng *r, const double *weights, size_t n)
{
    if (n == 0)
        return 0;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i] > 0 ? weights[i] : 0;
    if (!(total > 0))
        return n - 1;
    double x = lv_prng_unit(r) * total;
    for (size_t i = 0; i < n; i++) {
        double w = weights[i] > 0 ? weights[i] : 0;
        if (x < w)
            return i;
        x -= w;
    }
    /* Rounding can leave x just above the last positive weight. */
    for (size_t i = n; i-- > 0;)
        if (weights[i] > 0)
            return i;
    return n - 1;
}
