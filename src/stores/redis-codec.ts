/**
 * Internal: the compact value format of a session key, and the Lua scripts that read it.
 *
 *   1|version|expiresAt|lastSeenAt|absoluteExpiresAt|createdAt|authTime|rotatedTo|userId\nmeta\ndata
 *
 * `1` is the format version (so a later format can be read side by side). Integers are base36
 * (13-digit epoch ms become 8 chars), authTime/rotatedTo are empty when null, userId, meta and
 * data are JSON. JSON never contains a raw newline, so "\n" splits the tail unambiguously, and Lua
 * can rewrite the header (touch) or read the userId (update/delete) without decoding `data` —
 * `data` is never re-encoded by Lua, so cjson's number and empty-array quirks cannot touch it.
 * A fresh empty session is ~50 bytes of value; MEMORY USAGE ~170 bytes with the default prefix.
 */
import { InvalidInputError, StoreError } from '../errors.js';
import type { SessionRecord } from './types.js';
import { parseData } from '../lib/data-json.js';

const FORMAT = '1';

function int36(n: number, field: string): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidInputError(`session record: ${field} must be a non-negative integer`);
  return n.toString(36);
}

/** base64url ids only: they sit inside the header, so a '|' or newline would corrupt it. */
const ID_RE = /^[A-Za-z0-9_-]+$/;

/** `dataJson`: the data's JSON when the caller has it already (JSON.stringify's text of `r.data`). */
export function encodeRecord(r: SessionRecord, dataJson: string = JSON.stringify(r.data ?? {})): string {
  if (r.rotatedTo != null && !ID_RE.test(r.rotatedTo)) throw new InvalidInputError('session record: rotatedTo must be a session id');
  if (r.userId !== null && typeof r.userId !== 'string') throw new InvalidInputError('session record: userId must be a string or null');
  return (
    FORMAT + '|' +
    int36(r.version, 'version') + '|' +
    int36(r.expiresAt, 'expiresAt') + '|' +
    int36(r.lastSeenAt, 'lastSeenAt') + '|' +
    int36(r.absoluteExpiresAt, 'absoluteExpiresAt') + '|' +
    int36(r.createdAt, 'createdAt') + '|' +
    (r.authTime == null ? '' : int36(r.authTime, 'authTime')) + '|' +
    (r.rotatedTo ?? '') + '|' +
    JSON.stringify(r.userId) + '\n' +
    JSON.stringify(r.meta ?? {}) + '\n' +
    dataJson
  );
}

export function encodeInt(n: number, field: string): string {
  return int36(n, field);
}

export function decodeRecord(id: string, s: string): SessionRecord {
  const f: string[] = [];
  let from = 0;
  for (let i = 0; i < 8; i++) {
    const at = s.indexOf('|', from);
    if (at === -1) throw new StoreError('redis: unreadable session record');
    f.push(s.slice(from, at));
    from = at + 1;
  }
  if (f[0] !== FORMAT) throw new StoreError('redis: unknown session record format');
  const nl1 = s.indexOf('\n', from);
  const nl2 = nl1 === -1 ? -1 : s.indexOf('\n', nl1 + 1);
  if (nl2 === -1) throw new StoreError('redis: unreadable session record');
  try {
    return {
      id,
      userId: JSON.parse(s.slice(from, nl1)) as string | null,
      data: parseData(s.slice(nl2 + 1)),
      version: parseInt(f[1]!, 36),
      createdAt: parseInt(f[5]!, 36),
      lastSeenAt: parseInt(f[3]!, 36),
      authTime: f[6] === '' ? null : parseInt(f[6]!, 36),
      absoluteExpiresAt: parseInt(f[4]!, 36),
      expiresAt: parseInt(f[2]!, 36),
      meta: JSON.parse(s.slice(nl1 + 1, nl2)) as SessionRecord['meta'],
      rotatedTo: f[7] === '' ? null : f[7]!,
    };
  } catch (cause) {
    throw new StoreError('redis: unreadable session record', { cause });
  }
}

/** Parses the header; `u` is the userId (false when null). Shared by the scripts below. */
const HEAD = `
local function head(s)
  local ver, e, l, a, rest = string.match(s, '^1|(%w+)|(%w+)|(%w+)|(%w+)|(.*)$')
  if not ver then return redis.error_reply('ERR sessionward: unreadable record') end
  return ver, e, l, a, rest
end
local function owner(rest)
  local c, at, rot, uj = string.match(rest, '^(%w+)|(%w*)|([%w_%-]*)|([^\\n]*)\\n')
  if not c then return false, false end
  local u = cjson.decode(uj)
  if u == cjson.null then u = false end
  return u, rot ~= ''
end
`;

/**
 * KEYS[1]=session. ARGV: now, lastSeenAt(b36), expiresAt(decimal), expiresAt(b36).
 * SEC-19: never creates, never revives (expiresAt <= now is absent), never passes the absolute end.
 */
export const TOUCH = `${HEAD}
local s = redis.call('GET', KEYS[1])
if not s then return 0 end
local ver, e, l, a, rest = head(s)
if type(ver) == 'table' then return ver end
if tonumber(e, 36) <= tonumber(ARGV[1]) then return 0 end
-- A rotation tombstone is never renewed: its grace window must stay short.
local _, tomb = owner(rest)
if tomb then return 0 end
local ne, ne36 = tonumber(ARGV[3]), ARGV[4]
local an = tonumber(a, 36)
if ne > an then ne = an; ne36 = a end
redis.call('SET', KEYS[1], '1|' .. ver .. '|' .. ne36 .. '|' .. ARGV[2] .. '|' .. a .. '|' .. rest, 'PXAT', string.format('%.0f', ne))
return 1
`;

/**
 * KEYS[1]=session. ARGV: expectedVersion, now, newValue, newExpiresAt(decimal), hasUser ('0'|'1'),
 * userId, absoluteExpiresAt(decimal), indexed ('0'|'1'), pinned ('0'|'1'), atLimit ('0'|'1').
 * Compare-and-set on version; never inserts, never revives. Returns {0} (refused), {1, oldUserId|nil}
 * (written), or {2} when the write would need a user-index entry the caller has not written yet
 * (new owner, or a later absolute end): the caller adds it and retries with indexed='1', so a live
 * session is never missing from its owner's index, while the common update stays one command.
 * A pinned record is written without a TTL (eviction under `volatile-*` cannot reach it; the
 * store's expiry sweep removes it). atLimit='1' is the allow-oom run after Redis refused the write
 * for memory: it writes only a pinned record, a value no longer than the current one, or the one-time
 * turn of a record into a pointer (a logout fence, at most 512 bytes more), and returns {3} otherwise, so a full Redis never grows through it.
 */
export const UPDATE = `${HEAD}
local s = redis.call('GET', KEYS[1])
if not s then return {0} end
local ver, e, l, a, rest = head(s)
if type(ver) == 'table' then return ver end
if tonumber(e, 36) <= tonumber(ARGV[2]) then return {0} end
if tonumber(ver, 36) ~= tonumber(ARGV[1]) then return {0} end
local u = owner(rest)
if ARGV[5] == '1' and ARGV[8] ~= '1' and (u ~= ARGV[6] or tonumber(ARGV[7]) > tonumber(a, 36)) then return {2} end
if ARGV[10] == '1' and ARGV[9] ~= '1' and #ARGV[3] > #s then
  -- Growth at the limit only for the one-time turn into a pointer (a logout fence): bounded.
  local _, _, _, _, nrest = head(ARGV[3])
  local _, ntomb = owner(nrest)
  local _, otomb = owner(rest)
  if not ntomb or otomb or #ARGV[3] > #s + 512 then return {3} end
end
if ARGV[9] == '1' then redis.call('SET', KEYS[1], ARGV[3]) else redis.call('SET', KEYS[1], ARGV[3], 'PXAT', ARGV[4]) end
return {1, u}
`;

/**
 * KEYS[1]=session. ARGV: now, value. Insert of a pinned record (no TTL): like SET NX, except that
 * a pinned record already past its expiresAt (not swept yet) counts as absent. Returns 1 or 0.
 * On standalone Redis also KEYS[2]=expiry sweep, ARGV: expiresAt, member ('s:<id>'): the sweep
 * entry is written in the same step (on a cluster the caller writes it first: another slot).
 */
export const CREATE_PINNED = `${HEAD}
if KEYS[2] then redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[4]) end
local s = redis.call('GET', KEYS[1])
if s then
  local ver, e = head(s)
  if type(ver) == 'table' then return ver end
  if tonumber(e, 36) > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;

/**
 * KEYS[1]=session. ARGV[1]: '' = delete unconditionally; otherwise a userId: delete only if the
 * record belongs to that user or to nobody yet (a login whose index entry was written first, see
 * docs/redis.md). Returns {deleted, oldUserId|nil, isTombstone}.
 */
export const DELETE = `${HEAD}
local s = redis.call('GET', KEYS[1])
if not s then return {0} end
local ver, e, l, a, rest = head(s)
if type(ver) == 'table' then return ver end
local u, tomb = owner(rest)
if ARGV[1] ~= '' and u and u ~= ARGV[1] then return {0, u} end
redis.call('DEL', KEYS[1])
return {1, u, tomb and 1 or 0}
`;

/**
 * KEYS[1]=user index. ARGV: now, score (absoluteExpiresAt), id. Adds the id and prunes entries
 * whose absolute end has passed. The key has no TTL (PERSIST also converts an index written by an
 * older version): eviction must never drop an index while its sessions live (SEC-38). The caller
 * registered it in the expiry sweep first.
 */
export const INDEX_ADD = `
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('PERSIST', KEYS[1])
return 1
`;

/**
 * Standalone Redis only (every key on one node): a signed-in create in one step.
 * KEYS[1]=session, KEYS[2]=user index, KEYS[3]=expiry sweep. ARGV: now, absoluteExpiresAt, id,
 * index member of the sweep ('u:<userId>'), value, expiresAt. What create does in three commands
 * on a cluster (sweep entry, then index entry, then SET NX PXAT; SEC-38), atomically: the index
 * entry and its sweep registration exist before (here: with) the session. Returns 1, or 0 when a
 * live record holds the id (its index entry stays, as after a failed SET NX: readers filter it).
 */
export const CREATE_INDEXED = `
redis.call('ZADD', KEYS[3], 'GT', ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
redis.call('PERSIST', KEYS[2])
if redis.call('SET', KEYS[1], ARGV[5], 'NX', 'PXAT', ARGV[6]) then return 1 end
return 0
`;

/**
 * KEYS[1]=user index. ARGV: now, budget. Removes at most `budget` entries whose absolute end has
 * passed (score <= now). Those are the lowest ranks, so ZREMRANGEBYRANK removes exactly them; the
 * count and the removal share one script so a concurrent prune cannot shift the ranks in between.
 * Returns {removed, expiredLeft}.
 */
export const INDEX_PRUNE = `
local n = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[1])
local take = math.min(n, tonumber(ARGV[2]))
if take > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, take - 1) end
return {take, n - take}
`;

/** KEYS[1]=user index. ARGV: ids. Removes them; Redis deletes a sorted set when its last member goes. */
export const INDEX_REMOVE = `
return redis.call('ZREM', KEYS[1], unpack(ARGV))
`;

/**
 * A session key whose index entry cleanup removes: an expired record, written only where no key
 * exists (`SET NX PXAT`), so a login still in flight (index entry written, SET NX not yet) fails instead
 * of landing outside its owner's index. Every reader sees an expired record, i.e. nothing.
 */
export const CLEANUP_FENCE_VALUE = '1|1|0|0|0|0|||null\n{}\n{}';

/** KEYS[1]=expiry sweep. ARGV: score, member. Registers a pinned key (GT: never earlier). */
export const SWEEP_ADD = `
redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[2])
return 1
`;

/**
 * KEYS[1]=pinned record. ARGV: now. Deletes it if it is past its expiresAt; returns 1 when the
 * sweep entry can go (deleted, missing, or no longer pinned: it has a TTL again), or {0, expiresAt}.
 */
export const SWEEP_RECORD = `${HEAD}
local s = redis.call('GET', KEYS[1])
if not s then return 1 end
if redis.call('PTTL', KEYS[1]) >= 0 then return 1 end
local ver, e = head(s)
if type(ver) == 'table' then return 1 end
local ex = tonumber(e, 36)
if ex <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return {0, string.format('%.0f', ex)}
`;

/**
 * KEYS[1]=user index. ARGV: now. Drops entries whose absolute end has passed; returns 1 when the
 * set is gone (or is not pinned), or {0, highest score} when entries remain.
 */
export const SWEEP_INDEX = `
if redis.call('PTTL', KEYS[1]) >= 0 then return 1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if not top[2] then return 1 end
return {0, top[2]}
`;

/**
 * KEYS[1]=expiry sweep. ARGV: now, members. Removes those members still scored <= now: a member a
 * writer re-registered meanwhile (a later score) stays.
 */
export const SWEEP_DROP = `
local n = 0
for i = 2, #ARGV do
  local sc = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if sc and tonumber(sc) <= tonumber(ARGV[1]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`;

/**
 * KEYS[1]=session. ARGV: now, expiresAt(decimal), expiresAt(b36), lastSeenAt(b36), baseVersion or
 * '', baseValue or '', nExpect, nExpect × (key JSON, value JSON or '' for absent), nSet, nSet ×
 * (key JSON, value JSON), then the keys (JSON) to delete. baseValue is the caller's record with the
 * patch applied (PatchOptions.base): written as is, returning 1, when the stored version is still
 * baseVersion — the uncontended write costs what UPDATE costs; otherwise the merge below runs. `SessionStore.patch`: applies per-key changes to `data` in one step and
 * returns the record as written, or false (nil) when nothing was written: absent, expired, a
 * rotation pointer, pinned (no TTL: revocation state changes by UPDATE only), an expectation not
 * met, or data this scanner cannot split (the caller then falls back to GET + UPDATE).
 *
 * `data` is never decoded: the scanner splits the top-level object JSON.stringify wrote into
 * key and value *texts* (skipping strings and nesting), so keys compare as their JSON text and
 * values are copied byte for byte — cjson's number and empty-array quirks cannot touch them.
 */
export const PATCH = `${HEAD}
local function str_end(s, i)
  local j = i + 1
  while true do
    local q = string.find(s, '["\\\\]', j)
    if not q then return nil end
    if string.byte(s, q) == 34 then return q end
    j = q + 2
  end
end
local function val_end(s, i)
  local c = string.byte(s, i)
  if c == 34 then return str_end(s, i) end
  if c == 123 or c == 91 then
    local depth, j = 0, i
    while true do
      local q = string.find(s, '["{}%[%]]', j)
      if not q then return nil end
      local b = string.byte(s, q)
      if b == 34 then
        q = str_end(s, q)
        if not q then return nil end
      elseif b == 123 or b == 91 then depth = depth + 1
      else
        depth = depth - 1
        if depth == 0 then return q end
      end
      j = q + 1
    end
  end
  local q = string.find(s, '[,}%]]', i)
  if not q or q == i then return nil end
  return q - 1
end
local function b36(n)
  local d, out = '0123456789abcdefghijklmnopqrstuvwxyz', ''
  repeat
    local r = n % 36
    out = string.sub(d, r + 1, r + 1) .. out
    n = (n - r) / 36
  until n == 0
  return out
end
local s = redis.call('GET', KEYS[1])
if not s then return false end
if redis.call('PTTL', KEYS[1]) < 0 then return false end
local ver, e, l, a, rest = head(s)
if type(ver) == 'table' then return ver end
if tonumber(e, 36) <= tonumber(ARGV[1]) then return false end
local c, at, rot, tail = string.match(rest, '^(%w+)|(%w*)|([%w_%-]*)|(.*)$')
if not c or rot ~= '' then return false end
if ARGV[5] ~= '' and tonumber(ver, 36) == tonumber(ARGV[5]) then
  local ne, an = tonumber(ARGV[2]), tonumber(a, 36)
  if ne > an then ne = an end
  redis.call('SET', KEYS[1], ARGV[6], 'PXAT', string.format('%.0f', ne))
  return 1
end
local nl1 = string.find(tail, '\\n', 1, true)
local nl2 = nl1 and string.find(tail, '\\n', nl1 + 1, true)
if not nl2 then return false end
local data = string.sub(tail, nl2 + 1)
local order, vals = {}, {}
if string.byte(data, 1) ~= 123 then return false end
local i = 2
if string.byte(data, 2) ~= 125 then
  while true do
    if string.byte(data, i) ~= 34 then return false end
    local ke = str_end(data, i)
    if not ke or string.byte(data, ke + 1) ~= 58 then return false end
    local ve = val_end(data, ke + 2)
    if not ve then return false end
    local k = string.sub(data, i, ke)
    order[#order + 1] = k
    vals[k] = string.sub(data, ke + 2, ve)
    local nx = string.byte(data, ve + 1)
    if nx == 125 then
      if ve + 1 ~= #data then return false end
      break
    end
    if nx ~= 44 then return false end
    i = ve + 2
  end
end
local p = 8
for _ = 1, tonumber(ARGV[7]) do
  if (vals[ARGV[p]] or '') ~= ARGV[p + 1] then return false end
  p = p + 2
end
local nset = tonumber(ARGV[p])
p = p + 1
for _ = 1, nset do
  local k = ARGV[p]
  if vals[k] == nil then order[#order + 1] = k end
  vals[k] = ARGV[p + 1]
  p = p + 2
end
for j = p, #ARGV do vals[ARGV[j]] = nil end
local parts = {}
for _, k in ipairs(order) do
  local v = vals[k]
  if v ~= nil then
    parts[#parts + 1] = k .. ':' .. v
    vals[k] = nil
  end
end
local ne, ne36 = tonumber(ARGV[2]), ARGV[3]
local an = tonumber(a, 36)
if ne > an then ne = an; ne36 = a end
local value = '1|' .. b36(tonumber(ver, 36) + 1) .. '|' .. ne36 .. '|' .. ARGV[4] .. '|' .. a .. '|' .. c .. '|' .. at .. '||' ..
  string.sub(tail, 1, nl2) .. '{' .. table.concat(parts, ',') .. '}'
redis.call('SET', KEYS[1], value, 'PXAT', string.format('%.0f', ne))
return value
`;
