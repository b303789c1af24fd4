#include "common/replay_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_SLOTS 64

typedef struct bucket {
	int64_t second; /* the issue second its ids belong to */
	uint8_t (*slots)[US_REPLAY_ID_BYTES];
	size_t cap, n;  /* cap is 0 or a power of two */
} bucket;

struct us_replay_cache {
	pthread_mutex_t mu;
	bucket *buckets;
	size_t n_buckets;
	size_t held, max;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

us_err us_replay_cache_new(int64_t window_ms, size_t max_ids, us_replay_cache **out)
{
	us_replay_cache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return US_EEXHAUSTED;
	/* Issue seconds from now - window to now + window, and one either side for rounding:
	 * two seconds sharing a bucket are always more than the window apart. */
	c->n_buckets = (size_t)(2 * (window_ms / 1000 + 1) + 3);
	c->buckets = calloc(c->n_buckets, sizeof(bucket));
	if (c->buckets == NULL) {
		free(c);
		return US_EEXHAUSTED;
	}
	for (size_t i = 0; i < c->n_buckets; i++)
		c->buckets[i].second = INT64_MIN;
	c->max = max_ids;
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return US_OK;
}

void us_replay_cache_free(us_replay_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_buckets; i++)
		free(c->buckets[i].slots);
	free(c->buckets);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static bool empty(const uint8_t *slot)
{
	static const uint8_t zero[US_REPLAY_ID_BYTES];
	return memcmp(slot, zero, US_REPLAY_ID_BYTES) == 0;
}

static size_t home(const uint8_t id[US_REPLAY_ID_BYTES], size_t cap)
{
	uint64_t h;
	memcpy(&h, id, sizeof(h)); /* the id is a hash already */
	return (size_t)h & (cap - 1);
}

/* Inserts id unless present; returns true when it was present. */
static bool insert(bucket *b, const uint8_t id[US_REPLAY_ID_BYTES])
{
	for (size_t i = home(id, b->cap);; i = (i + 1) & (b->cap - 1)) {
		if (empty(b->slots[i])) {
			memcpy(b->slots[i], id, US_REPLAY_ID_BYTES);
			b->n++;
			return false;
		}
		if (memcmp(b->slots[i], id, US_REPLAY_ID_BYTES) == 0)
			return true;
	}
}

/* Doubles the table (at half load); false when out of memory. */
static bool grow(bucket *b)
{
	size_t cap = b->cap ? 2 * b->cap : INITIAL_SLOTS;
	uint8_t(*slots)[US_REPLAY_ID_BYTES] = calloc(cap, US_REPLAY_ID_BYTES);
	if (slots == NULL)
		return false;
	bucket bigger = {b->second, slots, cap, 0};
	for (size_t i = 0; i < b->cap; i++) {
		if (!empty(b->slots[i]))
			insert(&bigger, b->slots[i]);
	}
	free(b->slots);
	*b = bigger;
	return true;
}

us_replay_result us_replay_cache_check(us_replay_cache *c, const uint8_t id[US_REPLAY_ID_BYTES],
                                       int64_t issued_at_ms)
{
	static const uint8_t zero[US_REPLAY_ID_BYTES];
	uint8_t key[US_REPLAY_ID_BYTES];
	memcpy(key, id, sizeof(key));
	if (memcmp(key, zero, sizeof(key)) == 0)
		key[0] = 1; /* all zeros marks an empty slot */

	int64_t second = floor_div(issued_at_ms, 1000);
	bucket *b = &c->buckets[(size_t)(second - floor_div(second, (int64_t)c->n_buckets) *
	                                             (int64_t)c->n_buckets)];
	us_replay_result result;
	pthread_mutex_lock(&c->mu);
	if (b->second != second) {
		/* The ids of a second that has left the window: drop them. */
		c->held -= b->n;
		free(b->slots);
		*b = (bucket){second, NULL, 0, 0};
	}
	if (c->held >= c->max || ((b->n + 1) * 2 > b->cap && !grow(b))) {
		result = US_REPLAY_FULL;
	} else if (insert(b, key)) {
		result = US_REPLAY_SEEN;
	} else {
		c->held++;
		result = US_REPLAY_NEW;
	}
	pthread_mutex_unlock(&c->mu);
	return result;
}

size_t us_replay_cache_size(us_replay_cache *c)
{
	pthread_mutex_lock(&c->mu);
	size_t n = c->held;
	pthread_mutex_unlock(&c->mu);
	return n;
}
