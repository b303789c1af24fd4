#include "common/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
	const char *key;
	void *value;
	uint64_t hash;
} entry;

struct us_strmap {
	entry *slots;
	size_t cap; /* a power of two */
	size_t count;
};

/* FNV-1a: keys are short and not attacker-chosen in bulk beyond a request's own batch. */
static uint64_t hash_of(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

us_strmap *us_strmap_new(size_t expected)
{
	us_strmap *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->cap = 16;
	while (m->cap < expected * 2)
		m->cap <<= 1;
	m->slots = calloc(m->cap, sizeof(entry));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void us_strmap_free(us_strmap *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

static entry *find(entry *slots, size_t cap, const char *key, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);
	for (;;) {
		entry *e = &slots[i];
		if (e->key == NULL || (e->hash == h && strcmp(e->key, key) == 0))
			return e;
		i = (i + 1) & (cap - 1);
	}
}

static int grow(us_strmap *m)
{
	size_t cap = m->cap * 2;
	entry *slots = calloc(cap, sizeof(entry));
	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].key != NULL)
			*find(slots, cap, m->slots[i].key, m->slots[i].hash) = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int us_strmap_put(us_strmap *m, const char *key, void *value)
{
	if ((m->count + 1) * 2 > m->cap && grow(m) != 0)
		return -1;
	uint64_t h = hash_of(key);
	entry *e = find(m->slots, m->cap, key, h);
	if (e->key != NULL)
		return 0;
	e->key = key;
	e->value = value;
	e->hash = h;
	m->count++;
	return 1;
}

bool us_strmap_get(const us_strmap *m, const char *key, void **value)
{
	entry *e = find(m->slots, m->cap, key, hash_of(key));
	if (e->key == NULL)
		return false;
	if (value != NULL)
		*value = e->value;
	return true;
}

size_t us_strmap_count(const us_strmap *m)
{
	return m->count;
}
