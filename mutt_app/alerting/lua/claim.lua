-- KEYS: batch, pending, attempts ; ARGV: batch_id, lease_deadline
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local attempts = redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
local items = redis.call('LRANGE', KEYS[1], 0, -1)
table.insert(items, 1, tostring(attempts))
return items
