# frozen_string_literal: true

require "test_helper"

class ForkTest < Minitest::Test
  include H2TestHelpers

  # Exit codes of the child, one per failed check.
  CHILD_OK = 0
  CHILD_NO_FORKED_ERROR = 10
  CHILD_WRONG_ERROR = 11
  CHILD_NEW_CLIENT_FAILED = 12
  CHILD_STREAM_FAILED = 13
  CHILD_EXCEPTION = 14

  # Runs the block in a forked child and returns its exit status. The child leaves with
  # exit! (no at_exit handlers: minitest's, the test server's) and the block's Integer.
  def in_child
    pid = Process.fork do
      code = begin
        yield
      rescue Exception => e # rubocop:disable Lint/RescueException
        warn "child: #{e.class}: #{e.message}\n  #{e.backtrace.first(5).join("\n  ")}"
        CHILD_EXCEPTION
      end
      $stderr.flush
      exit!(code)
    end
    _, status = Process.wait2(pid)
    status
  end

  def test_fork_parent_client_raises_forked_new_client_works
    parent = client
    assert_equal 200, parent.get("/").status # connections and runtime exist before fork

    status = in_child do
      begin
        parent.get("/")
        next CHILD_NO_FORKED_ERROR
      rescue H2Client::ForkedError => e
        next CHILD_WRONG_ERROR unless e.code == 17 && e.code_name == "H2_E_FORKED" &&
                                      e.processed == :no
      rescue H2Client::Error => e
        warn "child: #{e.class}: #{e.message}"
        next CHILD_WRONG_ERROR
      end
      # The streaming path and stats refuse too.
      begin
        parent.get("/bytes/10") { nil }
        next CHILD_NO_FORKED_ERROR
      rescue H2Client::ForkedError
        nil
      end

      child = H2Client::Client.new(url)
      res = child.get("/bytes/1000")
      next CHILD_NEW_CLIENT_FAILED unless res.status == 200 && res.body == pattern(1000)

      got = +""
      child.get("/bytes/300000") { |chunk| got << chunk }
      next CHILD_STREAM_FAILED unless got == pattern(300_000)

      child.close
      parent.close # frees (leaks) the parent's native client without touching its threads
      CHILD_OK
    end
    assert status.exited?, "child did not exit normally: #{status.inspect}"
    assert_equal CHILD_OK, status.exitstatus

    # The parent's client is unaffected by the child.
    res = parent.get("/bytes/5000")
    assert_equal 200, res.status
    assert_equal pattern(5000), res.body
  end

  # Fork while another thread of the parent waits in a request: the child works, the
  # parent's request completes.
  def test_fork_with_a_request_in_flight
    parent = client
    parent.get("/")
    waiter = Thread.new { parent.get("/delay/400").status }
    sleep 0.1
    status = in_child do
      res = H2Client::Client.new(url).get("/")
      res.status == 200 ? CHILD_OK : CHILD_NEW_CLIENT_FAILED
    end
    assert_equal CHILD_OK, status.exitstatus
    assert_equal 200, waiter.value
    assert_equal 200, parent.get("/").status
  end

  def test_several_children
    parent = client
    parent.get("/")
    pids = 4.times.map do |i|
      Process.fork do
        c = H2Client::Client.new(url)
        ok = c.get("/bytes/#{i + 1}").body == pattern(i + 1)
        exit!(ok ? 0 : 1)
      end
    end
    statuses = pids.map { |pid| Process.wait2(pid).last.exitstatus }
    assert_equal [0] * 4, statuses
    assert_equal 200, parent.get("/").status
  end

  # A child that exits normally runs finalizers for the parent's (unclosed) client and
  # its own: neither may hang nor crash. Run in a fresh process, without minitest.
  def test_child_exits_normally_with_unclosed_clients
    code = <<~RUBY
      require "h2client"
      parent = H2Client::Client.new(#{url.inspect})
      parent.get("/")
      pid = fork do
        begin
          parent.get("/")
          exit 3
        rescue H2Client::ForkedError
        end
        mine = H2Client::Client.new(#{url.inspect})
        exit 4 unless mine.get("/").status == 200
        # parent and mine are left to the finalizers at exit
      end
      Process.wait(pid)
      exit $?.exitstatus unless $?.success?
      exit 5 unless parent.get("/").status == 200
      puts "ok"
    RUBY
    status, out = run_ruby(code, timeout: 30)
    assert status.success?, "exit #{status.exitstatus}: #{out}"
    assert_equal "ok\n", out
  end
end
