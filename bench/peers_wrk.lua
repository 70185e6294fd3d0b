-- wrk script of bench/peers.py: POSTs every pre-generated batch file exactly once, then stops.
--
--   wrk -tT -cC -dTIMEOUTs -s peers_wrk.lua URL -- DIR COUNT THREADS WRITE_PATH FILLER_PATH FILLER_STATUS
--
-- Thread k (0-based) sends the batches DIR/b<i>.lp with i % THREADS == k, in order, over its
-- C/T connections. wrk cannot idle a connection, so once a thread's batches are all sent its
-- other connections send FILLER_PATH (a cheap GET answering FILLER_STATUS, which no write
-- answers) until the last write is acknowledged; fillers are not counted. A thread writes
-- DIR/done-<k> ("start_ns end_ns writes failed first_error", CLOCK_MONOTONIC from its first
-- write to its last acknowledgement) and stops; bench/peers.py waits for every done file and
-- then interrupts wrk, whose own clock would run for the whole -d.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } peers_timespec;
int clock_gettime(int clk_id, peers_timespec *tp);
]]
local ts = ffi.new("peers_timespec")

local function now_ns()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC, as Python's time.monotonic_ns()
  return tonumber(ts.tv_sec) * 1e9 + tonumber(ts.tv_nsec)
end

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local function finish()
  local f = assert(io.open(string.format("%s/done-%d", dir, id), "w"))
  f:write(string.format("%.0f %.0f %d %d %s\n", t_start or 0, now_ns(), done, failed, first_error or ""))
  f:close()
  wrk.thread:stop()
end

function init(args)
  -- args[0] is the URL
  dir, nthreads = args[1], tonumber(args[3])
  local count = tonumber(args[2])
  filler_status = tonumber(args[6])
  reqs = {}
  for i = id, count - 1, nthreads do
    local f = assert(io.open(string.format("%s/b%06d.lp", dir, i), "rb"))
    reqs[#reqs + 1] = wrk.format("POST", args[4], { ["Content-Type"] = "text/plain; charset=utf-8" }, f:read("*a"))
    f:close()
  end
  filler = wrk.format("GET", args[5])
  nextreq, done, failed = 1, 0, 0
  -- wrk builds thread 0's first request once only to check it parses: give it a filler.
  verify_pending = (id == 0)
  if #reqs == 0 then finish() end
end

function request()
  if verify_pending then
    verify_pending = false
    return filler
  end
  if nextreq > #reqs then
    return filler
  end
  if nextreq == 1 then t_start = now_ns() end
  local r = reqs[nextreq]
  reqs[nextreq] = false
  nextreq = nextreq + 1
  return r
end

function response(status, headers, body)
  if status == filler_status then return end
  done = done + 1
  if status < 200 or status > 299 then
    failed = failed + 1
    first_error = first_error or (status .. " " .. body:sub(1, 200):gsub("%s+", " "))
  end
  if done == #reqs then finish() end
end
