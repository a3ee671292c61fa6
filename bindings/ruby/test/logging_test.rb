# frozen_string_literal: true

require "test_helper"
require "logger"
require "stringio"

# H2Client.logger= and H2Client.on_log: the library's diagnostics (h2_set_log_callback) at
# the level asked for, from its threads; nothing once off; refusals inside the handler; a
# forked child; exit. The log sink is process-wide: every test turns it off again.
class LoggingTest < Minitest::Test
  include H2TestHelpers

  def teardown
    super
    H2Client.logger = nil
  end

  def collect(level)
    lines = Queue.new
    H2Client.on_log(level) { |lvl, target, message| lines << [lvl, target, message] }
    lines
  end

  def drain(queue)
    list = []
    list << queue.pop until queue.empty?
    list
  end

  def test_on_log_levels_and_off
    lines = collect(:info)
    assert_equal :info, H2Client.log_level
    assert_nil H2Client.logger
    c = client
    assert_equal 200, c.get("/").status
    got = drain(lines)
    assert(got.any? { |l, t, m| l == :info && t == "h2client" && m.include?("connected to") },
           got.inspect)
    assert(got.none? { |l, _, _| l == :debug }, "nothing above :info")
    got.each do |_, target, message|
      assert_equal Encoding::UTF_8, message.encoding
      assert_equal Encoding::UTF_8, target.encoding
    end

    lines = collect(:debug)
    c.get("/bytes/3")
    got = drain(lines)
    assert(got.any? { |l, _, m| l == :debug && m.include?("> :path: /bytes/3") }, got.inspect)
    assert(got.any? { |l, _, m| l == :debug && m.include?("< :status: 200") }, got.inspect)

    H2Client.on_log(:off) { |*| flunk "off" }
    assert_equal :off, H2Client.log_level
    c.get("/")
    client.get("/") # a new connection, which would log at :info
    assert_empty drain(lines), "nothing after logging was turned off"
    H2Client.on_log # no block: off too
    assert_equal :off, H2Client.log_level
  end

  def test_logger_gets_severities_and_targets
    out = StringIO.new
    logger = Logger.new(out, level: Logger::INFO)
    H2Client.logger = logger
    assert_same logger, H2Client.logger
    assert_equal :info, H2Client.log_level
    client.get("/")
    assert_match(/^I, \[.*\]  INFO -- h2client: conn \d+: connected to 127\.0\.0\.1:\d+$/,
                 out.string)
    refute_match(/DEBUG/, out.string)

    # A failed connection attempt is a warning.
    refused = H2Client::Client.new("http://127.0.0.1:#{free_port}")
    assert_raises(H2Client::ConnectError) { refused.get("/") }
    refused.close
    assert_match(/^W, .* WARN -- h2client: connect failed: .*refused/, out.string)

    # The logger's level at the time of the call sets the library's.
    H2Client.logger = Logger.new(out, level: Logger::DEBUG)
    assert_equal :debug, H2Client.log_level
    client.get("/echo")
    assert_match(/DEBUG -- h2client: conn \d+ stream \d+: > :path: \/echo$/, out.string)
    H2Client.logger = Logger.new(out, level: Logger::ERROR)
    assert_equal :error, H2Client.log_level
    H2Client.logger = Logger.new(out, level: Logger::WARN)
    assert_equal :warn, H2Client.log_level

    H2Client.logger = nil
    assert_nil H2Client.logger
    size = out.string.bytesize
    client.get("/")
    assert_equal size, out.string.bytesize
    assert_raises(TypeError) { H2Client.logger = $stderr.fileno }
    assert_raises(ArgumentError) { H2Client.on_log(:loud) { nil } }
  end

  def test_rustls_messages_name_their_module
    lines = collect(:trace)
    c = H2Client::Client.new(TestServer.tls[:url], ca_file: TestServer.tls[:ca])
    assert_equal 200, c.get("/").status
    c.close
    got = drain(lines)
    assert(got.any? { |_, t, _| t.start_with?("rustls") }, got.map { |_, t, _| t }.uniq.inspect)
    assert(got.any? { |l, _, m| l == :info && m.include?("TLS") }, got.inspect)
    assert(got.any? { |l, _, _| l == :trace })
  end

  # The handler runs on whatever thread logs: a library thread, or the waiting thread, which
  # runs its connection (README, "Threads").
  def test_handler_keeps_running_and_its_failures_are_reported_once
    threads = Queue.new
    H2Client.on_log(:info) do |_, _, _|
      threads << Thread.current
      raise "broken handler"
    end
    H2Client::Callbacks.instance_variable_set(:@log_failed, false)
    _, err = capture_io do
      client.get("/")
      client.get("/")
    end
    assert_equal 1, err.scan(/the log handler raised RuntimeError: broken handler/).size, err
    got = drain(threads)
    assert_operator got.size, :>=, 2, "both connections logged, the handler kept being called"
  ensure
    H2Client.logger = nil
    H2Client::Callbacks.instance_variable_set(:@log_failed, false)
  end

  def test_requests_and_log_changes_refused_inside_the_handler
    errors = Queue.new
    inner = client
    H2Client.on_log(:info) do |_, _, message|
      next unless message.include?("connected to")

      [-> { inner.get("/") }, -> { H2Client.logger = nil }, -> { H2Client.on_log(:debug) {} }]
        .each do |attempt|
          attempt.call
          errors << :no_error
        rescue H2Client::WrongThreadError => e
          errors << e.message
        end
    end
    client.get("/")
    got = drain(errors)
    assert_equal 3, got.size, got.inspect
    got.each { |e| assert_match(/inside an h2client callback/, e) }
    assert_equal :info, H2Client.log_level, "the handler stayed"
  end

  # ffi < 1.17 has no thread to run callbacks of library threads in a forked child until an
  # FFI::Function is made there: the binding makes one before the child's first client.
  # A request made in a signal trap handler while a log handler is set: the handler runs
  # (also on this thread, in the trap's context, where a Mutex raises ThreadError) and the
  # request completes.
  def test_request_from_a_trap_handler_while_logging
    lines = []
    H2Client.on_log(:trace) { |level, _target, _message| lines << level }
    c = client
    got = nil
    previous = trap("USR2") { got = [c.get("/").status, c.get("/bytes/100").body.bytesize] }
    Process.kill("USR2", Process.pid)
    deadline = monotonic + 10
    sleep 0.01 until got || monotonic > deadline
    assert_equal [200, 100], got
    refute_empty lines
  ensure
    trap("USR2", previous || "DEFAULT")
  end

  def test_forked_child_logs_without_hanging
    lines = collect(:info)
    client.get("/")
    drain(lines)
    pid = Process.fork do
      code = begin
        c = H2Client::Client.new(url, request_timeout_ms: 5_000)
        ok = c.get("/").status == 200
        got = drain(lines)
        ok && got.any? { |_, _, m| m.include?("connected to") } ? 0 : 1
      rescue Exception => e # rubocop:disable Lint/RescueException
        warn "child: #{e.class}: #{e.message}"
        2
      end
      exit!(code)
    end
    _, status = Process.wait2(pid)
    assert_equal 0, status.exitstatus
  end

  # At exit, logging is turned off before Ruby stops its threads and finalizes the unclosed
  # clients (whose closing connections would otherwise wait for ffi's stopped dispatcher).
  def test_logging_is_turned_off_at_exit
    status, out = run_ruby(<<~RUBY)
      require "h2client"
      at_exit { puts "at exit: \#{H2Client.log_level}" }
      H2Client.on_log(:debug) { |*| nil }
      H2Client::Client.new(#{url.dump}).get("/")
      puts "before: \#{H2Client.log_level}"
    RUBY
    assert status.success?, out
    assert_equal "before: debug\nat exit: off\n", out
  end
end
