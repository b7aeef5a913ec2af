/* auth.c: roles and their rules, password hashing, random tokens and
 * their digests, and the in-memory login limiter (see auth.h).
 *
 * Pure functions but for auth_init() (libsodium's one-time setup) and the
 * limiter's table. Nothing here logs: callers decide what to say, and
 * secrets never reach a message. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "loaxa/auth.h"
#include "loaxa/text.h"
#include "loaxa/util.h"

_Static_assert(AUTH_HASH_MAX == crypto_pwhash_STRBYTES,
	       "AUTH_HASH_MAX is crypto_pwhash_STRBYTES");
_Static_assert(AUTH_DIGEST_HEX == crypto_generichash_BYTES * 2 + 1,
	       "a digest is 32 bytes as hex");

/* ---- roles -------------------------------------------------------------- */

static const char *const role_names[] = {
	[ROLE_NONE] = "none",
	[ROLE_MANAGER] = "manager",
	[ROLE_OFFICIAL] = "official",
	[ROLE_ADMIN] = "admin",
};

const char *auth_role_name(enum role r)
{
	if ((unsigned)r >= ARRAY_SIZE(role_names))
		return "none";
	return role_names[r];
}

/* Only the roles one can hold: "none" is not one. Case is ignored. */
int auth_role_parse(const char *s, enum role *ret)
{
	if (!s)
		return -EINVAL;
	for (enum role r = ROLE_MANAGER; r <= ROLE_ADMIN; r++)
		if (strcasecmp(s, role_names[r]) == 0) {
			if (ret)
				*ret = r;
			return 0;
		}
	return -EINVAL;
}

static bool role_valid(enum role r)
{
	return r == ROLE_MANAGER || r == ROLE_OFFICIAL || r == ROLE_ADMIN;
}

bool auth_may(const struct principal *p, enum auth_action a)
{
	if (!p || !role_valid(p->role) || (unsigned)a >= AA_MAX)
		return false;
	switch (p->role) {
	case ROLE_ADMIN:
		return true;
	case ROLE_OFFICIAL:
		switch (a) {
		case AA_MANAGE_USERS:
		case AA_READ_AUDIT:
		case AA_BACKUP:
		case AA_METRICS:
		case AA_SET_LOG:
		case AA_MANAGE_GROUPS:
			return false;
		default:
			return true;
		}
	case ROLE_MANAGER:
		return a == AA_READ || a == AA_EDIT_HOUSEHOLDS || a == AA_SEND;
	default:
		return false;
	}
}

bool auth_group_ok(const struct principal *p, int64_t group_id)
{
	if (!p || !role_valid(p->role))
		return false;
	if (p->role != ROLE_MANAGER)
		return true;
	size_t n = p->ngroups < AUTH_MAX_GROUPS ? p->ngroups :
		   AUTH_MAX_GROUPS;
	for (size_t i = 0; i < n; i++)
		if (p->group_ids[i] == group_id)
			return true;
	return false;
}

/* A manager needs at least one group, every one of them theirs: an empty
 * list is not "only my groups". */
bool auth_groups_ok(const struct principal *p, const int64_t *ids, size_t n,
		    bool all_groups)
{
	if (!p || !role_valid(p->role) || (n > 0 && !ids))
		return false;
	if (p->role != ROLE_MANAGER)
		return true;
	if (all_groups || n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!auth_group_ok(p, ids[i]))
			return false;
	return true;
}

bool auth_needs_approval(enum approval_mode mode, bool urgent,
			 bool all_groups)
{
	switch (mode) {
	case APPROVAL_OFF:
		return false;
	case APPROVAL_URGENT_ALL:
		return urgent && all_groups;
	case APPROVAL_URGENT:
		return urgent;
	case APPROVAL_ALL:
		return true;
	}
	return true;   /* an unknown mode: the careful answer */
}

bool auth_may_approve(const struct principal *p, const char *requested_by)
{
	if (!p || (p->role != ROLE_OFFICIAL && p->role != ROLE_ADMIN))
		return false;
	if (!requested_by || !requested_by[0])
		return p->role == ROLE_ADMIN;
	return strcasecmp(p->name, requested_by) != 0;
}

/* ---- secrets ------------------------------------------------------------ */

int auth_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

#define PW_MIN 10
#define PW_MAX 1024

/* Bytes of the UTF-8 sequence led by c (1 for anything not a lead byte:
 * the text is validated before). */
static size_t utf8_seqlen(unsigned char c)
{
	if (c >= 0xf0)
		return 4;
	if (c >= 0xe0)
		return 3;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/* Characters of UTF-8 text: the bytes that start one. */
static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

int auth_password_check(const char *pw, char *why, size_t whysz)
{
	const char *reason = NULL;
	size_t len = pw ? strnlen(pw, PW_MAX + 1) : 0;

	if (!pw)
		reason = "no password given";
	else if (utf8_chars(pw, len) < PW_MIN)
		reason = "too short: at least 10 characters";
	else if (len > PW_MAX)
		reason = "too long: at most 1024 bytes";
	else if (!text_utf8_valid(pw, len))
		reason = "not valid UTF-8 text";
	else {
		size_t k = utf8_seqlen((unsigned char)pw[0]);
		bool same = len % k == 0;
		for (size_t i = k; same && i < len; i += k)
			same = memcmp(pw, pw + i, k) == 0;
		if (same)
			reason = "one character repeated";
	}
	if (!reason)
		return 0;
	if (why && whysz)
		snprintf(why, whysz, "%s", reason);
	return -EINVAL;
}

#define PW_OPSLIMIT 2
#define PW_MEMLIMIT ((size_t)19 * 1024 * 1024)

int auth_password_hash(const char *pw, char out[AUTH_HASH_MAX])
{
	if (!pw || !out)
		return -EINVAL;
	char h[crypto_pwhash_STRBYTES];
	if (crypto_pwhash_str_alg(h, pw, strlen(pw), PW_OPSLIMIT, PW_MEMLIMIT,
				  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	memcpy(out, h, sizeof h);
	sodium_memzero(h, sizeof h);
	return 0;
}

/* Verifying costs what the hash says; a hash far costlier than ours (a
 * damaged or planted row) is refused rather than computed. */
#define PW_VERIFY_MAX_KIB (64u * 1024)
#define PW_VERIFY_MAX_T 8u

static bool hash_cost_ok(const char *hash)
{
	static const char *const prefixes[] = { "$argon2id$", "$argon2i$" };
	const char *p = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(prefixes) && !p; i++)
		if (strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0)
			p = hash + strlen(prefixes[i]);
	if (!p)
		return false;
	if (strncmp(p, "v=19$", 5) == 0)
		p += 5;
	/* m=<digits>,t=<digits>,p=<digits>$ */
	static const char keys[3] = { 'm', 't', 'p' };
	unsigned long v[3];
	for (size_t i = 0; i < 3; i++) {
		if (p[0] != keys[i] || p[1] != '=')
			return false;
		p += 2;
		if (*p < '0' || *p > '9')
			return false;
		unsigned long x = 0;
		size_t nd = 0;
		for (; *p >= '0' && *p <= '9'; p++, nd++) {
			if (nd >= 10)
				return false;
			x = x * 10 + (unsigned long)(*p - '0');
		}
		v[i] = x;
		if (*p != (i < 2 ? ',' : '$'))
			return false;
		p++;
	}
	return v[0] <= PW_VERIFY_MAX_KIB && v[1] <= PW_VERIFY_MAX_T &&
	       v[2] == 1;
}

bool auth_password_verify(const char *hash, const char *pw)
{
	if (!hash || !pw)
		return false;
	size_t hl = strnlen(hash, AUTH_HASH_MAX);
	if (hl == 0 || hl >= AUTH_HASH_MAX || !hash_cost_ok(hash))
		return false;
	char h[crypto_pwhash_STRBYTES] = { 0 };
	memcpy(h, hash, hl);
	return crypto_pwhash_str_verify(h, pw, strlen(pw)) == 0;
}

#define TOKEN_BYTES 32
#define TOKEN_B64 sodium_base64_ENCODED_LEN(TOKEN_BYTES, \
	sodium_base64_VARIANT_URLSAFE_NO_PADDING)
/* What is left of out for the prefix. */
#define TOKEN_PREFIX_MAX (AUTH_TOKEN_MAX - TOKEN_B64)

_Static_assert(TOKEN_B64 == 44, "43 base64url characters and a NUL");

void auth_random_token(const char *prefix, char out[AUTH_TOKEN_MAX])
{
	unsigned char raw[TOKEN_BYTES];
	char b64[TOKEN_B64];
	size_t pl = prefix ? strnlen(prefix, TOKEN_PREFIX_MAX) : 0;

	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(b64, sizeof b64, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	memcpy(out, prefix ? prefix : "", pl);
	memcpy(out + pl, b64, sizeof b64);     /* with its NUL */
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(b64, sizeof b64);
}

void auth_token_digest(const char *token, char out[AUTH_DIGEST_HEX])
{
	unsigned char d[crypto_generichash_BYTES];
	const char *t = token ? token : "";

	crypto_generichash(d, sizeof d, (const unsigned char *)t, strlen(t),
			   NULL, 0);
	sodium_bin2hex(out, AUTH_DIGEST_HEX, d, sizeof d);
}

bool auth_streq_ct(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return false;
	return la == 0 || sodium_memcmp(a, b, la) == 0;
}

/* ---- the login limiter -------------------------------------------------- */

/* At most this many (name, origin) pairs; when full, the one used least
 * recently goes. A pair's failures are kept up to max, newest last. */
#define LIMITER_SLOTS 1024
#define LIMITER_MAX_FAILS 1024
#define LIMITER_KEY 16

struct limiter_slot {
	bool used;
	unsigned char key[LIMITER_KEY];
	uint64_t tick;            /* last touched, for LRU */
	uint32_t n, cap;
	uint64_t *fails;          /* ascending failure times, n of them */
};

/* Failures of one address, whatever the names: a fixed window. Bounds
 * what one address can do to the pairs' table (filling it to push a
 * blocked pair out), and guessing across many names. */
#define ORIGIN_SLOTS 256
#define ORIGIN_FACTOR 20          /* failures per window: max x this */
struct origin_slot {
	bool used;
	unsigned char key[LIMITER_KEY];
	uint64_t start;           /* window start */
	uint32_t n;
};

struct login_limiter {
	uint32_t max;
	uint64_t window_ms;
	uint64_t tick;
	unsigned char hkey[crypto_generichash_KEYBYTES];
	struct limiter_slot slots[LIMITER_SLOTS];
	struct origin_slot origins[ORIGIN_SLOTS];
};

static uint32_t clamp_max(uint32_t max)
{
	if (max < 1)
		return 1;
	return max > LIMITER_MAX_FAILS ? LIMITER_MAX_FAILS : max;
}

struct login_limiter *login_limiter_new(uint32_t max, uint64_t window_ms)
{
	struct login_limiter *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->max = clamp_max(max);
	l->window_ms = window_ms;
	randombytes_buf(l->hkey, sizeof l->hkey);
	return l;
}

static void slot_clear(struct limiter_slot *sl)
{
	free(sl->fails);
	memset(sl, 0, sizeof *sl);
}

/* Keep the newest max failures of every pair. */
static void slot_trim(struct limiter_slot *sl, uint32_t max)
{
	if (sl->n <= max)
		return;
	uint32_t drop = sl->n - max;
	memmove(sl->fails, sl->fails + drop, (size_t)max * sizeof *sl->fails);
	sl->n = max;
}

void login_limiter_set_max(struct login_limiter *l, uint32_t max)
{
	if (!l)
		return;
	l->max = clamp_max(max);
	for (size_t i = 0; i < LIMITER_SLOTS; i++)
		if (l->slots[i].used)
			slot_trim(&l->slots[i], l->max);
}

/* The pair's key: a keyed hash of the case-folded name and the origin, so
 * that names of any length fit a slot and nobody can aim at collisions. */
static void pair_key(const struct login_limiter *l, const char *name,
		     const char *origin, unsigned char key[LIMITER_KEY])
{
	crypto_generichash_state st;
	const char *n = name ? name : "";
	const char *o = origin ? origin : "";

	crypto_generichash_init(&st, l->hkey, sizeof l->hkey, LIMITER_KEY);
	for (const char *p = n; *p; ) {
		unsigned char buf[64];
		size_t k = 0;
		for (; *p && k < sizeof buf; p++, k++) {
			unsigned char c = (unsigned char)*p;
			buf[k] = (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
		}
		crypto_generichash_update(&st, buf, k);
	}
	/* the NUL separates name from origin */
	crypto_generichash_update(&st, (const unsigned char *)"", 1);
	crypto_generichash_update(&st, (const unsigned char *)o, strlen(o));
	crypto_generichash_final(&st, key, LIMITER_KEY);
}

/* The address's slot (created when create); NULL when not found. When the
 * table is full the slot with the oldest window goes. */
static struct origin_slot *origin_find(struct login_limiter *l,
				       const char *origin, uint64_t now_ms,
				       bool create)
{
	unsigned char key[LIMITER_KEY];
	crypto_generichash(key, LIMITER_KEY, (const unsigned char *)
			   (origin ? origin : ""), origin ? strlen(origin) : 0,
			   l->hkey, sizeof l->hkey);
	struct origin_slot *victim = NULL;
	for (size_t i = 0; i < ORIGIN_SLOTS; i++) {
		struct origin_slot *o = &l->origins[i];
		if (o->used && memcmp(o->key, key, LIMITER_KEY) == 0) {
			if (now_ms - o->start >= l->window_ms ||
			    o->start > now_ms) {
				o->start = now_ms;   /* a new window */
				o->n = 0;
			}
			return o;
		}
		if (!victim || !o->used ||
		    (victim->used && o->start < victim->start))
			victim = o;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof *victim);
	victim->used = true;
	memcpy(victim->key, key, LIMITER_KEY);
	victim->start = now_ms;
	return victim;
}

static struct limiter_slot *slot_find(struct login_limiter *l,
				      const unsigned char key[LIMITER_KEY])
{
	for (size_t i = 0; i < LIMITER_SLOTS; i++)
		if (l->slots[i].used &&
		    memcmp(l->slots[i].key, key, LIMITER_KEY) == 0)
			return &l->slots[i];
	return NULL;
}

/* Forget failures that left the window; a pair left with none goes. */
static bool slot_expire(struct login_limiter *l, struct limiter_slot *sl,
			uint64_t now_ms)
{
	uint32_t keep = 0;
	while (keep < sl->n && sl->fails[keep] <= now_ms &&
	       now_ms - sl->fails[keep] >= l->window_ms)
		keep++;
	if (keep == sl->n) {
		slot_clear(sl);
		return false;
	}
	if (keep > 0) {
		memmove(sl->fails, sl->fails + keep,
			(size_t)(sl->n - keep) * sizeof *sl->fails);
		sl->n -= keep;
	}
	return true;
}

uint64_t login_limiter_check(struct login_limiter *l, const char *name,
			     const char *origin, uint64_t now_ms)
{
	if (!l)
		return 0;
	uint64_t wait = 0;
	struct origin_slot *o = origin_find(l, origin, now_ms, false);
	if (o && o->n >= (uint64_t)l->max * ORIGIN_FACTOR)
		wait = o->start + l->window_ms - now_ms;
	unsigned char key[LIMITER_KEY];
	pair_key(l, name, origin, key);
	struct limiter_slot *sl = slot_find(l, key);
	if (!sl || !slot_expire(l, sl, now_ms))
		return wait;
	sl->tick = ++l->tick;
	if (sl->n < l->max)
		return wait;
	uint64_t oldest = sl->fails[sl->n - l->max];
	uint64_t until = oldest + l->window_ms;
	if (until < oldest)             /* overflow: wait the longest */
		return UINT64_MAX;
	uint64_t w = until > now_ms ? until - now_ms : 1;
	return w > wait ? w : wait;
}

void login_limiter_fail(struct login_limiter *l, const char *name,
			const char *origin, uint64_t now_ms)
{
	if (!l)
		return;
	struct origin_slot *o = origin_find(l, origin, now_ms, true);
	if (o->n < UINT32_MAX)
		o->n++;
	unsigned char key[LIMITER_KEY];
	pair_key(l, name, origin, key);
	struct limiter_slot *sl = slot_find(l, key);
	if (sl)
		slot_expire(l, sl, now_ms);
	if (!sl || !sl->used) {
		/* a free slot, else the least recently used one that is not
		 * blocked, else the least recently used one */
		struct limiter_slot *victim = NULL;
		for (size_t i = 0; i < LIMITER_SLOTS; i++) {
			struct limiter_slot *c = &l->slots[i];
			if (!c->used) {
				victim = c;
				break;
			}
			bool c_blocked = c->n >= l->max;
			bool v_blocked = victim && victim->n >= l->max;
			if (!victim || (v_blocked && !c_blocked) ||
			    (v_blocked == c_blocked && c->tick < victim->tick))
				victim = c;
		}
		slot_clear(victim);
		sl = victim;
		sl->used = true;
		memcpy(sl->key, key, LIMITER_KEY);
	}
	sl->tick = ++l->tick;
	if (sl->n >= l->max)
		slot_trim(sl, l->max - 1);
	if (sl->n >= sl->cap) {
		uint32_t cap = sl->cap ? sl->cap * 2 : 8;
		if (cap > l->max)
			cap = l->max;
		if (cap <= sl->n)
			cap = sl->n + 1;
		uint64_t *f = realloc(sl->fails, (size_t)cap * sizeof *f);
		if (!f) {
			/* no memory: drop the oldest to make room */
			if (sl->n == 0)
				return;
			slot_trim(sl, sl->n - 1);
		} else {
			sl->fails = f;
			sl->cap = cap;
		}
	}
	/* times only go forward here: a clock step back counts as now */
	uint64_t t = now_ms;
	if (sl->n > 0 && sl->fails[sl->n - 1] > t)
		t = sl->fails[sl->n - 1];
	sl->fails[sl->n++] = t;
}

void login_limiter_success(struct login_limiter *l, const char *name,
			   const char *origin)
{
	if (!l)
		return;
	unsigned char key[LIMITER_KEY];
	pair_key(l, name, origin, key);
	struct limiter_slot *sl = slot_find(l, key);
	if (sl)
		slot_clear(sl);
}

struct login_limiter *login_limiter_free(struct login_limiter *l)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < LIMITER_SLOTS; i++)
		free(l->slots[i].fails);
	sodium_memzero(l->hkey, sizeof l->hkey);
	free(l);
	return NULL;
}
