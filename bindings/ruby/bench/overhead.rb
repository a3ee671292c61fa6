# frozen_string_literal: true

# CPU per request of the Ruby binding against the C API on the same request to the same
# server: N sequential GETs on one client from one thread, in alternating rounds.
#
#   taskset -c 1 ../../target/release/h2testserver --port 8080 &       # the server on CPU 1
#   H2CLIENT_LIB=$PWD/../../target/release/libh2client.so \
#     taskset -c 0 ruby -Ilib bench/overhead.rb http://127.0.0.1:8080/ [N [ROUNDS]]
#
#     URL      e.g. http://127.0.0.1:PORT/ or .../headers/20 (h2testserver)
#     N        requests per round (default 20000)
#     ROUNDS   rounds of each variant (default 5)
#
# The C side is bench/c_get.c, compiled at start with cc against include/h2client.h and
# linked to the very library file Ruby loaded (H2CLIENT_LIB, or a path pkg-config found);
# C_GET=path uses a ready binary instead. THREADS=path also runs the C example
# c-examples/build/threads as `threads -t 1 -n N URL` (its CPU time counts its start-up).
#
# For each variant: wall time and CPU time (all threads of the client process: the
# library's runtime threads included, the server excluded) per request, best and median
# over the rounds, and the best CPU time over C's. Variants:
#   C get                h2_request_new, h2_client_do, status, every header field and
#                        trailer (h2_*_at), body, URL, redirect count, decoded, frees: what
#                        Client#get copies out, in C (c_get.c; its loop timed by itself)
#   ruby Client#get      client.get(path): the Response (status, headers, body, trailers)
#   ruby get + header    client.get(path)["content-type"]: the header fields split too
#   ruby Client#get {}   h2_client_start + h2_call_wait_headers + h2_call_read (streaming)
#   ruby bare FFI        h2_request_new + h2_client_do + h2_response_free through the
#                        attached functions, nothing copied: the floor of an FFI binding
# The load average is printed before and after: the machine's other work shows there.

require "h2client"
require_relative "bare"
require "tmpdir"

url = ARGV.fetch(0) { abort "usage: overhead.rb URL [N [ROUNDS]]" }
n = Integer(ARGV.fetch(1, "20000"))
rounds = Integer(ARGV.fetch(2, "5"))
path = url[%r{\Ahttps?://[^/]+(/.*)\z}, 1] || "/"
origin = url[%r{\Ahttps?://[^/]+}] or abort "not an http(s) URL: #{url}"
root = File.expand_path("../../..", __dir__)

# The C program, built against the library Ruby loaded (same file, same code).
def build_c_get(root, dir)
  lib = File.expand_path(H2Client.library_path)
  unless File.file?(lib)
    abort "overhead.rb: the library was loaded as #{H2Client.library_path}; set H2CLIENT_LIB " \
          "to its full path (or C_GET to a built c_get)"
  end
  # The library's soname is libh2client.so.0: the link names it, the rpath finds it here.
  File.symlink(lib, File.join(dir, "libh2client.so.0"))
  File.symlink(lib, File.join(dir, "libh2client.so"))
  bin = File.join(dir, "c_get")
  cc = ENV.fetch("CC", "cc")
  ok = system(cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I#{root}/include",
              "-o", bin, File.join(__dir__, "c_get.c"), "-L#{dir}", "-lh2client",
              "-Wl,-rpath,#{dir}", "-lpthread", "-ldl", "-lm")
  ok or abort "overhead.rb: #{cc} failed to build c_get"
  bin
end

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

# [wall µs, cpu µs] per request as c_get measured its own loop.
def c_get_run(bin, origin, path, n, failures)
  out = IO.popen([bin, origin, path, n.to_s], err: %i[child out], &:read)
  m = out.match(/c_get: \d+ requests, wall ([\d.]+) us, cpu ([\d.]+) us, failed (\d+)/)
  raise "#{bin}: #{out}" unless m

  failures["C get"] += m[3].to_i
  [m[1].to_f, m[2].to_f]
end

# [wall µs, cpu µs] per request of the C example (its CPU time from the rusage of children).
def threads_run(bin, n, url, failures)
  t0 = Process.times
  w0 = now
  out = IO.popen([bin, "-t", "1", "-n", n.to_s, url], err: %i[child out], &:read)
  wall = now - w0
  failed = out[/(\d+) failed/, 1] or raise "#{bin} failed: #{out}"
  failures["C threads"] += failed.to_i
  t1 = Process.times
  cpu = (t1.cutime - t0.cutime) + (t1.cstime - t0.cstime)
  [wall * 1e6 / n, cpu * 1e6 / n]
end

def loadavg
  File.read("/proc/loadavg").split.first(3).join(" ")
rescue SystemCallError
  "?"
end

Dir.mktmpdir("h2client-bench") do |tmp|
  c_get = ENV["C_GET"] || build_c_get(root, tmp)
  threads_bin = ENV["THREADS"]
  client = H2Client::Client.new(origin)
  failures = Hash.new(0)
  # Failed requests are counted, not fatal (like the C programs').
  guarded = lambda do |name, &blk|
    blk.call
  rescue H2Client::Error => e
    failures["#{name}: #{e.code_name}: #{e.message}"] += 1
  end
  bare = bare_get(client, path)

  variants = { "C get" => ->(count) { c_get_run(c_get, origin, path, count, failures) } }
  if threads_bin
    variants["C threads -t 1"] = ->(count) { threads_run(threads_bin, count, url, failures) }
  end
  variants.merge!(
    "ruby Client#get" => lambda do |count|
      in_process(count) { guarded.call("get") { client.get(path) } }
    end,
    "ruby get + header" => lambda do |count|
      in_process(count) { guarded.call("get + header") { client.get(path)["content-type"] } }
    end,
    "ruby Client#get {}" => lambda do |count|
      in_process(count) { guarded.call("get {}") { client.get(path) { |_c| nil } } }
    end,
    "ruby bare FFI" => lambda do |count|
      in_process(count) { guarded.call("bare") { bare.call } }
    end
  )
  results = Hash.new { |h, k| h[k] = [] }
  load_before = loadavg
  variants.each_value { |v| v.call(1000) } # warm-up
  rounds.times do
    variants.each { |name, v| results[name] << v.call(n) }
  end

  median = ->(list) { list.sort[list.size / 2] }
  c_best = results["C get"].map(&:last).min
  puts "#{n} sequential GET #{path}, #{rounds} rounds, #{H2Client.library_path} " \
       "(h2client #{H2Client.library_version}, ruby #{RUBY_VERSION}, ffi #{FFI::VERSION})"
  puts "load average #{load_before} before, #{loadavg} after"
  puts format("%-20s %18s %18s %8s", "µs/request", "wall best (median)", "cpu best (median)",
              "cpu / C")
  results.each do |name, list|
    walls = list.map(&:first)
    cpus = list.map(&:last)
    puts format("%-20s %8.1f (%7.1f) %8.1f (%7.1f) %7.2fx", name, walls.min, median.call(walls),
                cpus.min, median.call(cpus), cpus.min / c_best)
  end
  failures.each { |what, count| puts "failed: #{count} x #{what}" if count.positive? }
  client.close
end
