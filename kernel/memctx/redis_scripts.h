/*
 * The Lua scripts of the Redis backend, key layout v2: each change is one
 * script, so Redis runs it atomically (concurrent writers get distinct
 * versions; a compare-and-set sees no change between its check and its
 * write) and a refusal changes nothing. Only redis_ops.c includes it.
 *
 * Key layout v2. Every name and key is [A-Za-z0-9_.-/], so ':' '{' '}'
 * never appear inside one. Every key a script touches is one of its KEYS
 * and all of them share one hash slot, so each script runs on one node of
 * a Redis Cluster (and is served, refused or redirected whole while that
 * slot migrates):
 *   cam:v2:{<ns>}                 hash    seq (last version handed out), bytes
 *                                         (kept versions), sbytes (its snapshots)
 *   cam:v2:{<ns>}:idx             hash    key -> "ver:unix_ms:size;..." newest first
 *   cam:v2:{<ns>}:val             hash    "<key>:<ver>" -> value
 *   cam:v2:{<ns>}:snaps           set     ids of the namespace's snapshots
 *   cam:v2:{<t>}:used             string  "<bytes>:<gen>": bytes held by every
 *                                         namespace and snapshot of slot(t), and
 *                                         the count of changes made in it
 *   cam:v2:{<t>}:snap:<id>        hash    ns, bytes, keys, created_ms
 *   cam:v2:{<t>}:snap:<id>:idx    hash    copy of the namespace's idx
 *   cam:v2:{<t>}:snap:<id>:val    hash    copy of the namespace's val
 *   cam:v2:owner:{<owner>}        hash    <ns> -> "<bytes>:<gen>" of each namespace
 *                                         of the owner; ":total" -> their sum
 * where <t> is the slot tag (redis_cluster.h) of the namespace's slot, and
 * a snapshot id's first four hex digits are that slot, so an id alone
 * names its keys. There is no key every script touches: the kernel sums
 * the 16384 "used" counters (redis_health.c), so the byte limit holds
 * store-wide within what other kernels wrote since the last sum, and
 * exactly within a slot. Owner counters are kept only with a per-owner
 * quota: in the script on a single Redis (exact), after it in a cluster
 * (where the owner's key is in another slot; redis_ops.c).
 *
 * Script replies are arrays whose first element is a status: 1 done,
 * 0 not found, -1 compare-and-set lost, -2 count limit, -3 byte limit,
 * -4 id taken, -5 owner quota, -6 the snapshot is another namespace's.
 * Changes reply the slot's "used" bytes and gen, and (with a quota) the
 * namespace's bytes, for the kernel's counts.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_MEMCTX_REDIS_SCRIPTS_H
#define CAM_MEMCTX_REDIS_SCRIPTS_H

/* The slot's byte counter: KU (a KEYS index) read into ub, ug. */
#define LUA_USED_GET(KU)                                                       \
	"local ub, ug = 0, 0\n"                                                \
	"local u = redis.call('GET', KEYS[" KU "])\n"                          \
	"if u then\n"                                                          \
	"  local b, g = string.match(u, '^(%d+):(%d+)$')\n"                    \
	"  ub, ug = tonumber(b), tonumber(g)\n"                                \
	"end\n"

/* The owner's bytes: from its key (KO, single Redis) or the kernel's
 * estimate (ARGV AO, cluster), when there is a quota (ARGV AQ). */
#define LUA_OWNER_CHECK(KO, AQ, AO, DELTA)                                     \
	"local quota = tonumber(ARGV[" AQ "])\n"                               \
	"if quota > 0 and " DELTA " > 0 then\n"                                \
	"  local ou = tonumber(ARGV[" AO "])\n"                                \
	"  if KEYS[" KO "] then ou = tonumber(redis.call('HGET', KEYS[" KO "], ':total') or '0') end\n" \
	"  if ou + " DELTA " > quota then return {-5, ou, " DELTA "} end\n"    \
	"end\n"

/* After a change of DELTA bytes of kept versions and SDELTA of snapshots:
 * the namespace (KN) and slot (KU) counters; with a quota (ARGV AQ) nt is
 * the namespace's bytes, and with the owner's key (KO) its count of
 * namespace NS is kept. ug, the slot's count of changes, orders the
 * namespace's counts too. */
#define LUA_ACCOUNT(KN, KU, KO, AQ, NS, DELTA, SDELTA)                         \
	"local nb = redis.call('HINCRBY', KEYS[" KN "], 'bytes', " DELTA ")\n" \
	"local ns_sb = 0\n"                                                    \
	"if " SDELTA " ~= 0 then ns_sb = redis.call('HINCRBY', KEYS[" KN "], 'sbytes', " SDELTA ")\n" \
	"elseif tonumber(ARGV[" AQ "]) > 0 then ns_sb = tonumber(redis.call('HGET', KEYS[" KN "], 'sbytes') or '0') end\n" \
	"ub = ub + " DELTA " + " SDELTA "\n"                                   \
	"ug = ug + 1\n"                                                        \
	"redis.call('SET', KEYS[" KU "], string.format('%d:%d', ub, ug))\n"    \
	"local nt = nb + ns_sb\n"                                              \
	"if KEYS[" KO "] then\n"                                               \
	"  local old = redis.call('HGET', KEYS[" KO "], " NS ")\n"             \
	"  local ob = old and tonumber(string.match(old, '^(%d+)')) or 0\n"    \
	"  if nt == 0 then redis.call('HDEL', KEYS[" KO "], " NS ")\n"          \
	"  else redis.call('HSET', KEYS[" KO "], " NS ", string.format('%d:%d', nt, ug)) end\n" \
	"  redis.call('HINCRBY', KEYS[" KO "], ':total', nt - ob)\n"           \
	"end\n"

/* KEYS: ns hash, idx, val, used, [owner]. ARGV: key, value, expected (-1
 * any), keep, max keys, slot room (bytes the slot may hold), now ms, ns,
 * quota (0 none), owner estimate.
 * Reply: {1, version, used, ugen, nsbytes} | {-1, latest} | {-2} |
 * {-3, used, ugen} | {-5, owner bytes, needed}. */
static const char SCRIPT_WRITE[] =
	"local list = redis.call('HGET', KEYS[2], ARGV[1])\n"
	"local ents, latest = {}, 0\n"
	"if list then\n"
	"  for e in string.gmatch(list, '[^;]+') do ents[#ents + 1] = e end\n"
	"  latest = tonumber(string.match(ents[1], '^(%d+)'))\n"
	"end\n"
	"local expected = tonumber(ARGV[3])\n"
	"if expected >= 0 and latest ~= expected then return {-1, latest} end\n"
	"if not list and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then return {-2} end\n"
	"local keep = tonumber(ARGV[4])\n"
	"local freed = 0\n"
	"for i = keep, #ents do freed = freed + tonumber(string.match(ents[i], ':(%d+)$')) end\n"
	"local len = string.len(ARGV[2])\n"
	"local delta = len - freed\n"
	LUA_USED_GET("4")
	"if ub + delta > tonumber(ARGV[6]) then return {-3, ub, ug} end\n"
	LUA_OWNER_CHECK("5", "9", "10", "delta")
	"local ver = redis.call('HINCRBY', KEYS[1], 'seq', 1)\n"
	"local kept = {string.format('%d:%s:%d', ver, ARGV[7], len)}\n"
	"for i = 1, #ents do\n"
	"  if i >= keep then redis.call('HDEL', KEYS[3], ARGV[1] .. ':' .. string.match(ents[i], '^(%d+)'))\n"
	"  else kept[i + 1] = ents[i] end\n"
	"end\n"
	"redis.call('HSET', KEYS[3], string.format('%s:%d', ARGV[1], ver), ARGV[2])\n"
	"redis.call('HSET', KEYS[2], ARGV[1], table.concat(kept, ';'))\n"
	LUA_ACCOUNT("1", "4", "5", "9", "ARGV[8]", "delta", "0")
	"return {1, ver, ub, ug, nt}\n";

/* KEYS: idx, val. ARGV: key, version ("0": latest).
 * Reply: {1, version, unix_ms, value} | {0} no key | {-1} no such version. */
static const char SCRIPT_READ[] =
	"local list = redis.call('HGET', KEYS[1], ARGV[1])\n"
	"if not list then return {0} end\n"
	"local ver, ms = ARGV[2], nil\n"
	"if ver == '0' then ver, ms = string.match(list, '^(%d+):(%d+):')\n"
	"else ms = string.match(';' .. list, ';' .. ver .. ':(%d+):') end\n"
	"if not ms then return {-1} end\n"
	"local v = redis.call('HGET', KEYS[2], ARGV[1] .. ':' .. ver)\n"
	"if not v then return {-1} end\n"
	"return {1, ver, ms, v}\n";

/* KEYS: ns hash, idx, val, used, [owner]. ARGV: key or "" for every key,
 * ns, quota.
 * Reply: {versions removed, used, ugen, nsbytes} (0 removed: nothing there). */
static const char SCRIPT_DELETE[] =
	"local removed, bytes = 0, 0\n"
	"if ARGV[1] ~= '' then\n"
	"  local list = redis.call('HGET', KEYS[2], ARGV[1])\n"
	"  if not list then return {0} end\n"
	"  for v, s in string.gmatch(list, '(%d+):%d+:(%d+)') do\n"
	"    removed = removed + 1; bytes = bytes + tonumber(s)\n"
	"    redis.call('HDEL', KEYS[3], ARGV[1] .. ':' .. v)\n"
	"  end\n"
	"  redis.call('HDEL', KEYS[2], ARGV[1])\n"
	"else\n"
	"  for _, list in ipairs(redis.call('HVALS', KEYS[2])) do\n"
	"    for s in string.gmatch(list, '%d+:%d+:(%d+)') do removed = removed + 1; bytes = bytes + tonumber(s) end\n"
	"  end\n"
	"  if removed == 0 then return {0} end\n"
	"  redis.call('DEL', KEYS[2], KEYS[3])\n"
	"end\n"
	LUA_USED_GET("4")
	LUA_ACCOUNT("1", "4", "5", "3", "ARGV[2]", "-bytes", "0")
	"return {removed, ub, ug, nt}\n";

/* KEYS: ns hash, idx, val, snaps, used, snapshot hash, its idx, its val,
 * [owner]. ARGV: max snapshots, slot room, now ms, ns, id, quota, owner
 * estimate.
 * Reply: {1, keys, used, ugen, nsbytes} | {0} | {-2} | {-3, used, ugen}
 * | {-4} | {-5, owner bytes, needed}. */
static const char SCRIPT_SNAPSHOT[] =
	"local nkeys = redis.call('HLEN', KEYS[2])\n"
	"if nkeys == 0 then return {0} end\n"
	"if redis.call('SCARD', KEYS[4]) >= tonumber(ARGV[1]) then return {-2} end\n"
	"local bytes = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')\n"
	LUA_USED_GET("5")
	"if ub + bytes > tonumber(ARGV[2]) then return {-3, ub, ug} end\n"
	LUA_OWNER_CHECK("9", "6", "7", "bytes")
	"if redis.call('EXISTS', KEYS[6]) == 1 then return {-4} end\n"
	"redis.call('COPY', KEYS[2], KEYS[7])\n"
	"redis.call('COPY', KEYS[3], KEYS[8])\n"
	"redis.call('HSET', KEYS[6], 'ns', ARGV[4], 'bytes', string.format('%d', bytes), 'keys', nkeys, 'created_ms', ARGV[3])\n"
	"redis.call('SADD', KEYS[4], ARGV[5])\n"
	LUA_ACCOUNT("1", "5", "9", "6", "ARGV[4]", "0", "bytes")
	"return {1, nkeys, ub, ug, nt}\n";

/* KEYS: as SCRIPT_SNAPSHOT. ARGV: slot room, ns (as the snapshot's hash
 * said), quota, owner estimate.
 * Reply: {1, keys, used, ugen, nsbytes} | {0} | {-3, used, ugen} |
 * {-5, owner bytes, needed} | {-6}. */
static const char SCRIPT_RESTORE[] =
	"local meta = redis.call('HMGET', KEYS[6], 'ns', 'bytes')\n"
	"if not meta[1] then return {0} end\n"
	"if meta[1] ~= ARGV[2] then return {-6} end\n"
	"local sb = tonumber(meta[2])\n"
	"local cur = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')\n"
	"local delta = sb - cur\n"
	LUA_USED_GET("5")
	"if ub + delta > tonumber(ARGV[1]) then return {-3, ub, ug} end\n"
	LUA_OWNER_CHECK("9", "3", "4", "delta")
	"redis.call('DEL', KEYS[2], KEYS[3])\n"
	"redis.call('COPY', KEYS[7], KEYS[2])\n"
	"redis.call('COPY', KEYS[8], KEYS[3])\n"
	LUA_ACCOUNT("1", "5", "9", "3", "ARGV[2]", "delta", "0")
	"return {1, redis.call('HLEN', KEYS[2]), ub, ug, nt}\n";

/* KEYS: as SCRIPT_SNAPSHOT. ARGV: ns (as the snapshot's hash said), id,
 * quota. Reply: {1, used, ugen, nsbytes} | {0} | {-6}. */
static const char SCRIPT_SNAPSHOT_DELETE[] =
	"local meta = redis.call('HMGET', KEYS[6], 'ns', 'bytes')\n"
	"if not meta[1] then return {0} end\n"
	"if meta[1] ~= ARGV[1] then return {-6} end\n"
	"local sb = tonumber(meta[2])\n"
	"redis.call('DEL', KEYS[6], KEYS[7], KEYS[8])\n"
	"redis.call('SREM', KEYS[4], ARGV[2])\n"
	LUA_USED_GET("5")
	LUA_ACCOUNT("1", "5", "9", "3", "ARGV[1]", "0", "-sb")
	"return {1, ub, ug, nt}\n";

/* A cluster's owner count, kept after each change (the owner's key is in
 * another slot than the namespace). KEYS: owner hash. ARGV: ns, its bytes,
 * its gen ("0": only read). A count older than the one kept is ignored,
 * so the kept one is the namespace's latest. Reply: {owner total}. */
static const char SCRIPT_OWNER[] =
	"if ARGV[3] ~= '0' then\n"
	"  local old = redis.call('HGET', KEYS[1], ARGV[1])\n"
	"  local ob, og = 0, 0\n"
	"  if old then\n"
	"    local b, g = string.match(old, '^(%d+):(%d+)$')\n"
	"    ob, og = tonumber(b), tonumber(g)\n"
	"  end\n"
	"  local nt, gen = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
	"  if gen > og then\n"
	"    if nt == 0 then redis.call('HDEL', KEYS[1], ARGV[1])\n"
	"    else redis.call('HSET', KEYS[1], ARGV[1], string.format('%d:%d', nt, gen)) end\n"
	"    redis.call('HINCRBY', KEYS[1], ':total', nt - ob)\n"
	"  end\n"
	"end\n"
	"return {tonumber(redis.call('HGET', KEYS[1], ':total') or '0')}\n";

#endif
