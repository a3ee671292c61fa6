# frozen_string_literal: true

require "test_helper"
require "raw_h2_server"

# on_informational: 1xx responses (103 Early Hints) from a scripted server reach the client's
# callable or the request's, run from a library thread; an exception in one is raised by
# the request; the max_informational_responses defence.
class InformationalTest < Minitest::Test
  include H2TestHelpers

  STYLE = "</style.css>; rel=preload; as=style"
  SCRIPT = "</app.js>; rel=preload; as=script"

  def setup
    # Every request: 103 (two link fields), 100, then 200 "done".
    @server = RawH2Server.new do |conn, id|
      conn.headers(id, [[":status", "103"], ["link", STYLE], ["link", SCRIPT]])
      conn.headers(id, [[":status", "100"]])
      conn.headers(id, [[":status", "200"], ["x-final", "1"]])
      conn.data(id, "done", end_stream: true)
    end
  end

  def teardown
    super
    @server&.close
  end

  def raw_client(**opts)
    c = H2Client::Client.new(@server.url, request_timeout_ms: 10_000, **opts)
    (@clients ||= []) << c
    c
  end

  def recorder
    seen = Queue.new
    [seen, ->(status, headers) { seen << [status, headers] }]
  end

  def drain(queue)
    list = []
    list << queue.pop until queue.empty?
    list
  end

  EXPECTED = [[103, { "link" => "#{STYLE}, #{SCRIPT}" }], [100, {}]].freeze

  def test_client_callable_sees_each_informational_head_in_order
    seen, hook = recorder
    c = raw_client(on_informational: hook)
    assert_same hook, c.on_informational
    res = c.get("/")
    assert_equal [200, "done"], [res.status, res.body]
    assert_equal "1", res["x-final"]
    assert_nil res["link"], "1xx fields stay out of the final head"
    assert_equal EXPECTED, drain(seen)
    # Every request of the client, the streaming form too.
    body = +""
    c.get("/") { |chunk, _| body << chunk }
    assert_equal "done", body
    assert_equal EXPECTED, drain(seen)
  end

  # A request with a hook, made in a signal trap handler (where Ruby refuses a Mutex): the
  # hook runs and the request completes. (The callback function already exists: the first
  # hook of the process makes it under a lock.)
  def test_hook_in_a_request_from_a_trap_handler
    seen, hook = recorder
    c = raw_client
    assert_equal 200, c.get("/", on_informational: hook).status
    assert_equal EXPECTED, drain(seen)
    got = nil
    previous = trap("USR2") { got = c.get("/", on_informational: hook).status }
    Process.kill("USR2", Process.pid)
    deadline = monotonic + 10
    sleep 0.01 until got || monotonic > deadline
    assert_equal 200, got
    assert_equal EXPECTED, drain(seen)
  ensure
    trap("USR2", previous || "DEFAULT")
  end

  def test_request_callable_overrides_the_clients_and_false_turns_it_off
    by_client, client_hook = recorder
    by_request, request_hook = recorder
    c = raw_client(on_informational: client_hook)
    assert_equal 200, c.get("/", on_informational: request_hook).status
    assert_equal EXPECTED, drain(by_request)
    assert_empty drain(by_client)
    assert_equal 200, c.post("/", body: "x", on_informational: false).status
    assert_empty drain(by_client)
    # A client without one: only the request's.
    assert_equal 200, raw_client.request(:get, "/", on_informational: request_hook).status
    assert_equal EXPECTED, drain(by_request)
    # Without any, 1xx responses are dropped.
    assert_equal "done", raw_client.get("/").body
  end

  # The waiting thread runs its connection (README, "Threads"), so the callable may run on it
  # (inside the request) or on a library thread; either way before the request returns.
  def test_callable_runs_while_the_request_waits
    threads = Queue.new
    c = raw_client(on_informational: ->(_s, _h) { threads << Thread.current })
    c.get("/")
    got = drain(threads)
    assert_equal 2, got.size
    got.each { |t| assert_kind_of Thread, t }
  end

  def test_exception_in_callable_is_raised_by_the_request
    calls = 0
    boom = lambda do |status, _headers|
      calls += 1
      raise ArgumentError, "bad hint #{status}"
    end
    c = raw_client(on_informational: boom)
    err = assert_raises(ArgumentError) { c.get("/") }
    assert_equal "bad hint 103", err.message
    assert_equal 1, calls, "not called again once it raised"
    # Streaming: raised before the body reaches the block.
    err = assert_raises(ArgumentError) { c.get("/") { flunk "the body must not be read" } }
    assert_equal "bad hint 103", err.message
    # The client goes on.
    assert_equal "done", c.get("/", on_informational: false).body
  end

  def test_request_from_inside_the_callable_is_refused
    c = raw_client
    inner = raw_client
    err = assert_raises(H2Client::WrongThreadError) do
      c.get("/", on_informational: ->(_s, _h) { inner.get("/") })
    end
    assert_match(/inside an h2client callback/, err.message)
    assert_kind_of H2Client::Error, err
    # Also from a Fiber of the callback's thread.
    assert_raises(H2Client::WrongThreadError) do
      c.get("/", on_informational: ->(_s, _h) { Fiber.new { inner.get("/") }.resume })
    end
    assert_equal "done", inner.get("/").body
  end

  def test_hooks_are_forgotten_once_requests_return
    hooks = H2Client::Callbacks.instance_variable_get(:@hooks)
    c = raw_client(on_informational: ->(_s, _h) {})
    5.times { c.get("/") }
    failing = ->(_s, _h) { raise ArgumentError }
    assert_raises(ArgumentError) { c.get("/", on_informational: failing) }
    assert_empty hooks
  end

  def test_callable_type_checked
    assert_raises(TypeError) { H2Client::Client.new(@server.url, on_informational: "x") }
    assert_raises(TypeError) { raw_client.get("/", on_informational: 42) }
  end

  def test_max_informational_responses
    @server.close
    @server = RawH2Server.new do |conn, id|
      3.times { conn.headers(id, [[":status", "103"]]) }
      conn.headers(id, [[":status", "200"]])
      conn.data(id, "done", end_stream: true)
    end
    seen, hook = recorder
    c = raw_client(max_informational_responses: 2, on_informational: hook)
    err = assert_raises(H2Client::ProtocolError) { c.get("/") }
    assert_match(/informational/, err.message)
    assert_equal 2, drain(seen).size
    assert_equal 1, c.stats[:limit_informational_flood]
    # The default (16) lets three through.
    assert_equal "done", raw_client(on_informational: hook).get("/").body
    assert_equal 3, drain(seen).size
    assert_raises(H2Client::InvalidArgumentError) do
      H2Client::Client.new(@server.url, max_informational_responses: 0)
    end
  end
end
