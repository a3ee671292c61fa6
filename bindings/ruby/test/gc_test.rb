# frozen_string_literal: true

require "test_helper"

class GCTest < Minitest::Test
  include H2TestHelpers

  def open_fds
    Dir.children("/proc/self/fd").size
  end

  # Runs GC until the finalizers of unreachable clients had a chance to run.
  def collect
    5.times do
      GC.start(full_mark: true, immediate_sweep: true)
      sleep 0.05 # finalizers run right after GC, at the next interrupt check
    end
  end

  def make_garbage_clients(count)
    count.times do |i|
      c = H2Client::Client.new(url)
      next if i % 3 == 2 # some never connect

      res = c.get("/bytes/#{i}")
      raise "bad body" unless res.body == pattern(i)
    end
    nil
  end

  # Clients dropped without close are freed by their finalizers (connections closed), and
  # creating, using and dropping many of them never crashes.
  def test_unclosed_clients_are_freed_by_gc
    make_garbage_clients(10) # warm up the runtime
    collect
    before = open_fds
    # No collection while they are made: one (its timing depends on the heap that earlier
    # tests left) would free some before they are counted.
    GC.disable
    begin
      make_garbage_clients(300)
      during = open_fds
    ensure
      GC.enable
    end
    collect
    after = open_fds
    assert_operator during, :>, before + 100, "expected open connections before GC"
    # The conservative GC may keep a few alive from the stack.
    assert_operator after, :<, before + 30,
                    "fds: before #{before}, during #{during}, after #{after}"
  end

  def test_many_responses_and_calls_dropped
    c = client
    2000.times do |i|
      case i % 4
      when 0 then c.get("/bytes/#{i % 100}")
      when 1 then c.get("/trailers").trailers
      when 2 then c.get("/bytes/1000") { |_| nil }
      else
        c.get("/bytes/#{1 << 20}") { |_| break } # abandoned mid-body: call cancelled and freed
      end
      GC.start if (i % 250).zero?
    end
    collect
    assert_equal 200, c.get("/").status
    stats = settled_stats(c) { |st| st[:streams_active].zero? }
    assert_equal 0, stats[:streams_active]
    # (No check of connections_opened: the server may answer 500 cancelled streams with
    # GOAWAY(ENHANCE_YOUR_CALM), its rapid-reset defence.)
  end

  # Every Ruby object the binding creates must be reachable while native code uses it:
  # GC.stress collects at every allocation (slow: a few representative requests).
  def test_requests_under_gc_stress
    c = client
    c.get("/")
    stressed = lambda do |&blk|
      GC.stress = true
      blk.call
    ensure
      GC.stress = false
    end
    res = stressed.call { c.get("/bytes/100") }
    assert_equal pattern(100), res.body
    got = +""
    stressed.call { c.get("/bytes/70000") { |chunk| got << chunk } }
    assert_equal pattern(70_000), got
    res = stressed.call { c.post("/echo", body: ["y" * 1000].each) }
    assert_equal "y" * 1000, res.body
    err = stressed.call do
      c.get("/reset/2")
    rescue H2Client::StreamResetError => e
      e
    end
    assert_equal 2, err.h2_error
  end

  def rss_mb
    File.read("/proc/self/status")[/VmRSS:\s+(\d+)/, 1].to_i / 1024
  end

  # An interrupt pending while h2_client_do waits is raised as soon as the call returns,
  # before the binding has taken the response: the response must still be freed. 25 x
  # 4 MB responses would leak 100 MB.
  def test_interrupted_requests_do_not_leak_responses
    c = client
    c.get("/")
    path = "/slow-bytes/4000000/3999999/150" # 4 MB at once, the last byte 150 ms later
    2.times { c.get(path) }
    GC.start
    before = rss_mb
    interrupted = 0
    25.times do
      t = Thread.new do
        Thread.current.report_on_exception = false
        c.get(path)
      end
      sleep 0.05
      # On a loaded machine the request may be over before the interrupt lands (the sleep
      # overslept): that round checks nothing, the others do.
      t.raise(RuntimeError, "interrupted") if t.alive?
      begin
        t.join
      rescue RuntimeError
        interrupted += 1
      end
    end
    assert_operator interrupted, :>, 10, "requests interrupted in flight"
    GC.start
    growth = rss_mb - before
    assert_operator growth, :<, 40, "RSS grew by #{growth} MB"
  end

  def test_compaction
    c = client
    c.get("/")
    make_garbage_clients(20)
    GC.compact if GC.respond_to?(:compact)
    assert_equal pattern(1000), c.get("/bytes/1000").body
    assert_equal "abc", c.post("/echo", body: "abc").body
  end

  # Unclosed clients, some with connections, one with a request in flight in another
  # thread, at interpreter exit: finalizers run h2_client_free; the process must exit
  # without crashing or hanging. (Ruby waits for the thread in h2_client_do: a blocking C
  # call cannot be interrupted, so exit takes until the 1 s request ends.)
  def test_exit_with_unclosed_clients
    code = <<~RUBY
      require "h2client"
      clients = 50.times.map { H2Client::Client.new(#{url.inspect}) }
      clients.each_with_index { |c, i| c.get("/bytes/\#{i}") if i.even? }
      c = H2Client::Client.new(#{url.inspect})
      Thread.new { c.get("/delay/1000") rescue nil }
      sleep 0.2
      puts "exiting"
    RUBY
    t0 = monotonic
    status, out = run_ruby(code, timeout: 30)
    assert status.success?, "exit #{status.inspect}: #{out}"
    assert_equal "exiting\n", out
    assert_operator monotonic - t0, :<, 8
  end
end
