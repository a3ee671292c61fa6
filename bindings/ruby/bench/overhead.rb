# frozen_string_literal: true

# Per-request cost of the Ruby binding against the C API: N sequential GETs on one client
# from one thread, on the same server, in alternating rounds.
#
#   ruby -Ilib bench/overhead.rb URL [N [ROUNDS [THREADS_BINARY]]]
#     URL             e.g. http://127.0.0.1:PORT/ (h2testserver)
#     N               requests per round (default 20000)
#     ROUNDS          rounds of each variant (default 3)
#     THREADS_BINARY  the C example (default ../../c-examples/build/threads), run as
#                     `threads -t 1 -n N URL`
#
# For each variant: wall time and CPU time (all threads of the client process: the
# library's runtime threads included, the server excluded) per request, best and median
# over the rounds. Variants:
#   C threads            h2_client_do from C
#   ruby Client#get      h2_client_do + status, headers and body copied into a Response
#   ruby Client#get {}   h2_client_start + h2_call_wait_headers + h2_call_read (streaming)
#   ruby bare FFI        h2_request_new + h2_client_do + h2_response_free through the
#                        attached functions, nothing copied: the floor of an FFI binding

require "h2client"

url = ARGV.fetch(0) { abort "usage: overhead.rb URL [N [ROUNDS [THREADS_BINARY]]]" }
n = Integer(ARGV.fetch(1, "20000"))
rounds = Integer(ARGV.fetch(2, "3"))
threads_bin = ARGV.fetch(3) { File.expand_path("../../../c-examples/build/threads", __dir__) }
abort "no C example at #{threads_bin} (make -C c-examples)" unless File.executable?(threads_bin)
path = url[%r{\Ahttps?://[^/]+(/.*)\z}, 1] || "/"

def now(clock = Process::CLOCK_MONOTONIC)
  Process.clock_gettime(clock)
end

# [wall µs, cpu µs] per request of n calls of the block, in this process.
def in_process(n)
  w0 = now
  c0 = now(Process::CLOCK_PROCESS_CPUTIME_ID)
  n.times { yield }
  [(now - w0) * 1e6 / n, (now(Process::CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e6 / n]
end

# [wall µs, cpu µs] per request of the C example (its CPU time from the rusage of children).
def c_run(bin, n, url, failures)
  t0 = Process.times
  w0 = now
  out = IO.popen([bin, "-t", "1", "-n", n.to_s, url], err: %i[child out], &:read)
  wall = now - w0
  failed = out[/(\d+) failed/, 1] or raise "#{bin} failed: #{out}"
  out.scan(/^threads: +(H2_E_\w+): (\d+)$/) { |code, count| failures["C: #{code}"] += count.to_i }
  raise "#{bin}: #{out}" if failed.to_i.positive? && failures.empty?

  t1 = Process.times
  cpu = (t1.cutime - t0.cutime) + (t1.cstime - t0.cstime)
  [wall * 1e6 / n, cpu * 1e6 / n]
end

client = H2Client::Client.new(url)
failures = Hash.new(0)
# Failed requests are counted, not fatal (like the C example's).
guarded = lambda do |name, &blk|
  blk.call
rescue H2Client::Error => e
  failures["#{name}: #{e.code_name}: #{e.message}"] += 1
end
lib = H2Client::Lib
raw = client.instance_variable_get(:@ptr)
out = FFI::MemoryPointer.new(:pointer)
bare = lambda do
  req = lib.h2_request_new("GET", path)
  rc = lib.h2_client_do(raw, req, out)
  raise H2Client::Error.last(rc) unless rc.zero?

  lib.h2_response_free(out.get_pointer(0))
  lib.h2_request_free(req)
end

variants = {
  "C threads -t 1" => ->(count) { c_run(threads_bin, count, url, failures) },
  "ruby Client#get" => lambda do |count|
    in_process(count) { guarded.call("get") { client.get(path) } }
  end,
  "ruby Client#get {}" => lambda do |count|
    in_process(count) { guarded.call("get {}") { client.get(path) { |_c| nil } } }
  end,
  "ruby bare FFI" => lambda do |count|
    in_process(count) { guarded.call("bare") { bare.call } }
  end
}
results = Hash.new { |h, k| h[k] = [] }
variants.each_value { |v| v.call(1000) } # warm-up
rounds.times do
  variants.each { |name, v| results[name] << v.call(n) }
end

def median(list)
  s = list.sort
  s[s.size / 2]
end

puts "#{n} sequential GET #{path}, #{rounds} rounds; µs/request: best (median)"
puts format("%-20s %18s %18s", "", "wall", "cpu")
results.each do |name, list|
  walls = list.map(&:first)
  cpus = list.map(&:last)
  puts format("%-20s %8.1f (%7.1f) %8.1f (%7.1f)", name, walls.min, median(walls),
              cpus.min, median(cpus))
end
failures.each { |what, count| puts "failed: #{count} x #{what}" }
client.close
