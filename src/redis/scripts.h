// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The Lua scripts RedisStore runs inside Redis. Every fleet decision is made
// here, one script at a time per server, so per peer the transitions form
// one total order; each takes a fresh epoch from the prefix-wide counter and
// is published in the same script, so none goes unannounced and none is
// announced twice.
//
// Keys (all share the hash tag `{prefix}`, so one prefix is one Cluster slot):
//   {P}:m      hash  inc (incarnation id: a new one after data loss), ep
//                    (epoch counter; every transition takes the next value)
//   {P}:o      zset  peers not closed (member: hex peer id)
//   {P}:p:<Q>  hash  st (c/o/h), ep, un (open until, Redis ms), pr (prober
//                    instance), lu (lease until), op (opens in a row), ca
//                    (closed at), and the failure ring i<s>/f<s> (bucket
//                    index and count per slot); always carries a TTL
//   {P}:r:<Q>  zset  reporting instances by last failure (only with a quorum)
//   {P}:ev     channel, one message per transition:
//              1|<inc>|<st>|<ep>|<remaining ms>|<prober>|<Q>
// Times come from Redis's TIME only; replies and messages carry remaining
// durations, never absolute times. Q is the peer id in lowercase hex.

#ifndef CIRCUIT_SRC_REDIS_SCRIPTS_H_
#define CIRCUIT_SRC_REDIS_SCRIPTS_H_

namespace circuit::internal {

// Flush: KEYS = meta, open index. ARGV = inst, max_failures (-1: count rule
// off), window ms, buckets, min_reporters, reset ms, backoff multiplier,
// max reset ms (-1: none), probe lease ms, "{P}", then groups of five:
// kind, Q, n, known incarnation, known epoch. Kinds: f (n failures),
// t (local trip, n = open ms), h (local half-open: asks for the probe
// lease), c (local close), r (local re-open, n = open ms).
// Returns {inc, then Q, st, ep, remaining ms, prober} for every op whose
// peer changed or is not closed.
inline constexpr char kFlushScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local meta, openz = KEYS[1], KEYS[2]
local inc = redis.call('HGET', meta, 'inc')
if not inc then
  inc = t[1] .. '.' .. t[2]
  redis.call('HSET', meta, 'inc', inc, 'ep', 0)
end
redis.call('PEXPIRE', meta, 604800000)
local inst = ARGV[1]
local maxf = tonumber(ARGV[2])
local win = math.max(1, tonumber(ARGV[3]))
local nb = math.max(1, tonumber(ARGV[4]))
local quorum = tonumber(ARGV[5])
local reset = tonumber(ARGV[6])
local mult = tonumber(ARGV[7])
local maxr = tonumber(ARGV[8])
local lease = tonumber(ARGV[9])
local pfx = ARGV[10]
local bms = math.max(1, math.floor(win / nb))
local b = math.floor(now / bms)
local chan = pfx .. ':ev'
local keep = win + lease + 60000
local out = {inc}

local function emit(q, st, ep, rem, pr)
  out[#out + 1] = q
  out[#out + 1] = st
  out[#out + 1] = math.floor(ep)
  out[#out + 1] = math.floor(math.max(0, rem))
  out[#out + 1] = pr
end
local function publish(q, st, ep, rem, pr)
  redis.call('PUBLISH', chan, '1|' .. inc .. '|' .. st .. '|' ..
             string.format('%d', ep) .. '|' .. string.format('%d', rem) ..
             '|' .. pr .. '|' .. q)
end
local function quorum_ok(q)
  if quorum <= 1 then return true end
  local rk = pfx .. ':r:' .. q
  redis.call('ZREMRANGEBYSCORE', rk, '-inf', now - win)
  return redis.call('ZCARD', rk) >= quorum
end
local function backoff(opens)
  local d = reset
  if mult > 1 and opens > 1 then d = d * (mult ^ (opens - 1)) end
  if maxr >= 0 and d > maxr then d = maxr end
  if d > 86400000 then d = 86400000 end
  return math.floor(d)
end

for i = 11, #ARGV, 5 do
  local kind, q = ARGV[i], ARGV[i + 1]
  local n = tonumber(ARGV[i + 2]) or 0
  local kep = tonumber(ARGV[i + 4]) or -1
  if ARGV[i + 3] ~= inc then kep = -1 end
  local key = pfx .. ':p:' .. q
  local h = redis.call('HMGET', key, 'st', 'ep', 'un', 'pr', 'lu', 'op', 'ca')
  local st = h[1] or 'c'
  local ep = tonumber(h[2] or '0')
  local untl = tonumber(h[3] or '0')
  local pr = h[4] or ''
  local lu = tonumber(h[5] or '0')
  local opens = tonumber(h[6] or '0')
  local ca = tonumber(h[7] or '0')
  local changed = false
  local trip_ms = -1

  if kind == 'f' then
    if st == 'c' and n > 0 then
      if quorum > 1 then
        local rk = pfx .. ':r:' .. q
        redis.call('ZADD', rk, now, inst)
        redis.call('PEXPIRE', rk, keep)
      end
      if maxf >= 0 then
        local fields = {}
        for s = 0, nb - 1 do
          fields[#fields + 1] = 'i' .. s
          fields[#fields + 1] = 'f' .. s
        end
        local r = redis.call('HMGET', key, unpack(fields))
        local slot = b % nb
        local sum = 0
        for s = 0, nb - 1 do
          local idx = tonumber(r[2 * s + 1] or '-1')
          local cnt = tonumber(r[2 * s + 2] or '0')
          if s == slot then
            if idx ~= b then cnt = 0 end
            cnt = cnt + n
            redis.call('HSET', key, 'i' .. s, b, 'f' .. s, cnt)
            sum = sum + cnt
          elseif idx > b - nb and idx <= b then
            sum = sum + cnt
          end
        end
        redis.call('PEXPIRE', key, keep)
        if sum > maxf and quorum_ok(q) then trip_ms = 0 end
      end
    end
  elseif kind == 't' then
    if st == 'c' and quorum_ok(q) then trip_ms = n end
  elseif kind == 'r' then
    if st ~= 'c' and ((st == 'h' and pr == inst) or ep == kep) then
      trip_ms = n
    end
  elseif kind == 'h' then
    if (st == 'o' and (pr == inst or now >= untl)) or
       (st == 'h' and now >= lu) then
      ep = redis.call('HINCRBY', meta, 'ep', 1)
      st, pr, lu = 'h', inst, now + lease
      redis.call('HSET', key, 'st', 'h', 'ep', ep, 'pr', inst, 'lu', lu)
      redis.call('PEXPIRE', key, keep)
      redis.call('ZADD', openz, now, q)
      publish(q, 'h', ep, lease, inst)
      changed = true
    end
  elseif kind == 'c' then
    if st ~= 'c' and ((st == 'h' and pr == inst) or ep == kep) then
      ep = redis.call('HINCRBY', meta, 'ep', 1)
      redis.call('DEL', key)
      redis.call('HSET', key, 'st', 'c', 'ep', ep, 'op', opens, 'ca', now)
      redis.call('PEXPIRE', key, keep)
      redis.call('ZREM', openz, q)
      publish(q, 'c', ep, 0, inst)
      st, pr = 'c', inst
      changed = true
    end
  end

  if trip_ms >= 0 then
    if st == 'c' and ca > 0 then
      opens = math.max(0, opens - math.floor((now - ca) / win))
    end
    opens = opens + 1
    if trip_ms <= 0 then trip_ms = backoff(opens) end
    ep = redis.call('HINCRBY', meta, 'ep', 1)
    st, pr, untl = 'o', inst, now + trip_ms
    redis.call('HSET', key, 'st', 'o', 'ep', ep, 'un', untl, 'pr', inst,
               'op', opens)
    redis.call('PEXPIRE', key, trip_ms + keep)
    redis.call('ZADD', openz, now, q)
    publish(q, 'o', ep, trip_ms, inst)
    changed = true
  end

  if changed or st ~= 'c' then
    local rem = 0
    if st == 'o' then rem = untl - now elseif st == 'h' then rem = lu - now end
    emit(q, st, ep, rem, pr)
  end
end
redis.call('PEXPIRE', openz, 604800000)
return out
)lua";

// Snapshot: KEYS = meta, open index. ARGV = "{P}", the incarnation the
// caller knows, then the peers (Q) it believes are not closed. Returns
// {inc, then Q, st, ep, remaining ms, prober} for every peer not closed,
// and a close (epoch: the latest issued) for each believed peer that is
// closed now, unless the incarnation changed (data loss: local opens then
// run out on their own). Returns {""} when Redis holds no state.
inline constexpr char kSnapshotScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local inc = redis.call('HGET', KEYS[1], 'inc')
if not inc then return {''} end
local gep = tonumber(redis.call('HGET', KEYS[1], 'ep') or '0')
local pfx = ARGV[1]
local same = ARGV[2] == inc
local out = {inc}
local seen = {}
local function one(q, believed)
  if seen[q] then return end
  seen[q] = true
  local h = redis.call('HMGET', pfx .. ':p:' .. q, 'st', 'ep', 'un', 'pr', 'lu')
  local st = h[1] or 'c'
  if st ~= 'o' and st ~= 'h' then
    redis.call('ZREM', KEYS[2], q)
    if believed and same then
      out[#out + 1] = q
      out[#out + 1] = 'c'
      out[#out + 1] = gep
      out[#out + 1] = 0
      out[#out + 1] = ''
    end
    return
  end
  local rem = 0
  if st == 'o' then
    rem = tonumber(h[3] or '0') - now
  else
    rem = tonumber(h[5] or '0') - now
  end
  out[#out + 1] = q
  out[#out + 1] = st
  out[#out + 1] = math.floor(tonumber(h[2] or '0'))
  out[#out + 1] = math.floor(math.max(0, rem))
  out[#out + 1] = h[4] or ''
end
local members = redis.call('ZRANGE', KEYS[2], 0, 9999)
for _, q in ipairs(members) do one(q, false) end
for i = 3, #ARGV do one(ARGV[i], true) end
return out
)lua";

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_REDIS_SCRIPTS_H_
