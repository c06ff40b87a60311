"""The Lua scripts of the Redis Streams queue, each one atomic on the server.

Every stream entry has two fields: `message` (the encoded envelope) and `deliveries` (how many
times the message had been handed out before this entry was added; a requeue adds a new entry
with the count carried over, a dead letter starts again from 0). The deliveries of an entry
itself are the group's `times_delivered` for it, which `XAUTOCLAIM` raises when a dead
consumer's entry is reclaimed.
"""

from __future__ import annotations

#: KEYS[1] the stream. ARGV: the most entries it may hold, the message, its deliveries so far.
#: Refuses (error `FULL`) rather than trimming: unconsumed work is never silently dropped.
PUBLISH = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then
  return redis.error_reply('FULL the stream holds ' .. ARGV[1] .. ' messages')
end
return redis.call('XADD', KEYS[1], '*', 'message', ARGV[2], 'deliveries', ARGV[3])
"""

#: KEYS: pairs of (stream, dead-letter stream), best priority first; a stream that is its own
#: dead-letter stream drops what it would dead-letter. ARGV: group, consumer, how many entries to
#: take, the idle time after which a pending entry is reclaimed (-1: not this time), max
#: deliveries, max dead-letter stream length.
#:
#: Per stream: reclaim idle entries of dead consumers (dead-lettering those delivered too often),
#: then read new ones, until enough are taken. A missing group is created at the start of the
#: stream (a restarted server may have lost it). Returns {entries, tails}: entries as
#: {pair index, id, message, deliveries}; when fewer than wanted were taken (every stream read to
#: its end), the last id of every stream, to block on with XREAD until something newer arrives;
#: else no tails.
FETCH = """
local group, consumer = ARGV[1], ARGV[2]
local want = tonumber(ARGV[3])
local min_idle = tonumber(ARGV[4])
local max_deliveries = tonumber(ARGV[5])
local dead_max = ARGV[6]

local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end

local function in_group(stream, ...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    if not string.find(reply.err, 'NOGROUP', 1, true) then return redis.call(...) end
    if redis.call('EXISTS', stream) == 0 then return false end
    redis.call('XGROUP', 'CREATE', stream, group, '0')
    return redis.call(...)
  end
  return reply
end

local function dead_letter(stream, dead, id, data)
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
  if dead ~= stream then
    redis.call('XADD', dead, 'MAXLEN', '~', dead_max, '*', 'message', data, 'deliveries', 0)
  end
end

local taken = {}
local function take(index, stream, dead, id, fields, times)
  local data = field(fields, 'message')
  local deliveries = tonumber(field(fields, 'deliveries') or '0') + times
  if deliveries > max_deliveries then
    dead_letter(stream, dead, id, data)
  else
    taken[#taken + 1] = {index, id, data, deliveries}
    want = want - 1
  end
end

for i = 1, #KEYS, 2 do
  if want <= 0 then break end
  local stream, dead = KEYS[i], KEYS[i + 1]
  if min_idle >= 0 then
    local claimed = in_group(stream, 'XAUTOCLAIM', stream, group, consumer, min_idle, '0-0', 'COUNT', want)
    if claimed then
      for _, entry in ipairs(claimed[2]) do
        if entry[2] then
          local pending = redis.call('XPENDING', stream, group, entry[1], entry[1], 1)
          take((i + 1) / 2, stream, dead, entry[1], entry[2], pending[1] and pending[1][4] or 1)
        end
      end
    end
  end
  if want > 0 then
    local read = in_group(stream, 'XREADGROUP', 'GROUP', group, consumer, 'COUNT', want,
                          'STREAMS', stream, '>')
    if read then
      for _, entry in ipairs(read[1][2]) do
        take((i + 1) / 2, stream, dead, entry[1], entry[2], 1)
      end
    end
  end
end

local tails = {}
if want > 0 then
  for i = 1, #KEYS, 2 do
    local last = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)
    tails[#tails + 1] = last[1] and last[1][1] or '0-0'
  end
end
return {taken, tails}
"""

#: KEYS[1] the stream, KEYS[2] where the message moves (ignored for 'ack'). ARGV: group, entry id,
#: 'ack' or 'move', the message, its deliveries so far, the target's max length ('0': no trim).
#: Acks and deletes the entry; 'move' then re-adds the message to the target, but only if the
#: entry was still pending (a consumer that reclaimed and acked it meanwhile has the last word).
SETTLE = """
local acked = redis.pcall('XACK', KEYS[1], ARGV[1], ARGV[2])
if type(acked) ~= 'number' then acked = 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[3] == 'move' and acked == 1 then
  if ARGV[6] == '0' then
    redis.call('XADD', KEYS[2], '*', 'message', ARGV[4], 'deliveries', ARGV[5])
  else
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'message', ARGV[4], 'deliveries', ARGV[5])
  end
end
return acked
"""
