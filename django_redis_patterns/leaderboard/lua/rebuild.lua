-- Leaderboard rebuild: load a temporary copy of the board, then swap it in atomically.
-- KEYS[1]  board base key, e.g. "lb:{scores}"; the copy lives at "<base>:rebuild" (same slot)
-- ARGV[1]  op: "begin" | "load" | "swap" | "abort" | "delete"
-- ARGV[2]  "1" when the board keeps dense-ranking companions
-- ARGV[3..] begin: ttl seconds, force ("1"/"0")
--           load: member, stored score, partition ("" none), member, score, partition, ...
--           swap: (nothing)
-- reply    begin: 1, or an error when another rebuild runs; load: members added;
--          swap: members on the new board; abort, delete: 1
--
-- While the marker "<base>:rebuilding" exists, every live write is mirrored into the copy
-- (write.lua), and loads use NX, so a value written during the rebuild is never replaced by
-- the older value the rebuild read from the database.
local base = KEYS[1]
local op = ARGV[1]
local dense = ARGV[2] == "1"
local tmp = base .. ":rebuild"
local marker = base .. ":rebuilding"

local function family(prefix) -- the keys of one board family except period boards
  local keys = {prefix, prefix .. ":ds", prefix .. ":dn", prefix .. ":pm", prefix .. ":parts"}
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

local function inc(key, s)
  if redis.call("HINCRBY", key .. ":dn", s, 1) == 1 then redis.call("ZADD", key .. ":ds", s, s) end
end

if op == "begin" then
  local ttl = tonumber(ARGV[3])
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
  -- one ZADD NX for the whole batch; the members it adds are those ZMSCORE did not find
  local members, pairs_ = {}, {}
  for i = 3, #ARGV, 3 do
    members[#members + 1] = ARGV[i]
    pairs_[#pairs_ + 1] = ARGV[i + 1]
    pairs_[#pairs_ + 1] = ARGV[i]
  end
  if #members == 0 then return 0 end
  local parts = false
  for i = 5, #ARGV, 3 do if ARGV[i] ~= "" then parts = true break end end
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
        local i = 3 + (fresh_i[k] - 1) * 3
        local part = ARGV[i + 2]
        if part ~= "" and redis.call("HSETNX", tmp .. ":pm", member, part) == 1 then
          local pk = tmp .. ":p:" .. part
          redis.call("SADD", tmp .. ":parts", part)
          if redis.call("ZADD", pk, "NX", ARGV[i + 1], member) == 1 and dense then inc(pk, redis.call("ZSCORE", pk, member)) end
        end
      end
    end
  end
  local ttl = redis.call("TTL", marker)
  for _, k in ipairs({tmp, tmp .. ":ds", tmp .. ":dn", tmp .. ":pm", tmp .. ":parts"}) do
    if redis.call("EXISTS", k) == 1 then redis.call("EXPIRE", k, ttl + 60) end
  end
  return added
elseif op == "swap" then
  if redis.call("EXISTS", marker) == 0 then
    return redis.error_reply("LEADERBOARD rebuild marker expired or taken away; start again")
  end
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
  redis.call("HSET", base .. ":meta", "rebuilt_at", redis.call("TIME")[1], "members", count)
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
