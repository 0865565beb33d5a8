"""The Lua scripts of the Redis checkpointers and the EVALSHA commands that run them.

Each script touches exactly the two keys of one thread, declared in KEYS, so it is valid in
Redis Cluster (see the key layout in :mod:`lmsa.checkpoint.redis`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

_LUA_COMMON = r"""
local function nstrings(s)
  local out, pos, n = {}, 1, #s
  while pos <= n do
    local colon = string.find(s, ':', pos, true)
    local len = tonumber(string.sub(s, pos, colon - 1))
    out[#out + 1] = string.sub(s, colon + 1, colon + len)
    pos = colon + len + 1
  end
  return out
end
local function chunked(cmd, key, items, step)
  for i = 1, #items, step do
    redis.call(cmd, key, unpack(items, i, math.min(i + step - 1, #items)))
  end
end
local function hmget(key, fields)
  local out = {}
  for i = 1, #fields, 500 do
    local part = redis.call('HMGET', key, unpack(fields, i, math.min(i + 499, #fields)))
    for j = 1, #part do out[#out + 1] = part[j] end
  end
  return out
end
local function prefixed(idx, p)
  return redis.call('ZRANGEBYLEX', idx, '[' .. p, '(' .. p .. '\255')
end
-- A list blob ("9:lmsa.list" + leaf fields) holds a large list channel value by reference:
-- each leaf holds the fields of up to LEAF elements, and unchanged leaves and elements are
-- shared by every version of the list that contains them.
local function leaves_of(v)
  if v and string.sub(v, 1, 11) == '9:lmsa.list' then return nstrings(string.sub(v, 12)) end
  return nil
end
-- A header: run id, then (channel, x) pairs.  A NUL before the channel marks a blob that this
-- checkpoint created.  x is the channel's version v (blob field b\0ns\0channel\0v), or v, NUL
-- and the version of an equal older blob of the channel that this one shares, or (older data)
-- the field itself.  Returns the run id and {created, channel, field, x} per channel.
local function entries(ns, header)
  local parts = nstrings(header)
  local out = {}
  for j = 2, #parts - 1, 2 do
    local ch, x = parts[j], parts[j + 1]
    local raw = x
    local created = string.sub(ch, 1, 1) == '\0'
    if created then ch = string.sub(ch, 2) end
    local f
    if string.sub(x, 1, 2) == 'b\0' then
      f = x
    else
      local nul = string.find(x, '\0', 1, true)
      if nul then x = string.sub(x, nul + 1) end
      f = 'b\0' .. ns .. '\0' .. ch .. '\0' .. x
    end
    -- raw: the entry as stored; for a shared blob "version \0 blob's version"
    out[#out + 1] = {created, ch, f, x, raw}
  end
  return parts[1], out
end
local function ns_of(m)
  return string.sub(m, 1, string.find(m, '\0', 1, true) - 1)
end
-- The first netstring of s and the offset of its last byte.
local function first(s)
  local colon = string.find(s, ':', 1, true)
  local len = tonumber(string.sub(s, 1, colon - 1))
  return string.sub(s, colon + 1, colon + len), colon + len
end
-- The version that created a leaf or element field: l|e \0 ns \0 version \0 channel \0 n
local function token_of(f)
  local a = string.find(f, '\0', 3, true)
  local b = string.find(f, '\0', a + 1, true)
  return string.sub(f, a + 1, b - 1)
end
"""

# KEYS: idx, data.  ARGV: ttl, ns\0cid, run_id, payload, header, n, n fields that must
# exist (shared leaves and elements), k, k keeper members, (field, value)*.  Returns 0 without
# writing when a field that must exist is gone (the writer's cache is stale), else 1.
_PUT_LUA = (
    _LUA_COMMON
    + r"""
local idx, data = KEYS[1], KEYS[2]
local ti = redis.call('TYPE', idx)['ok']
local td = redis.call('TYPE', data)['ok']
if (ti ~= 'zset' and ti ~= 'none') or (td ~= 'hash' and td ~= 'none') then
  return redis.error_reply('WRONGTYPE checkpoint keys of this thread hold foreign data')
end
local m, run = ARGV[2], ARGV[3]
local n_exist = tonumber(ARGV[6])
for i = 7, 6 + n_exist do
  if redis.call('HEXISTS', data, ARGV[i]) == 0 then return 0 end
end
local at = 7 + n_exist
local n_keep = tonumber(ARGV[at])
local keepers = {}
for i = at + 1, at + n_keep do
  keepers[#keepers + 1] = 0
  keepers[#keepers + 1] = ARGV[i]
end
at = at + n_keep + 1
local old = redis.call('HGET', data, 'h\0' .. m)
if old then
  local prev = nstrings(old)[1]
  if prev ~= '' and prev ~= run then
    redis.call('ZREM', idx, 'r\0' .. prev .. '\0' .. m)
  end
end
-- Channels this checkpoint did not change ("\0" + version) take the parent's entry when it
-- is for the same version, so a blob shared with an older equal one stays shared.
local header = ARGV[5]
local run_h, ents = entries('', header)
local inherit = false
for _, e in ipairs(ents) do
  if string.sub(e[5], 1, 1) == '\0' then inherit = true end
end
if inherit then
  local ns = ns_of(m)
  local from = {}
  local parent = first(ARGV[4])
  local ph = parent ~= '' and redis.call('HGET', data, 'h\0' .. ns .. '\0' .. parent)
  if ph then
    local _, pents = entries(ns, ph)
    for _, e in ipairs(pents) do
      -- The channel's own version, not the version of the blob it shares.
      local x = e[5]
      local ver = x
      if string.sub(x, 1, 2) == 'b\0' then
        ver = string.match(x, '([^%z]*)$')
      else
        local nul = string.find(x, '\0', 1, true)
        if nul then ver = string.sub(x, 1, nul - 1) end
      end
      from[e[2]] = {ver, x}
    end
  end
  local out = {#run_h .. ':' .. run_h}
  for _, e in ipairs(ents) do
    local ch, x = e[2], e[5]
    if e[1] then ch = '\0' .. ch end
    if string.sub(x, 1, 1) == '\0' then
      x = string.sub(x, 2)
      local p = from[e[2]]
      if p and p[1] == x then x = p[2] end
    end
    out[#out + 1] = #ch .. ':' .. ch .. #x .. ':' .. x
  end
  header = table.concat(out)
end
local args = {'c\0' .. m, ARGV[4], 'h\0' .. m, header}
for i = at, #ARGV do args[#args + 1] = ARGV[i] end
chunked('HSET', data, args, 1000)
if #keepers > 0 then chunked('ZADD', idx, keepers, 1000) end
if run ~= '' then
  redis.call('ZADD', idx, 0, 'c\0' .. m, 0, 'r\0' .. run .. '\0' .. m)
else
  redis.call('ZADD', idx, 0, 'c\0' .. m)
end
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  redis.call('EXPIRE', idx, ttl)
  redis.call('EXPIRE', data, ttl)
end
return 1
"""
)

# KEYS: idx, data.  ARGV: ttl, ('set' | 'nx', field, value)*
_PUT_WRITES_LUA = (
    _LUA_COMMON
    + r"""
local idx, data = KEYS[1], KEYS[2]
local ti = redis.call('TYPE', idx)['ok']
local td = redis.call('TYPE', data)['ok']
if (ti ~= 'zset' and ti ~= 'none') or (td ~= 'hash' and td ~= 'none') then
  return redis.error_reply('WRONGTYPE checkpoint keys of this thread hold foreign data')
end
local members = {}
for i = 2, #ARGV, 3 do
  if ARGV[i] == 'set' then
    redis.call('HSET', data, ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('HSETNX', data, ARGV[i + 1], ARGV[i + 2])
  end
  members[#members + 1] = 0
  members[#members + 1] = ARGV[i + 1]
end
chunked('ZADD', idx, members, 1000)
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  redis.call('EXPIRE', idx, ttl)
  redis.call('EXPIRE', data, ttl)
end
return 1
"""
)

# KEYS: idx, data.  ARGV: ns, checkpoint_id* (none: the latest in ns).
# Returns a flat list of (cid, payload, header, {blob values}, {write values}, {leaf values of
# the list blobs, in order}) per hit.
_GET_LUA = (
    _LUA_COMMON
    + r"""
local idx, data, ns = KEYS[1], KEYS[2], ARGV[1]
local cids = {}
if #ARGV == 1 then
  local p = 'c\0' .. ns .. '\0'
  local top = redis.call('ZREVRANGEBYLEX', idx, '(' .. p .. '\255', '[' .. p, 'LIMIT', 0, 1)
  if #top == 0 then return {} end
  cids[1] = string.sub(top[1], #p + 1)
else
  for i = 2, #ARGV do cids[#cids + 1] = ARGV[i] end
end
local out = {}
for _, cid in ipairs(cids) do
  local m = ns .. '\0' .. cid
  local rec = redis.call('HMGET', data, 'c\0' .. m, 'h\0' .. m)
  if rec[1] and rec[2] then
    local _, ents = entries(ns, rec[2])
    local fields = {}
    for _, e in ipairs(ents) do fields[#fields + 1] = e[3] end
    out[#out + 1] = cid
    out[#out + 1] = rec[1]
    out[#out + 1] = rec[2]
    local blobs = hmget(data, fields)
    local leaves = {}
    for _, v in ipairs(blobs) do
      local lf = leaves_of(v)
      if lf then
        for _, leaf in ipairs(hmget(data, lf)) do leaves[#leaves + 1] = leaf end
      end
    end
    out[#out + 1] = blobs
    out[#out + 1] = hmget(data, prefixed(idx, 'w\0' .. m .. '\0'))
    out[#out + 1] = leaves
  end
end
return out
"""
)

# KEYS: idx, data.  ARGV: mode ('runs' | 'members'), then run ids or ns\0cid members.
# Deletes the checkpoints with their writes and run entries, then the blobs that no
# surviving checkpoint of the same namespace references.  Returns the run ids that no
# longer have any checkpoint in this thread.
_DELETE_LUA = (
    _LUA_COMMON
    + r"""
local idx, data = KEYS[1], KEYS[2]
local targets, zdels, hdels = {}, {}, {}
local runs, doomed, touched = {}, {}, {}
if ARGV[1] == 'runs' then
  for i = 2, #ARGV do
    local p = 'r\0' .. ARGV[i] .. '\0'
    runs[ARGV[i]] = true
    for _, r in ipairs(prefixed(idx, p)) do
      targets[#targets + 1] = string.sub(r, #p + 1)
      zdels[#zdels + 1] = r
    end
  end
else
  for i = 2, #ARGV do targets[#targets + 1] = ARGV[i] end
end
for _, m in ipairs(targets) do
  local header = redis.call('HGET', data, 'h\0' .. m)
  if header then
    local run, ents = entries(ns_of(m), header)
    if run ~= '' then
      runs[run] = true
      zdels[#zdels + 1] = 'r\0' .. run .. '\0' .. m
    end
    for _, e in ipairs(ents) do doomed[e[3]] = true end
  end
  hdels[#hdels + 1] = 'c\0' .. m
  hdels[#hdels + 1] = 'h\0' .. m
  zdels[#zdels + 1] = 'c\0' .. m
  zdels[#zdels + 1] = 'k\0' .. m
  for _, w in ipairs(prefixed(idx, 'w\0' .. m .. '\0')) do
    hdels[#hdels + 1] = w
    zdels[#zdels + 1] = w
  end
  touched[string.sub(m, 1, string.find(m, '\0', 1, true) - 1)] = true
end
chunked('HDEL', data, hdels, 500)
chunked('ZREM', idx, zdels, 500)
local live_roots = {}
for ns, _ in pairs(touched) do
  for _, c in ipairs(prefixed(idx, 'c\0' .. ns .. '\0')) do
    local header = redis.call('HGET', data, 'h\0' .. string.sub(c, 3))
    if header then
      local _, ents = entries(ns, header)
      for _, e in ipairs(ents) do
        doomed[e[3]] = nil
        live_roots[e[3]] = true
      end
    end
  end
end
local blobs = {}
for f, _ in pairs(doomed) do blobs[#blobs + 1] = f end
-- Leaves and elements of doomed list blobs, less those a surviving list still uses.
local function expand(fields, into)
  for _, v in ipairs(hmget(data, fields)) do
    local lf = leaves_of(v)
    if lf then
      for _, leaf in ipairs(lf) do
        if not into[leaf] then
          into[leaf] = true
          local value = redis.call('HGET', data, leaf)
          if value then
            for _, e in ipairs(nstrings(value)) do into[e] = true end
          end
        end
      end
    end
  end
end
local gone_parts = {}
expand(blobs, gone_parts)
if next(gone_parts) then
  local roots = {}
  for f, _ in pairs(live_roots) do roots[#roots + 1] = f end
  local live = {}
  expand(roots, live)
  for f, _ in pairs(gone_parts) do
    if not live[f] then blobs[#blobs + 1] = f end
  end
end
chunked('HDEL', data, blobs, 500)
local gone = {}
for run, _ in pairs(runs) do
  local p = 'r\0' .. run .. '\0'
  if #redis.call('ZRANGEBYLEX', idx, '[' .. p, '(' .. p .. '\255', 'LIMIT', 0, 1) == 0 then
    gone[#gone + 1] = run
  end
end
return gone
"""
)

# KEYS: idx, data.  ARGV: ns, newest cid, keep.  Retention inside a thread: deletes the
# checkpoints of ns newer than the first keeper that are neither keepers ('k' members: turn
# ends, updates, forks), nor the newest, nor among the `keep` newest of the rest, with their
# writes and what only they created, and points survivors at their nearest surviving ancestor.
# Only checkpoints newer than the oldest doomed one can use what a doomed one created (it did
# not exist before, and ids grow with time), so only those are searched: the cost follows what
# is trimmed and kept recently, not the thread's length.  Returns the run ids with no
# checkpoint left.
_TRIM_LUA = (
    _LUA_COMMON
    + r"""
local idx, data, ns, newest, keep = KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3])
local p = 'c\0' .. ns .. '\0'
local cps = prefixed(idx, p)
local keeper, floor = {}, nil
for _, k in ipairs(prefixed(idx, 'k\0' .. ns .. '\0')) do
  local cid = string.sub(k, #p + 1)
  keeper[cid] = true
  floor = floor or cid
end
-- Checkpoints older than the first keeper predate turn marking: never trimmed.
if not floor then return {} end
local doomed, order, kept = {}, {}, 0
for i = #cps, 1, -1 do
  local cid = string.sub(cps[i], #p + 1)
  if cid <= floor then break end
  if not keeper[cid] and cid ~= newest then
    if kept < keep then kept = kept + 1 else doomed[cid] = true; order[#order + 1] = cid end
  end
end
if #order == 0 then return {} end
local oldest = order[#order]
local parent, cand, hdels, zdels, runs = {}, {}, {}, {}, {}
local created_lists = {}
for _, cid in ipairs(order) do
  local m = ns .. '\0' .. cid
  local rec = redis.call('HMGET', data, 'c\0' .. m, 'h\0' .. m)
  if rec[1] then parent[cid] = first(rec[1]) end
  if rec[2] then
    local run, ents = entries(ns, rec[2])
    if run ~= '' then
      runs[run] = true
      zdels[#zdels + 1] = 'r\0' .. run .. '\0' .. m
    end
    for _, e in ipairs(ents) do
      if e[1] then
        cand[e[3]] = true
        created_lists[#created_lists + 1] = {e[3], string.match(e[3], '([^%z]*)$')}
      end
    end
  end
  hdels[#hdels + 1] = 'c\0' .. m
  hdels[#hdels + 1] = 'h\0' .. m
  zdels[#zdels + 1] = 'c\0' .. m
  for _, w in ipairs(prefixed(idx, 'w\0' .. m .. '\0')) do
    hdels[#hdels + 1] = w
    zdels[#zdels + 1] = w
  end
end
-- Leaves and elements that the doomed checkpoints created.
local parts_created = false
for _, item in ipairs(created_lists) do
  local lf = leaves_of(redis.call('HGET', data, item[1]))
  if lf then
    for _, leaf in ipairs(lf) do
      if token_of(leaf) == item[2] then
        cand[leaf] = true
        parts_created = true
        local value = redis.call('HGET', data, leaf)
        if value then
          for _, e in ipairs(nstrings(value)) do
            if token_of(e) == item[2] then cand[e] = true end
          end
        end
      end
    end
  end
end
-- Survivors that may share them: everything newer than the oldest doomed checkpoint.
local seen_roots, seen_leaves = {}, {}
local relink = {}
for i = #cps, 1, -1 do
  local cid = string.sub(cps[i], #p + 1)
  if cid <= oldest then break end
  if not doomed[cid] then
    local m = ns .. '\0' .. cid
    local rec = redis.call('HMGET', data, 'c\0' .. m, 'h\0' .. m)
    if rec[2] then
      local _, ents = entries(ns, rec[2])
      for _, e in ipairs(ents) do
        local f = e[3]
        cand[f] = nil
        if parts_created and not seen_roots[f] then
          seen_roots[f] = true
          local lf = leaves_of(redis.call('HGET', data, f))
          if lf then
            for _, leaf in ipairs(lf) do
              cand[leaf] = nil
              if not seen_leaves[leaf] then
                seen_leaves[leaf] = true
                local value = redis.call('HGET', data, leaf)
                if value then
                  for _, e in ipairs(nstrings(value)) do cand[e] = nil end
                end
              end
            end
          end
        end
      end
    end
    if rec[1] then
      local up, stop = first(rec[1])
      if doomed[up] then
        while doomed[up] do up = parent[up] or '' end
        relink[#relink + 1] = 'c\0' .. m
        relink[#relink + 1] = #up .. ':' .. up .. string.sub(rec[1], stop + 1)
      end
    end
  end
end
for f, _ in pairs(cand) do hdels[#hdels + 1] = f end
chunked('HDEL', data, hdels, 500)
chunked('ZREM', idx, zdels, 500)
if #relink > 0 then chunked('HSET', data, relink, 500) end
local gone = {}
for run, _ in pairs(runs) do
  local rp = 'r\0' .. run .. '\0'
  if #redis.call('ZRANGEBYLEX', idx, '[' .. rp, '(' .. rp .. '\255', 'LIMIT', 0, 1) == 0 then
    gone[#gone + 1] = run
  end
end
return gone
"""
)

# KEYS: threads directory.  ARGV: (thread_id, observed score)*.  Removes an entry only if
# no write bumped its score since it was observed empty, so a thread that is being created
# right now is never dropped.
_FORGET_LUA = r"""
local n = 0
for i = 1, #ARGV, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
"""


@dataclass(frozen=True, slots=True)
class Script:
    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> Script:
        return cls(source, hashlib.sha1(source.encode()).hexdigest())


PUT = Script.of(_PUT_LUA)
PUT_WRITES = Script.of(_PUT_WRITES_LUA)
GET = Script.of(_GET_LUA)
DELETE = Script.of(_DELETE_LUA)
FORGET = Script.of(_FORGET_LUA)
TRIM = Script.of(_TRIM_LUA)
SCRIPTS = (PUT, PUT_WRITES, GET, DELETE, FORGET, TRIM)


def evalsha(script: Script, keys: tuple[str, str], *args: Any) -> tuple[Any, ...]:
    """The command that runs ``script`` on the two keys of one thread."""
    return ("EVALSHA", script.sha, len(keys), *keys, *args)
