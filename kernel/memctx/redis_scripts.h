/*
 * The Lua scripts of the Redis backend: each change to the store is one
 * script, so Redis runs it atomically (concurrent writers get distinct
 * versions; a compare-and-set sees no change between its check and its
 * write) and a refusal changes nothing. Only redis_backend.c includes it.
 *
 * Key layout (every name and key is [A-Za-z0-9_.-/], so ':' never appears
 * inside one):
 *   cam:ctx:bytes                    string  bytes of every kept value and snapshot
 *   cam:ctx:ns:<ns>                  hash    seq (last version handed out), bytes
 *   cam:ctx:ns:<ns>:keys             hash    key -> latest version
 *   cam:ctx:ns:<ns>:k:<key>          hash    <version> -> value;
 *                                            list -> "ver:unix_ms:size;..." oldest first
 *   cam:ctx:ns:<ns>:snaps            set     ids of the namespace's snapshots
 *   cam:ctx:snap:<id>                hash    ns, bytes, keys, created_ms
 *   cam:ctx:snap:<id>:keys           hash    copy of cam:ctx:ns:<ns>:keys
 *   cam:ctx:snap:<id>:k:<key>        hash    copy of cam:ctx:ns:<ns>:k:<key>
 * The scripts touch keys they compute and the global byte counter, so the
 * layout is for a single Redis (or a primary with replicas), not Cluster.
 * Script replies are arrays whose first element is a status: 1 done,
 * 0 not found, -1 compare-and-set lost, -2 count limit, -3 byte limit.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_MEMCTX_REDIS_SCRIPTS_H
#define CAM_MEMCTX_REDIS_SCRIPTS_H

/* KEYS: ns hash, ns keys, key hash, cam:ctx:bytes.
 * ARGV: key, value, expected (-1 any), keep, max keys, max total, now ms.
 * Reply: {1, version, total} | {-1, latest} | {-2} | {-3, total}. */
static const char SCRIPT_WRITE[] =
	"local latest = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')\n"
	"local expected = tonumber(ARGV[3])\n"
	"if expected >= 0 and latest ~= expected then return {-1, latest} end\n"
	"if latest == 0 and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then return {-2} end\n"
	"local ents = {}\n"
	"for e in string.gmatch(redis.call('HGET', KEYS[3], 'list') or '', '[^;]+') do ents[#ents + 1] = e end\n"
	"local drop = #ents + 1 - tonumber(ARGV[4])\n"
	"local freed = 0\n"
	"for i = 1, drop do freed = freed + tonumber(string.match(ents[i], ':(%d+)$')) end\n"
	"local len = string.len(ARGV[2])\n"
	"local total = tonumber(redis.call('GET', KEYS[4]) or '0')\n"
	"if total + len - freed > tonumber(ARGV[6]) then return {-3, total} end\n"
	"local ver = redis.call('HINCRBY', KEYS[1], 'seq', 1)\n"
	"local kept = {}\n"
	"for i = 1, #ents do\n"
	"  if i <= drop then redis.call('HDEL', KEYS[3], string.match(ents[i], '^(%d+)'))\n"
	"  else kept[#kept + 1] = ents[i] end\n"
	"end\n"
	"kept[#kept + 1] = ver .. ':' .. ARGV[7] .. ':' .. len\n"
	"redis.call('HSET', KEYS[3], tostring(ver), ARGV[2], 'list', table.concat(kept, ';'))\n"
	"redis.call('HSET', KEYS[2], ARGV[1], ver)\n"
	"redis.call('HINCRBY', KEYS[1], 'bytes', len - freed)\n"
	"return {1, ver, redis.call('INCRBY', KEYS[4], len - freed)}\n";

/* KEYS: ns keys, key hash. ARGV: key, version ("0": latest).
 * Reply: {1, version, unix_ms, value} | {0} no key | {-1, list} no such version. */
static const char SCRIPT_READ[] =
	"local ver = ARGV[2]\n"
	"if ver == '0' then\n"
	"  ver = redis.call('HGET', KEYS[1], ARGV[1])\n"
	"  if not ver then return {0} end\n"
	"end\n"
	"local r = redis.call('HMGET', KEYS[2], ver, 'list')\n"
	"if not r[2] then return {0} end\n"
	"if not r[1] then return {-1, r[2]} end\n"
	"local ms = string.match(';' .. r[2] .. ';', ';' .. ver .. ':(%d+):%d+;')\n"
	"return {1, ver, ms or '0', r[1]}\n";

/* KEYS: ns hash, ns keys, cam:ctx:bytes. ARGV: key prefix
 * ("cam:ctx:ns:<ns>:k:"), key or "" for every key.
 * Reply: {versions removed, total} (0 versions: nothing there). */
static const char SCRIPT_DELETE[] =
	"local names = {ARGV[2]}\n"
	"if ARGV[2] == '' then names = redis.call('HKEYS', KEYS[2]) end\n"
	"local n, bytes = 0, 0\n"
	"for _, k in ipairs(names) do\n"
	"  local list = redis.call('HGET', ARGV[1] .. k, 'list')\n"
	"  if list then\n"
	"    for s in string.gmatch(list, '%d+:%d+:(%d+)') do n = n + 1; bytes = bytes + tonumber(s) end\n"
	"    redis.call('DEL', ARGV[1] .. k)\n"
	"    redis.call('HDEL', KEYS[2], k)\n"
	"  end\n"
	"end\n"
	"if n == 0 then return {0, 0} end\n"
	"redis.call('HINCRBY', KEYS[1], 'bytes', -bytes)\n"
	"return {n, redis.call('INCRBY', KEYS[3], -bytes)}\n";

/* KEYS: ns hash, ns keys, ns snaps, cam:ctx:bytes, snapshot hash.
 * ARGV: key prefix, snapshot prefix ("cam:ctx:snap:<id>"), max snapshots,
 * max total, now ms, ns, id.
 * Reply: {1, keys, total} | {0} | {-2} | {-3, total} | {-4} id taken. */
static const char SCRIPT_SNAPSHOT[] =
	"local names = redis.call('HKEYS', KEYS[2])\n"
	"if #names == 0 then return {0} end\n"
	"if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[3]) then return {-2} end\n"
	"local bytes = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')\n"
	"local total = tonumber(redis.call('GET', KEYS[4]) or '0')\n"
	"if total + bytes > tonumber(ARGV[4]) then return {-3, total} end\n"
	"if redis.call('EXISTS', KEYS[5]) == 1 then return {-4} end\n"
	"for _, k in ipairs(names) do redis.call('COPY', ARGV[1] .. k, ARGV[2] .. ':k:' .. k) end\n"
	"redis.call('COPY', KEYS[2], ARGV[2] .. ':keys')\n"
	"redis.call('HSET', KEYS[5], 'ns', ARGV[6], 'bytes', bytes, 'keys', #names, 'created_ms', ARGV[5])\n"
	"redis.call('SADD', KEYS[3], ARGV[7])\n"
	"return {1, #names, redis.call('INCRBY', KEYS[4], bytes)}\n";

/* KEYS: snapshot hash, cam:ctx:bytes. ARGV: snapshot prefix, max total.
 * Reply: {1, ns, keys, total} | {0} | {-3, total}. */
static const char SCRIPT_RESTORE[] =
	"local meta = redis.call('HMGET', KEYS[1], 'ns', 'bytes')\n"
	"if not meta[1] then return {0} end\n"
	"local p = 'cam:ctx:ns:' .. meta[1]\n"
	"local cur = tonumber(redis.call('HGET', p, 'bytes') or '0')\n"
	"local sbytes = tonumber(meta[2])\n"
	"local total = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
	"if total - cur + sbytes > tonumber(ARGV[2]) then return {-3, total} end\n"
	"for _, k in ipairs(redis.call('HKEYS', p .. ':keys')) do redis.call('DEL', p .. ':k:' .. k) end\n"
	"local names = redis.call('HKEYS', ARGV[1] .. ':keys')\n"
	"for _, k in ipairs(names) do redis.call('COPY', ARGV[1] .. ':k:' .. k, p .. ':k:' .. k, 'REPLACE') end\n"
	"redis.call('COPY', ARGV[1] .. ':keys', p .. ':keys', 'REPLACE')\n"
	"redis.call('HSET', p, 'bytes', sbytes)\n"
	"return {1, meta[1], #names, redis.call('INCRBY', KEYS[2], sbytes - cur)}\n";

/* KEYS: snapshot hash, cam:ctx:bytes. ARGV: snapshot prefix, id.
 * Reply: {1, total} | {0}. */
static const char SCRIPT_SNAPSHOT_DELETE[] =
	"local meta = redis.call('HMGET', KEYS[1], 'ns', 'bytes')\n"
	"if not meta[1] then return {0} end\n"
	"for _, k in ipairs(redis.call('HKEYS', ARGV[1] .. ':keys')) do redis.call('DEL', ARGV[1] .. ':k:' .. k) end\n"
	"redis.call('DEL', ARGV[1] .. ':keys', KEYS[1])\n"
	"redis.call('SREM', 'cam:ctx:ns:' .. meta[1] .. ':snaps', ARGV[2])\n"
	"return {1, redis.call('INCRBY', KEYS[2], -tonumber(meta[2]))}\n";

#endif
