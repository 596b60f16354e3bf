-- Leaderboard write: one member on the all-time board, its partition board and the current
-- period boards, with the dense-rank companions, in one atomic step.
-- KEYS[1]  board base key, e.g. "lb:{scores}"; every other key is derived from it (same slot)
-- ARGV[1]  op: "set" | "incr" | "best" | "remove"
-- ARGV[2]  member
-- ARGV[3]  stored value: score for set/best, delta for incr (negated on descending boards)
-- ARGV[4]  "1" to keep the distinct-score companions (dense ranking)
-- ARGV[5]  periods: comma-separated subset of daily,weekly,monthly ("" for none)
-- ARGV[6]  unix seconds choosing the periods ("" = Redis TIME)
-- ARGV[7]  retain: how many finished periods stay readable before they expire
-- ARGV[8]  partition: "-" board not partitioned, "k" keep the member's current one, "n" none,
--          "v<value>" this value
-- ARGV[9]  period scores: "gain" (a set adds the all-time change to the period boards) or
--          "same" (period boards get the same operation as the all-time board)
-- reply    the member's new stored score as a string, or false (removed / absent)
--
-- Stored scores always sort ascending (descending boards store -score), so ZRANGE order is
-- rank order for both board orders, and "better" is always "lower": best = ZADD LT.
-- Numbers are never formatted by Lua (its %.14g loses digits): values go to Redis as the
-- strings Python sent, increments through ZINCRBY.
local base = KEYS[1]
local op, member, value = ARGV[1], ARGV[2], ARGV[3]
local dense = ARGV[4] == "1"
local periods = ARGV[5]
local retain = tonumber(ARGV[7])
local pmode = ARGV[8]
local gain = ARGV[9] == "gain" and op == "set"
local LIMIT = 9007199254740992

--#include family.lua

local function civil(days) -- days since epoch -> y, m, d (proleptic Gregorian, H. Hinnant)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- {suffix, expire-at} of each configured period containing time t
local function current_periods(t)
  local out = {}
  if periods == "" then return out end
  local days = math.floor(t / 86400)
  for kind in string.gmatch(periods, "[^,]+") do
    local start, stop
    if kind == "daily" then
      start, stop = days, days + 1
    elseif kind == "weekly" then
      start = days - (days + 3) % 7 -- 1970-01-01 was a Thursday; weeks start on Monday
      stop = start + 7
    elseif kind == "monthly" then
      local y, m = civil(days)
      start = days_from_civil(y, m, 1)
      if m == 12 then stop = days_from_civil(y + 1, 1, 1) else stop = days_from_civil(y, m + 1, 1) end
    else
      return redis.error_reply("unknown period " .. kind)
    end
    local y, m, d = civil(start)
    local label
    if kind == "monthly" then label = string.format("%04d-%02d", y, m) else label = string.format("%04d-%02d-%02d", y, m, d) end
    out[#out + 1] = {":" .. kind .. ":" .. label, (stop + retain * (stop - start)) * 86400}
  end
  return out
end

local t
if ARGV[6] ~= "" then t = tonumber(ARGV[6]) else t = tonumber(redis.call("TIME")[1]) end
local cur = current_periods(t)
if cur.err then return cur end

local reply = write(base, op, member, value, pmode, cur, gain)
-- A rebuild in progress loads into a temporary copy and then swaps it in: mirror the write
-- there too (see mirror() in family.lua), so the swap neither loses it nor lets a row the
-- rebuild read earlier undo it.
local tmp = redis.call("GET", base .. ":rebuilding")
if tmp then mirror(tmp, op, member, value, pmode) end
-- the same for a rebuild of one of the current period boards (rebuild.lua with KEYS[2]); a
-- "gain" board's periods are never rebuilt
for _, p in ipairs(cur) do
  local ptmp = redis.call("GET", base .. ":rebuilding" .. p[1])
  if ptmp and not gain then mirror(ptmp, op, member, value, pmode) end
end
return reply
