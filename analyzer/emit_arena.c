/* emit_arena: the memory of a record's jansson tree, taken from one reused block while the record
 * is built (emit_arena_begin .. emit_arena_end) and given back whole when the last of it is
 * freed, so that building a record costs no malloc and free per value. Part of the record
 * builder. */
#include <jansson.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "emit_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ARENA_POISON(p, n)   ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

enum {
	ARENA_SIZE = 512 * 1024, /* far above a 16 KiB record's tree; beyond it, malloc */
	ARENA_ALIGN = alignof(max_align_t),
};

/* jansson's allocation hooks take no context, so the arena is the one state of its kind: used
 * by the single analysis thread only (workers are processes). */
static struct {
	unsigned char *base; /* ARENA_SIZE bytes, or NULL before the first record */
	size_t used;         /* bytes handed out since the arena was last empty */
	size_t live;         /* blocks handed out and not yet freed */
	bool on;             /* between begin and end: allocations come from the arena */
	bool installed;
} arena;

static bool in_arena(const void *p)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)arena.base;
	return arena.base && a >= b && a < b + ARENA_SIZE;
}

static void *arena_malloc(size_t n)
{
	size_t need = (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	if (!arena.on || !arena.base || need > ARENA_SIZE - arena.used)
		return malloc(n);
	void *p = arena.base + arena.used;
	arena.used += need;
	arena.live++;
	ARENA_UNPOISON(p, n);
	return p;
}

/* Any block, the arena's or malloc's: the arena is empty again when its last block goes. */
static void arena_free(void *p)
{
	if (!in_arena(p)) {
		free(p);
		return;
	}
	if (--arena.live == 0) {
		arena.used = 0;
		ARENA_POISON(arena.base, ARENA_SIZE);
	}
}

void emit_arena_begin(void)
{
	if (!arena.installed) {
		/* before any jansson value exists; blocks of malloc's are freed by free() */
		arena.base = malloc(ARENA_SIZE);
		if (arena.base)
			ARENA_POISON(arena.base, ARENA_SIZE);
		json_set_alloc_funcs(arena_malloc, arena_free);
		arena.installed = true;
	}
	arena.on = true;
}

void emit_arena_end(void)
{
	arena.on = false;
}
