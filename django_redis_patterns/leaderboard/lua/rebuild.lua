-- Leaderboard rebuild: load a temporary copy of the board, then swap it in atomically.
-- KEYS[1]  board base key, e.g. "lb:{scores}"; the copy lives at "<base>:rebuild" (same slot)
-- KEYS[2]  optional: a period board to rebuild instead of the all-time family, e.g.
--          "<base>:weekly:2026-11-30" (its suffix <sfx> is ":weekly:2026-11-30"): the copy is
--          "<base>:rebuild<sfx>", the running marker "<base>:rebuilding<sfx>", the held marker
--          "<base>:meta<sfx>", and the swap moves the copy's partitions to "<base>:p:<part><sfx>"
-- ARGV[1]  op: "begin" | "load" | "swap" | "abort" | "delete"
-- ARGV[2]  "1" when the board keeps dense-ranking companions
-- ARGV[3..] begin: ttl seconds, force ("1"/"0"), heal ("1": only if the held marker is missing)
--           load: member, stored score, partition ("" none), member, score, partition, ...
--           swap: for a period, the unix time its keys expire (the retention of write.lua)
-- reply    begin: 1 (started), 0 (a heal of a board that is back), or an error when another
--          rebuild runs; load: members added;
--          swap: members on the new board; abort, delete: 1
--
-- While the marker "<base>:rebuilding" exists, every live write is mirrored into the copy
-- (write.lua), and "<copy>:w" records which members were written since the rebuild began (see
-- mirror() in family.lua): a load skips the rows of members whose final state a write already
-- set (set, remove), applies the relative writes (incr, best) made before their row arrived on
-- top of it, and the swap applies those whose row never arrived. So no row the rebuild read
-- can undo or lose a write made after it read it.
local base = KEYS[1]
local op = ARGV[1]
local dense = ARGV[2] == "1"
local sfx = ""
if KEYS[2] then sfx = string.sub(KEYS[2], #base + 1) end
local tmp = base .. ":rebuild" .. sfx
local marker = base .. ":rebuilding" .. sfx
local meta = base .. ":meta" .. sfx
local LIMIT = 9007199254740992

--#include family.lua

local function family(prefix) -- the keys of one board family except period boards
  local keys = {prefix, prefix .. ":ds", prefix .. ":dn", prefix .. ":pm", prefix .. ":parts", prefix .. ":w"}
  for _, part in ipairs(redis.call("SMEMBERS", prefix .. ":parts")) do
    local k = prefix .. ":p:" .. part
    keys[#keys + 1] = k
    keys[#keys + 1] = k .. ":ds"
    keys[#keys + 1] = k .. ":dn"
  end
  return keys
end

local function drop(keys)
  for _, k in ipairs(keys) do redis.call("UNLINK", k) end
end

if op == "begin" then
  local ttl = tonumber(ARGV[3])
  if ARGV[5] == "1" and redis.call("EXISTS", meta) == 1 then
    return 0 -- a heal, but the board is back already (another reader healed it)
  end
  if redis.call("EXISTS", marker) == 1 and ARGV[4] ~= "1" then
    return redis.error_reply("LEADERBOARD a rebuild of this board is already running")
  end
  drop(family(tmp))
  redis.call("SET", marker, tmp, "EX", ttl)
  return 1
elseif op == "load" then
  if redis.call("EXISTS", marker) == 0 then
    return redis.error_reply("LEADERBOARD rebuild marker expired or taken away; start again")
  end
  local wkey = tmp .. ":w"
  local written = redis.call("EXISTS", wkey) == 1
  local states = {}
  if written then
    local names = {}
    for i = 3, #ARGV, 3 do names[#names + 1] = ARGV[i] end
    for i = 1, #names, 1000 do -- unpack() has a stack limit: HMGET in slices
      local got = redis.call("HMGET", wkey, unpack(names, i, math.min(i + 999, #names)))
      for j = 1, #got do states[#states + 1] = got[j] end
    end
  end
  -- rows of members written since the rebuild began with a final state ("=") are skipped
  local members, scores_, parts_, logs = {}, {}, {}, {}
  local n = 0
  for i = 3, #ARGV, 3 do
    n = n + 1
    local state = states[n]
    if state ~= "=" then
      members[#members + 1] = ARGV[i]
      scores_[#scores_ + 1] = ARGV[i + 1]
      parts_[#parts_ + 1] = ARGV[i + 2]
      if state then logs[#logs + 1] = {ARGV[i], state} end
    end
  end
  if #members == 0 then return 0 end
  local pairs_ = {}
  local parts = false
  for j = 1, #members do
    pairs_[#pairs_ + 1] = scores_[j]
    pairs_[#pairs_ + 1] = members[j]
    if parts_[j] ~= "" then parts = true end
  end
  local before = nil
  if dense or parts then before = redis.call("ZMSCORE", tmp, unpack(members)) end
  local added = redis.call("ZADD", tmp, "NX", unpack(pairs_))
  if before then
    local fresh, fresh_i, seen = {}, {}, {}
    for j = 1, #members do
      if not before[j] and not seen[members[j]] then
        seen[members[j]] = true
        fresh[#fresh + 1] = members[j]
        fresh_i[#fresh_i + 1] = j
      end
    end
    if dense and #fresh > 0 then
      -- companions count the canonical score strings Redis itself formats
      local now = redis.call("ZMSCORE", tmp, unpack(fresh))
      local counts, distinct = {}, {}
      for _, sc in ipairs(now) do
        if not counts[sc] then distinct[#distinct + 1] = sc; counts[sc] = 0 end
        counts[sc] = counts[sc] + 1
      end
      -- three calls per batch instead of one HINCRBY (and maybe a ZADD) per distinct score
      local had = redis.call("HMGET", tmp .. ":dn", unpack(distinct))
      local hset, zadd = {}, {}
      for j, sc in ipairs(distinct) do
        hset[#hset + 1] = sc
        hset[#hset + 1] = (tonumber(had[j]) or 0) + counts[sc]
        if not had[j] then zadd[#zadd + 1] = sc; zadd[#zadd + 1] = sc end
      end
      redis.call("HSET", tmp .. ":dn", unpack(hset))
      if #zadd > 0 then redis.call("ZADD", tmp .. ":ds", unpack(zadd)) end
    end
    if parts then
      for k, member in ipairs(fresh) do
        local j = fresh_i[k]
        local part = parts_[j]
        if part ~= "" and redis.call("HSETNX", tmp .. ":pm", member, part) == 1 then
          local pk = tmp .. ":p:" .. part
          redis.call("SADD", tmp .. ":parts", part)
          if redis.call("ZADD", pk, "NX", scores_[j], member) == 1 and dense then inc(pk, redis.call("ZSCORE", pk, member)) end
        end
      end
    end
  end
  -- relative writes made before these rows arrived apply on top of them
  for _, entry in ipairs(logs) do replay(tmp, entry[1], entry[2]) end
  local ttl = redis.call("TTL", marker)
  for _, k in ipairs({tmp, tmp .. ":ds", tmp .. ":dn", tmp .. ":pm", tmp .. ":parts", wkey}) do
    if redis.call("EXISTS", k) == 1 then redis.call("EXPIRE", k, ttl + 60) end
  end
  return added
elseif op == "swap" and sfx ~= "" then
  -- a period board: the copy replaces the period's global and partition boards, which keep
  -- the all-time ":pm"/":parts" (period boards have none of their own) and expire with it
  if redis.call("EXISTS", marker) == 0 then
    return redis.error_reply("LEADERBOARD rebuild marker expired or taken away; start again")
  end
  local wkey = tmp .. ":w"
  local written = redis.call("HGETALL", wkey)
  for i = 1, #written, 2 do
    if written[i + 1] ~= "=" then replay(tmp, written[i], written[i + 1]) end
  end
  local at = tonumber(ARGV[3])
  local new_parts = redis.call("SMEMBERS", tmp .. ":parts")
  local old = {base .. sfx, base .. sfx .. ":ds", base .. sfx .. ":dn"}
  for _, part in ipairs(redis.call("SMEMBERS", base .. ":parts")) do
    local k = base .. ":p:" .. part .. sfx
    old[#old + 1] = k
    old[#old + 1] = k .. ":ds"
    old[#old + 1] = k .. ":dn"
  end
  drop(old)
  local function move(src, dst)
    if redis.call("EXISTS", src) == 1 then
      redis.call("RENAME", src, dst)
      redis.call("EXPIREAT", dst, at)
    end
  end
  for _, s in ipairs({"", ":ds", ":dn"}) do move(tmp .. s, base .. sfx .. s) end
  for _, part in ipairs(new_parts) do
    redis.call("SADD", base .. ":parts", part)
    for _, s in ipairs({"", ":ds", ":dn"}) do move(tmp .. ":p:" .. part .. s, base .. ":p:" .. part .. sfx .. s) end
  end
  drop(family(tmp))
  redis.call("DEL", marker)
  local count = redis.call("ZCARD", base .. sfx)
  local now = redis.call("TIME")[1]
  redis.call("HSET", meta, "rebuilt_at", now, "members", count)
  redis.call("EXPIREAT", meta, at)
  -- from now on Redis holds every write to this board's periods: the periods that begin later
  -- are complete without a rebuild, even when the all-time board is never rebuilt (read.lua)
  redis.call("SET", base .. ":meta:since", now, "NX")
  return count
elseif op == "swap" then
  if redis.call("EXISTS", marker) == 0 then
    return redis.error_reply("LEADERBOARD rebuild marker expired or taken away; start again")
  end
  -- relative writes to members the rebuild never loaded apply from nothing, as on the live board
  local wkey = tmp .. ":w"
  local written = redis.call("HGETALL", wkey)
  for i = 1, #written, 2 do
    if written[i + 1] ~= "=" then replay(tmp, written[i], written[i + 1]) end
  end
  redis.call("UNLINK", wkey)
  local new_parts = redis.call("SMEMBERS", tmp .. ":parts")
  -- the live board's partitions that the database no longer has disappear with the swap
  drop(family(base))
  local function move(src, dst)
    if redis.call("EXISTS", src) == 1 then
      redis.call("RENAME", src, dst)
      redis.call("PERSIST", dst)
    end
  end
  for _, sfx in ipairs({"", ":ds", ":dn", ":pm", ":parts"}) do move(tmp .. sfx, base .. sfx) end
  for _, part in ipairs(new_parts) do
    for _, sfx in ipairs({"", ":ds", ":dn"}) do move(tmp .. ":p:" .. part .. sfx, base .. ":p:" .. part .. sfx) end
  end
  redis.call("DEL", marker)
  local count = redis.call("ZCARD", base)
  -- ":meta" also says "Redis holds this board" (the self-healing reads check it); "since" is
  -- when it began to: period boards that started before then were lost with it (read.lua).
  -- A marker an older version wrote has none: it is kept as "always" (0).
  local now = redis.call("TIME")[1]
  if redis.call("EXISTS", meta) == 0 then redis.call("HSET", meta, "since", now) end
  redis.call("HSETNX", meta, "since", 0)
  redis.call("HSET", meta, "rebuilt_at", now, "members", count)
  return count
elseif op == "delete" then -- the whole board but its period boards (they expire on their own)
  drop(family(base))
  drop(family(tmp))
  redis.call("DEL", marker, base .. ":meta")
  return 1
elseif op == "abort" then
  drop(family(tmp))
  redis.call("DEL", marker)
  return 1
end
return redis.error_reply("unknown op " .. op)
