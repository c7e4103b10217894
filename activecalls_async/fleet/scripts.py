"""The Lua scripts the fleet runs in Redis: each step of a decision, atomic, on Redis's clock.

Every time in them is the Redis server's ``TIME``, never a host's clock. Their keys and
arguments are listed above each one; the callers are ``fleet.ratelimit`` (the window),
``fleet.token_cache`` (the shared login) and ``fleet.hub`` (the shared watch's lease and
records).

The window's keys live beside an epoch: a unique id that the first script to find it
missing writes. A Redis that restarted empty, was flushed or failed over to a replica
without the fleet's keys has no epoch, so the next script writes a new one, and every
member that knew the old one learns from its next reply that the window was lost.
"""

from __future__ import annotations

__all__ = [
    "ACQUIRE",
    "FORGET",
    "HEARTBEAT",
    "LEASE_TICK",
    "PUBLISH",
    "RELEASE",
    "RESIGN",
    "STORE_LOGIN",
    "WINDOW_KEYS",
]

#: The window scripts' keys (each ``<key>:<name>``) and the Redis type each holds.
WINDOW_KEYS = {
    "window": "zset",  # requests that count, by the time they ended
    "inflight": "zset",  # requests granted and not released, by the end of their lease
    "queue": "zset",  # waiters, by their place in line
    "seen": "zset",  # waiters, by when they last asked
    "clocks": "hash",  # each member's virtual clock per priority
    "members": "zset",  # live members, by their last heartbeat
    "epoch": "string",  # the window's epoch
    "cancelled": "zset",  # tombstones of tickets given up, by when
}

# Each window script starts here: Redis's clock in whole milliseconds (a float would be
# truncated in the reply anyway), and the helpers below. ``tidy`` moves an in-flight
# request whose lease ran out into the window, as if released when the lease ended.
PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function tidy(window, inflight, per)
  local expired = redis.call('ZRANGEBYSCORE', inflight, '-inf', now, 'WITHSCORES')
  for i = 1, #expired, 2 do
    redis.call('ZADD', window, expired[i + 1], expired[i])
    redis.call('ZREM', inflight, expired[i])
  end
  redis.call('ZREMRANGEBYSCORE', window, '-inf', now - per)
end
local function ages(window)
  local out = {}
  local ends = redis.call('ZRANGE', window, 0, -1, 'WITHSCORES')
  for i = 2, #ends, 2 do out[#out + 1] = now - tonumber(ends[i]) end
  return out
end
local function keep(ttl)
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ttl) end
end
local function epoch_of(key, candidate)
  local epoch = redis.call('GET', key)
  if not epoch then
    epoch = candidate
    redis.call('SET', key, epoch)
  end
  return epoch
end
-- A ticket its member gave up on (its reply was lost, or its waiter cancelled): out of
-- the queue, and out of the window if it was granted (no request was sent for it); the
-- tombstone stops an acquire for it that Redis has not run yet from granting it later.
local function forget(ticket, window, inflight, queue, seen, cancelled)
  redis.call('ZREM', window, ticket)
  redis.call('ZREM', inflight, ticket)
  redis.call('ZREM', queue, ticket)
  redis.call('ZREM', seen, ticket)
  redis.call('ZADD', cancelled, now, ticket)
end
"""

# KEYS: window, inflight, queue, seen, clocks, epoch, cancelled. ARGV: ticket, member,
# priority, requests, reserve, per, lease, age, stale, ttl (times in ms), the epoch the
# member knows ("" before its first reply), a new epoch to write if there is none.
# Returns {status, wait ms or -1, in flight, epoch, ages of the window's ends...}: status
# 1 granted, 0 not yet, -1 the epoch changed (nothing done: the member counts its recent
# requests back in first), -2 the ticket was given up (nothing done).
ACQUIRE = (
    PRELUDE
    + """
local ticket, member, priority = ARGV[1], ARGV[2], tonumber(ARGV[3])
local requests, reserve = tonumber(ARGV[4]), tonumber(ARGV[5])
local per, lease, age = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local stale, ttl = tonumber(ARGV[9]), tonumber(ARGV[10])
local epoch = epoch_of(KEYS[6], ARGV[12])
if ARGV[11] ~= '' and ARGV[11] ~= epoch then
  keep(ttl)
  return {-1, 0, 0, epoch}
end
if redis.call('ZSCORE', KEYS[7], ticket) then
  keep(ttl)
  return {-2, 0, 0, epoch}
end
tidy(KEYS[1], KEYS[2], per)
-- Waiters that stopped asking (their process died or gave up) leave the queue.
local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - stale)
for i = 1, #gone do
  redis.call('ZREM', KEYS[3], gone[i])
  redis.call('ZREM', KEYS[4], gone[i])
end
if not redis.call('ZSCORE', KEYS[3], ticket) then
  -- A member's waiting tickets of one priority are spaced one slot apart (a virtual
  -- clock per member and priority), so that members interleave: one with many tasks
  -- waiting cannot push a newcomer back by all of them.
  local clock = member .. ':' .. priority
  local at = math.max(now, tonumber(redis.call('HGET', KEYS[5], clock) or 0) + per / requests)
  redis.call('HSET', KEYS[5], clock, at)
  redis.call('ZADD', KEYS[3], at - priority * age, ticket)
end
redis.call('ZADD', KEYS[4], now, ticket)
local used = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
local cap = requests
if priority < 2 then cap = requests - reserve end
local rank = redis.call('ZRANK', KEYS[3], ticket)
local free = cap - used
if rank < free then
  redis.call('ZREM', KEYS[3], ticket)
  redis.call('ZREM', KEYS[4], ticket)
  redis.call('ZADD', KEYS[2], now + lease, ticket)
  keep(ttl)
  local reply = {1, 0, redis.call('ZCARD', KEYS[2]), epoch}
  for _, age in ipairs(ages(KEYS[1])) do reply[#reply + 1] = age end
  return reply
end
keep(ttl)
-- This waiter's turn comes when enough of the window's entries have aged out; when
-- the entries it waits for are still in flight, nobody knows when (-1).
local wait = -1
local need = rank - math.max(free, 0)
local entry = redis.call('ZRANGE', KEYS[1], need, need, 'WITHSCORES')
if #entry == 2 then wait = tonumber(entry[2]) + per - now end
return {0, wait, redis.call('ZCARD', KEYS[2]), epoch}
"""
)

# KEYS: window, inflight. ARGV: ticket, per, ttl. The request counts as started now.
RELEASE = (
    PRELUDE
    + """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', now, ARGV[1])
keep(tonumber(ARGV[3]))
return 1
"""
)

# KEYS: window, inflight, queue, seen, members, epoch, cancelled. ARGV: member, per, lease,
# member ttl, ttl, a new epoch to write if there is none, "1" to count the member's
# requests back in (else "0"); then its requests in flight, "|", the tickets it gave up,
# "|", and pairs (ticket, ms since it ended) of its requests that ended: each counts in
# the window from its end (and is no longer in flight), so that a member cut off, or
# whose Redis lost the window, counts its recent requests back in. A request in flight
# has its lease extended; counted back in, it gets one if Redis has none (Redis lost it,
# or it was granted while cut off), unless it was released meanwhile (it is in the
# window). A plain heartbeat never gives a lease back: run late (by a paused Redis), it
# would hold slots for requests answered long ago.
# Returns {live members, in flight, epoch, ages of the window's ends...}.
HEARTBEAT = (
    PRELUDE
    + """
local member, per, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local member_ttl, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local epoch = epoch_of(KEYS[6], ARGV[6])
local recount = ARGV[7] == '1'
local i = 8
while i <= #ARGV and ARGV[i] ~= '|' do
  if not recount then
    redis.call('ZADD', KEYS[2], 'XX', 'GT', now + lease, ARGV[i])
  elseif not redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[2], 'GT', now + lease, ARGV[i])
  end
  i = i + 1
end
i = i + 1
while i <= #ARGV and ARGV[i] ~= '|' do
  forget(ARGV[i], KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[7])
  i = i + 1
end
i = i + 1
while i < #ARGV do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('ZADD', KEYS[1], 'GT', now - tonumber(ARGV[i + 1]), ARGV[i])
  i = i + 2
end
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - ttl)
tidy(KEYS[1], KEYS[2], per)
redis.call('ZADD', KEYS[5], now, member)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - member_ttl)
keep(ttl)
local reply = {redis.call('ZCARD', KEYS[5]), redis.call('ZCARD', KEYS[2]), epoch}
for _, age in ipairs(ages(KEYS[1])) do reply[#reply + 1] = age end
return reply
"""
)

# KEYS: window, inflight, queue, seen, cancelled. ARGV: ttl, then the tickets given up.
FORGET = (
    PRELUDE
    + """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do forget(ARGV[i], KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]) end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - ttl)
keep(ttl)
return 1
"""
)

# KEYS: login. ARGV: the login's answer as JSON, its age in seconds as the storing host
# measured it (from before its request was sent). The login is stored with the time it
# was obtained on Redis's clock (``now - age``), so that no host's clock decides its age.
# An older login (from a process that was cut off meanwhile) never replaces a newer one;
# a stored time in the future (Redis's clock went back, or a writer used another clock)
# is unknown, and any newer login replaces it. Returns 1 if stored, else 0.
STORE_LOGIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
-- Whole milliseconds, rounded down: never a moment after Redis's own clock.
local obtained = math.floor((now - math.max(0, tonumber(ARGV[2]))) * 1000) / 1000
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' then
    local at = tonumber(decoded['obtained_at'])
    if at and at <= now and at > obtained then return 0 end
  end
end
redis.call('SET', KEYS[1], '{"answer": ' .. ARGV[1] .. ', "obtained_at": '
  .. string.format('%.3f', obtained) .. '}')
return 1
"""


# KEYS: lease, members. ARGV: member, lease (ms), ttl (ms). The member counts as live for
# one lease; it keeps the lease it holds, or takes it when nobody holds it.
# Returns {1 kept, 2 taken or 0 held by another, live members, ms until the lease ends,
# the member's place among the live members by name (from 0)}.
LEASE_TICK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local member, lease, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], now + lease, member)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('PEXPIRE', KEYS[2], ttl)
local names = redis.call('ZRANGE', KEYS[2], 0, -1)
table.sort(names)
local place = 0
for i, name in ipairs(names) do
  if name == member then place = i - 1 end
end
local holder = redis.call('GET', KEYS[1])
if holder == member then
  redis.call('PEXPIRE', KEYS[1], lease)
  return {1, #names, lease, place}
end
if not holder then
  redis.call('SET', KEYS[1], member, 'PX', lease)
  return {2, #names, lease, place}
end
return {0, #names, redis.call('PTTL', KEYS[1]), place}
"""

# KEYS: lease, stream, latest, events. ARGV: member, format, the record for the stream,
# the whole record for latest, stream length, ttl (ms), events length, events ttl (ms),
# then one record per call event. Only the lease's holder writes (a poller that lost its
# lease, cut off or slow, writes nothing); events go only to a stream a group created.
# Returns the stream entry's id, or nil when the member does not hold the lease.
PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*',
  'format', ARGV[2], 'record', ARGV[3])
redis.call('HSET', KEYS[3], 'format', ARGV[2], 'record', ARGV[4], 'id', id)
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[6])
if #ARGV > 8 and redis.call('EXISTS', KEYS[4]) == 1 then
  for i = 9, #ARGV do
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*', 'format', ARGV[2], 'record', ARGV[i])
  end
  redis.call('PEXPIRE', KEYS[4], ARGV[8])
end
return id
"""

# KEYS: lease, members. ARGV: member. A member leaving: its lease (if it holds it) ends
# now, so that another takes it at once, and it no longer counts as live.
RESIGN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""
