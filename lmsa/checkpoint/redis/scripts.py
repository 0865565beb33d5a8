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
"""

# KEYS: idx, data.  ARGV: ttl, ns\0cid, run_id, payload, header, (blob field, blob value)*
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
local old = redis.call('HGET', data, 'h\0' .. m)
if old then
  local prev = nstrings(old)[1]
  if prev ~= '' and prev ~= run then
    redis.call('ZREM', idx, 'r\0' .. prev .. '\0' .. m)
  end
end
local args = {'c\0' .. m, ARGV[4], 'h\0' .. m, ARGV[5]}
for i = 6, #ARGV do args[#args + 1] = ARGV[i] end
chunked('HSET', data, args, 1000)
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
# Returns a flat list of (cid, payload, header, {blob values}, {write values}) per hit.
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
    local parts = nstrings(rec[2])
    local fields = {}
    for j = 3, #parts, 2 do fields[#fields + 1] = parts[j] end
    out[#out + 1] = cid
    out[#out + 1] = rec[1]
    out[#out + 1] = rec[2]
    out[#out + 1] = hmget(data, fields)
    out[#out + 1] = hmget(data, prefixed(idx, 'w\0' .. m .. '\0'))
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
    local parts = nstrings(header)
    if parts[1] ~= '' then
      runs[parts[1]] = true
      zdels[#zdels + 1] = 'r\0' .. parts[1] .. '\0' .. m
    end
    for j = 3, #parts, 2 do doomed[parts[j]] = true end
  end
  hdels[#hdels + 1] = 'c\0' .. m
  hdels[#hdels + 1] = 'h\0' .. m
  zdels[#zdels + 1] = 'c\0' .. m
  for _, w in ipairs(prefixed(idx, 'w\0' .. m .. '\0')) do
    hdels[#hdels + 1] = w
    zdels[#zdels + 1] = w
  end
  touched[string.sub(m, 1, string.find(m, '\0', 1, true) - 1)] = true
end
chunked('HDEL', data, hdels, 500)
chunked('ZREM', idx, zdels, 500)
for ns, _ in pairs(touched) do
  for _, c in ipairs(prefixed(idx, 'c\0' .. ns .. '\0')) do
    local header = redis.call('HGET', data, 'h\0' .. string.sub(c, 3))
    if header then
      local parts = nstrings(header)
      for j = 3, #parts, 2 do doomed[parts[j]] = nil end
    end
  end
end
local blobs = {}
for f, _ in pairs(doomed) do blobs[#blobs + 1] = f end
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
SCRIPTS = (PUT, PUT_WRITES, GET, DELETE, FORGET)


def evalsha(script: Script, keys: tuple[str, str], *args: Any) -> tuple[Any, ...]:
    """The command that runs ``script`` on the two keys of one thread."""
    return ("EVALSHA", script.sha, len(keys), *keys, *args)
