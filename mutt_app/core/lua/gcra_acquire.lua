-- include mutt_app.core:now_ms
-- include mutt_app.core:gcra
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now_ms())
