# frozen_string_literal: true

require "test_helper"

class ThreadsTest < Minitest::Test
  include H2TestHelpers

  DELAY_MS = 500

  def timed
    t0 = monotonic
    yield
    monotonic - t0
  end

  # Blocking calls release the GVL: 8 threads each waiting 500 ms on the server overlap,
  # so the whole takes about one request's time, not eight.
  def test_eight_threads_overlap
    c = client
    c.get("/") # connection established outside the measurements
    single = timed { assert_equal 200, c.get("/delay/#{DELAY_MS}").status }
    assert_operator single, :>=, DELAY_MS / 1000.0

    statuses = Array.new(8)
    total = timed do
      8.times.map { |i| Thread.new { statuses[i] = c.get("/delay/#{DELAY_MS}").status } }
               .each(&:join)
    end
    assert_equal [200] * 8, statuses
    assert_operator total, :<, 2 * single,
                    "8 concurrent requests took #{total.round(3)} s, one took #{single.round(3)} s"
  end

  # The same with the streaming path (h2_call_wait_headers / h2_call_read).
  def test_eight_threads_overlap_block_form
    c = client
    c.get("/")
    single = timed { c.get("/delay/#{DELAY_MS}") { |_| nil } }
    total = timed do
      8.times.map { Thread.new { c.get("/delay/#{DELAY_MS}") { |_| nil } } }.each(&:join)
    end
    assert_operator total, :<, 2 * single
  end

  # A Ruby thread that does not call the library keeps running while others wait in it.
  def test_other_ruby_threads_run_during_a_request
    c = client
    c.get("/")
    ticks = 0
    done = false
    ticker = Thread.new do
      until done
        ticks += 1
        sleep 0.01
      end
    end
    c.get("/delay/#{DELAY_MS}")
    done = true
    ticker.join
    assert_operator ticks, :>=, 20
  end

  # A blocking C call cannot be interrupted: Thread#raise takes effect when it returns. The
  # response that was in flight is freed, and the client keeps working.
  def test_thread_raise_takes_effect_after_the_call
    c = client
    c.get("/")
    t = Thread.new do
      Thread.current.report_on_exception = false
      c.get("/delay/#{DELAY_MS}")
    end
    sleep 0.1
    t0 = monotonic
    t.raise(RuntimeError, "interrupted")
    err = assert_raises(RuntimeError) { t.join }
    assert_equal "interrupted", err.message
    assert_operator monotonic - t0, :>=, (DELAY_MS - 150) / 1000.0
    assert_equal 200, c.get("/").status
    assert_equal 0, settled_stats(c) { |st| st[:streams_active].zero? }[:streams_active]
  end

  # Ctrl-C works the same way: the trap (here raising like the default SIGINT handler)
  # runs when the blocking call returns, before the binding has taken the response, which
  # is then freed, for both the buffered and the streaming path.
  def test_signal_during_a_request
    c = client
    c.get("/")
    previous = trap("USR2") { raise Interrupt, "from trap" }
    [false, true].each do |streaming|
      Thread.new do
        sleep 0.1
        Process.kill("USR2", Process.pid)
      end
      t0 = monotonic
      assert_raises(Interrupt) do
        streaming ? c.get("/delay/300") { |_| nil } : c.get("/delay/300")
      end
      assert_operator monotonic - t0, :>=, 0.25
      assert_equal 200, c.get("/").status
    end
    assert_equal 0, settled_stats(c) { |st| st[:streams_active].zero? }[:streams_active]
  ensure
    trap("USR2", previous || "DEFAULT")
  end

  def test_shared_client_many_threads_mixed_requests
    c = client
    errors = Queue.new
    threads = 16.times.map do |t|
      Thread.new do
        50.times do |i|
          n = (t * 50) + i
          case i % 4
          when 0
            errors << [t, i] unless c.get("/bytes/#{n}").body == pattern(n)
          when 1
            body = "t#{t}-i#{i}"
            errors << [t, i] unless c.post("/echo", body: body).body == body
          when 2
            got = +""
            c.get("/bytes/#{n}") { |chunk| got << chunk }
            errors << [t, i] unless got == pattern(n)
          else
            errors << [t, i] unless c.get("/status/#{200 + (n % 300)}").status == 200 + (n % 300)
          end
        end
      rescue StandardError => e
        errors << e
      end
    end
    threads.each(&:join)
    list = []
    list << errors.pop until errors.empty?
    assert_empty list
    assert_equal 800, settled_stats(c) { |st| st[:requests_completed] == 800 }[:requests_completed]
  end

  # close while requests are in flight: they finish, new ones raise ClosedError, and the
  # native client is freed after the last one returns (never under a running call).
  def test_close_with_requests_in_flight
    c = H2Client::Client.new(url)
    c.get("/")
    results = Queue.new
    threads = 4.times.map do
      Thread.new do
        results << c.get("/delay/300").status
      rescue H2Client::Error => e
        results << e.class
      end
    end
    sleep 0.1
    c.close
    assert_raises(H2Client::ClosedError) { c.get("/") }
    threads.each(&:join)
    list = []
    list << results.pop until results.empty?
    assert_equal [200] * 4, list
  end

  # close racing requests that start on other threads: each request either completes or
  # raises ClosedError, none uses the client once freed (a crash), and the client is freed
  # once all have left (the one-free token is taken).
  def test_close_racing_new_requests
    20.times do |round|
      c = H2Client::Client.new(url)
      c.get("/")
      outcomes = Queue.new
      threads = 6.times.map do
        Thread.new do
          loop { outcomes << c.get("/").status }
        rescue H2Client::ClosedError
          outcomes << :closed
        end
      end
      sleep 0.001 * (round % 5)
      c.close
      threads.each(&:join)
      list = []
      list << outcomes.pop until outcomes.empty?
      assert_equal 6, list.count(:closed), "round #{round}"
      assert_equal [200], (list - [:closed]).uniq unless list.size == 6
      assert_empty c.instance_variable_get(:@inflight), "round #{round}"
      assert_empty c.instance_variable_get(:@free_once), "freed, round #{round}"
    end
  end

  def test_close_during_streaming_read
    c = H2Client::Client.new(url)
    got = 0
    c.get("/bytes/#{4 * 1024 * 1024}") do |chunk|
      c.close if got.zero?
      got += chunk.bytesize
    end
    assert_equal 4 * 1024 * 1024, got
    assert c.closed?
  end
end
