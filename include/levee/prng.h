/* levee/prng.h (stage: emit): the seeded pseudo-random generator the simulator draws every choice from
 * (xoshiro256**, seeded through splitmix64). The same seed gives the same sequence on every run, so a
 * simulation is reproducible byte for byte; it is never used for anything secret. */
#ifndef LEVEE_PRNG_H
#define LEVEE_PRNG_H

#include "levee/common.h"

typedef struct lv_prng {
    uint64_t s[4];
} lv_prng;

/* Seeds the generator; every seed (0 included) gives a distinct, well-mixed state. */
void lv_prng_seed(lv_prng *r, uint64_t seed);

/* splitmix64: one step of the mixer used for seeding, also handy to derive sub-seeds. */
uint64_t lv_splitmix64(uint64_t *state);

/* The next 64 random bits. */
uint64_t lv_prng_next(lv_prng *r);

/* A uniform integer in [0, n) without modulo bias; 0 when n is 0. */
uint64_t lv_prng_below(lv_prng *r, uint64_t n);

/* A uniform integer in [lo, hi] (inclusive); lo when hi < lo. */
int64_t lv_prng_range(lv_prng *r, int64_t lo, int64_t hi);

/* A uniform double in [0, 1), with 53 random bits. */
double lv_prng_unit(lv_prng *r);

/* true with probability p. */
bool lv_prng_chance(lv_prng *r, double p);

/* A standard normal deviate (Box-Muller). */
double lv_prng_normal(lv_prng *r);

/* exp(N(mu, sigma)): a log-normal deviate (median exp(mu)). */
double lv_prng_lognormal(lv_prng *r, double mu, double sigma);

/* A Poisson deviate with mean lambda (0 for lambda <= 0). */
unsigned lv_prng_poisson(lv_prng *r, double lambda);

/* An index in [0, n) drawn with the given non-negative weights; n-1 when all are zero. */
size_t lv_prng_weighted(lv_prng *r, const double *weights, size_t n);

#endif
